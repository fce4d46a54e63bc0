#!/usr/bin/env bash
# The whole test suite: the one command a new user (and CI, via .ci/run) runs.
# Builds in a target folder outside the clone by default so repeated runs reuse
# compiled dependencies; set CARGO_TARGET_DIR to choose another.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/flowlake-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo test --locked "$@"
