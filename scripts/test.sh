#!/usr/bin/env bash
# The whole test suite: the one command a new user (and CI, via .ci/run) runs.
#
# - Builds in a target folder outside the clone by default, so repeated runs
#   reuse compiled dependencies (set CARGO_TARGET_DIR to choose another).
# - Makes a Python virtual environment with the independent tools the tests
#   use (tests/py/requirements.txt: sqlglot, pyspark, moto, duckdb, pyarrow, polars,
#   mmdb-writer, maxminddb), once. Spark needs a Java runtime; it is installed
#   with apt if missing. A real country database (scripts/geo-db.sh), once.
# - Starts two S3 protocol servers (moto) on free loopback ports, one open and
#   one that checks credentials, and stops them on exit.
# - Without arguments, first checks formatting (cargo fmt --check), lints
#   (clippy, warnings as errors) and the build without default features.
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
# A real country database for the enrichment tests (downloaded once, checked).
FLOWLAKE_GEO_DB=$(scripts/geo-db.sh)
export FLOWLAKE_GEO_DB
export SPARK_LOCAL_IP=127.0.0.1

# S3 servers on loopback. The tests' AWS settings are fixed here so that no
# real account, profile or instance metadata endpoint is ever consulted.
logs=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$logs"; }
trap cleanup EXIT
start_moto() { # start_moto VAR NAME [ENV=VALUE...]: starts a server, exports its URL as VAR
  local var=$1 name=$2; shift 2
  local port
  port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  env "$@" "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$logs/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    if "$venv/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
      export "$var=http://127.0.0.1:$port"
      return
    fi
    sleep 0.1
  done
  echo "scripts/test.sh: moto_server ($name) did not start:" >&2
  cat "$logs/$name.log" >&2
  exit 1
}
start_moto FLOWLAKE_S3_ENDPOINT open
start_moto FLOWLAKE_S3_AUTH_ENDPOINT auth INITIAL_NO_AUTH_ACTION_COUNT=0
export AWS_ACCESS_KEY_ID=flowlake-test AWS_SECRET_ACCESS_KEY=flowlake-test AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_WEB_IDENTITY_TOKEN_FILE || true

# Checks first when the whole suite runs (arguments select tests; then only they run):
# formatting, lints as errors, and the conversion-only build without S3 and DataFusion.
if [ "$#" -eq 0 ]; then
  cargo fmt --check
  cargo clippy --locked --all-targets -- -D warnings
  cargo build --locked --no-default-features
fi
cargo test --locked "$@"
