#!/usr/bin/env bash
# flowlake against DuckDB, pyarrow and polars on the same generated flow logs, in one run.
#
#   scripts/bench.sh [RECORDS] [ROUNDS]      defaults: 6000000 records (3 days, 96 files a day), 3 rounds
#
# Builds flowlake (release), generates the sample with `flowlake generate`, installs
# the peers with pip into its own virtual environment, installs libdeflate-gunzip
# (the decompression floor) with apt if missing, and prints the table; the JSON goes
# to bench-results.json. Set BENCH_SCALE_CHECK=1 to also convert a 4x sample (memory
# check) and the whole sample as one gzip file (both cores on one file).
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-6000000}
rounds=${2:-3}
threads=${BENCH_THREADS:-2}
work=${BENCH_DIR:-/var/tmp/flowlake-bench}
venv=${BENCH_VENV:-/var/tmp/flowlake-bench-py}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/flowlake-target}"

cargo build --release --locked
bin="$CARGO_TARGET_DIR/release/flowlake"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import duckdb, pyarrow, polars' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/bench-requirements.txt
fi
command -v libdeflate-gunzip >/dev/null || { apt-get update -qq && apt-get install -y -qq libdeflate-tools; }

mkdir -p "$work"
sample="$work/sample-$records"
if [ ! -f "$sample/_flowlake-sample.json" ] || [ ! -f "$sample/_lookup/ip-ranges.json" ]; then
  rm -rf "$sample"
  "$bin" generate "$sample" --records "$records" --days 3 --files-per-day 96 --lookup-tables
fi
geo_db=$(scripts/geo-db.sh)
extra=()
if [ "${BENCH_SCALE_CHECK:-0}" = 1 ]; then
  big="$work/sample-$((records * 4))"
  if [ ! -f "$big/_flowlake-sample.json" ]; then
    rm -rf "$big"
    "$bin" generate "$big" --records $((records * 4)) --days 12 --files-per-day 96
  fi
  single="$work/single-$records.log.gz"
  [ -f "$single" ] || find "$sample" -name '*.log.gz' | sort | xargs cat > "$single"
  extra=(--big-sample "$big" --single-file "$single")
fi
"$venv/bin/python" scripts/bench.py --flowlake "$bin" --sample "$sample" --work "$work" --records "$records" \
  --threads "$threads" --rounds "$rounds" --json bench-results.json --lookup "$sample/_lookup" --geo-db "$geo_db" \
  "${extra[@]}"
