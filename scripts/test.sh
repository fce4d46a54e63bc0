#!/usr/bin/env bash
# The whole test suite: the one command a new user (and CI, via .ci/run) runs.
#
# - Builds in a target folder outside the clone by default, so repeated runs
#   reuse compiled dependencies (set CARGO_TARGET_DIR to choose another).
# - Makes a Python virtual environment with the independent checkers the
#   tests use (sqlglot, pyspark: tests/py/requirements.txt), once; Spark also
#   needs a Java runtime (java on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/flowlake-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

venv="${FLOWLAKE_VENV:-/var/tmp/flowlake-py}"
req=tests/py/requirements.txt
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$stamp"; then
  echo "scripts/test.sh: installing the test tools ($req) into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
fi
if ! command -v java >/dev/null 2>&1; then
  echo "scripts/test.sh: Spark needs a Java runtime; installing one" >&2
  (apt-get update -qq && apt-get install -y -qq default-jre-headless) >&2
fi
export FLOWLAKE_PYTHON="$venv/bin/python"
export SPARK_LOCAL_IP=127.0.0.1

cargo test --locked "$@"
