"""flowlake against the tools users would pick instead, on the same files, in one run.

Called by scripts/bench.sh (which builds flowlake, generates the sample and owns the
virtual environment with duckdb, pyarrow and polars). Prints a Markdown table and
writes the results as JSON.

Each contender converts the same gzip flow logs into date-partitioned Parquet
(hive `date=YYYY-MM-DD`, by the UTC day of `start`), zstd level 3, with the same
thread count, and must produce the same number of rows. Wall time is the median
of the rounds; peak RSS is the child process's maximum resident set size.
"""

import argparse
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# The default (version 2) format's columns and AWS's Parquet types.
COLUMNS = [
    ("version", "int32"), ("account_id", "string"), ("interface_id", "string"), ("srcaddr", "string"),
    ("dstaddr", "string"), ("srcport", "int32"), ("dstport", "int32"), ("protocol", "int32"),
    ("packets", "int64"), ("bytes", "int64"), ("start", "int64"), ("end", "int64"),
    ("action", "string"), ("log_status", "string"),
]

PYARROW = r'''
import glob, sys, pyarrow as pa, pyarrow.csv as csv, pyarrow.compute as pc, pyarrow.dataset as ds, pyarrow.parquet as pq
threads = int(sys.argv[3]); pa.set_cpu_count(threads); pa.set_io_thread_count(threads)
cols = {COLS}
names = [c for c, _ in cols]
types = {c: getattr(pa, t)() for c, t in cols}
tables = []
for f in sorted(glob.glob(sys.argv[1] + "/**/*.log.gz", recursive=True)):
    t = csv.read_csv(f, read_options=csv.ReadOptions(column_names=names, skip_rows=1),
                     parse_options=csv.ParseOptions(delimiter=" "),
                     convert_options=csv.ConvertOptions(null_values=["-"], strings_can_be_null=True, column_types=types))
    tables.append(t)
t = pa.concat_tables(tables)
date = pc.strftime(pc.cast(pc.multiply(t["start"], 1000), pa.timestamp("ms", tz="UTC")), format="%Y-%m-%d")
t = t.append_column("date", date)
ds.write_dataset(t, sys.argv[2], format="parquet", partitioning=["date"], partitioning_flavor="hive",
                 file_options=ds.ParquetFileFormat().make_write_options(compression="zstd", compression_level=3),
                 max_rows_per_group=1024 * 1024, existing_data_behavior="overwrite_or_ignore")
'''

DUCKDB = r'''
import sys, duckdb
con = duckdb.connect()
con.execute(f"SET threads={int(sys.argv[3])}")
cols = {COLS}
m = {"int32": "INTEGER", "int64": "BIGINT", "string": "VARCHAR"}
spec = "{" + ", ".join(f"'{c}': '{m[t]}'" for c, t in cols) + "}"
con.execute(f"""
COPY (SELECT *, strftime(to_timestamp("start"), '%Y-%m-%d') AS "date"
      FROM read_csv('{sys.argv[1]}/**/*.log.gz', delim=' ', header=true, nullstr='-', columns={spec}))
TO '{sys.argv[2]}' (FORMAT PARQUET, PARTITION_BY ("date"), COMPRESSION zstd, COMPRESSION_LEVEL 3)
""")
'''

POLARS = r'''
import glob, os, sys
os.environ["POLARS_MAX_THREADS"] = sys.argv[3]
import polars as pl
cols = {COLS}
m = {"int32": pl.Int32, "int64": pl.Int64, "string": pl.Utf8}
schema = {c: m[t] for c, t in cols}
files = sorted(glob.glob(sys.argv[1] + "/**/*.log.gz", recursive=True))
df = pl.concat([pl.read_csv(f, separator=" ", null_values="-", schema=schema, has_header=False, skip_rows=1) for f in files])
df = df.with_columns(pl.from_epoch("start", time_unit="s").dt.strftime("%Y-%m-%d").alias("date"))
df.write_parquet(sys.argv[2], compression="zstd", compression_level=3, partition_by="date")
'''

# The sample as AWS's native Parquet deliveries: each text file's records in 5-minute
# files (by `start`), AWS's schema and names, under AWS's Hive-compatible hourly prefixes.
TO_PARQUET = r'''
import glob, os, sys, pyarrow as pa, pyarrow.csv as csv, pyarrow.compute as pc, pyarrow.parquet as pq
cols = {COLS}
names = [c for c, _ in cols]
types = {c: getattr(pa, t)() for c, t in cols}
src, out = sys.argv[1], sys.argv[2]
n = 0
for f in sorted(glob.glob(src + "/**/*.log.gz", recursive=True)):
    t = csv.read_csv(f, read_options=csv.ReadOptions(column_names=names, skip_rows=1),
                     parse_options=csv.ParseOptions(delimiter=" "),
                     convert_options=csv.ConvertOptions(null_values=["-"], strings_can_be_null=True, column_types=types))
    window = pc.divide(t["start"], 300)
    for w in pc.unique(window).to_pylist():
        part = t.filter(pc.equal(window, w))
        y, mo, d, h, mi = pa.scalar(w * 300 * 1000, pa.timestamp("ms", tz="UTC")).as_py().strftime("%Y %m %d %H %M").split()
        folder = (f"{out}/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/"
                  f"year={y}/month={mo}/day={d}/hour={h}")
        os.makedirs(folder, exist_ok=True)
        name = f"123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_{y}{mo}{d}T{h}{mi}Z_{n:08x}.log.parquet"
        pq.write_table(part, f"{folder}/{name}", compression="gzip")
        n += 1
print(n)
'''

DUCKDB_PARQUET = r'''
import sys, duckdb
con = duckdb.connect()
con.execute(f"SET threads={int(sys.argv[3])}")
con.execute(f"""
COPY (SELECT *, strftime(to_timestamp("start"), '%Y-%m-%d') AS "date"
      FROM read_parquet('{sys.argv[1]}/**/*.log.parquet', hive_partitioning=false))
TO '{sys.argv[2]}' (FORMAT PARQUET, PARTITION_BY ("date"), COMPRESSION zstd, COMPRESSION_LEVEL 3)
""")
'''

COUNT = r'''
import sys, pyarrow.dataset as ds
print(ds.dataset(sys.argv[1], format="parquet").count_rows())
'''


def run(cmd, env=None):
    """Runs a command; returns (wall seconds, peak RSS bytes of the child)."""
    t = time.perf_counter()
    # /usr/bin/time reports the peak RSS of this one child.
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    rss_kb = int(p.stderr.strip().splitlines()[-1])
    return wall, rss_kb * 1024


def dir_bytes(path):
    total = 0
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith(("_", "."))]
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files if f.endswith(".parquet"))
    return total


def parquet_deliveries(args, py, scripts, out):
    """The sample as AWS's Parquet deliveries (written once, with pyarrow), converted into
    the date layout by flowlake and by DuckDB (`read_parquet` ... `PARTITION_BY`)."""
    src = os.path.join(args.work, f"parquet-deliveries-{args.records}")
    if not os.path.exists(os.path.join(src, "_done")):
        shutil.rmtree(src, ignore_errors=True)
        subprocess.run([py, scripts["to_parquet"], args.sample, src], check=True, capture_output=True)
        open(os.path.join(src, "_done"), "w").close()
    files = glob.glob(src + "/**/*.log.parquet", recursive=True)
    res = {"files": len(files), "bytes_in": sum(os.path.getsize(f) for f in files)}
    for name, cmd in {
        "flowlake": lambda o: [args.flowlake, "convert", src, "--out", o, "--threads", str(args.threads), "--quiet"],
        "duckdb": lambda o: [py, scripts["duckdb_parquet"], src, o, str(args.threads)],
    }.items():
        walls, rss = [], 0
        for _ in range(args.rounds):
            o = out(f"parquet-{name}")
            w, r = run(cmd(o))
            walls.append(w)
            rss = max(rss, r)
        rows = int(subprocess.run([py, scripts["count"], o], capture_output=True, text=True, check=True).stdout)
        if rows != args.records:
            sys.exit(f"{name} wrote {rows} rows from the Parquet deliveries, expected {args.records}")
        res[name] = {"wall": statistics.median(walls), "walls": walls, "rss": rss, "bytes": dir_bytes(o)}
        print(f"{name} (Parquet deliveries): {statistics.median(walls):.2f} s", file=sys.stderr)
    return res


def enrichment(args, out):
    """The conversion with all three lookup tables against the same without, alternating."""
    base = [args.flowlake, "convert", args.sample, "--threads", str(args.threads), "--quiet"]
    tables = ["--enrich", f"aws-ip-ranges={args.lookup}/ip-ranges.json",
              "--enrich", f"interfaces={args.lookup}/network-interfaces.json",
              "--enrich", f"geoip={args.geo_db}"]
    plain, enriched, rss = [], [], 0
    for _ in range(args.rounds):
        w, _ = run(base + ["--out", out("flowlake-plain")])
        plain.append(w)
        o = out("flowlake-enriched")
        w, r = run(base + ["--out", o] + tables)
        enriched.append(w)
        rss = max(rss, r)
    print(f"enrichment: {statistics.median(enriched):.2f} s against {statistics.median(plain):.2f} s", file=sys.stderr)
    return {"plain": statistics.median(plain), "enriched": statistics.median(enriched), "plain_walls": plain,
            "enriched_walls": enriched, "rss": rss, "bytes": dir_bytes(o)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowlake", required=True)
    ap.add_argument("--sample", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--records", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", required=True)
    ap.add_argument("--big-sample", help="a 4x larger sample, for the memory check")
    ap.add_argument("--single-file", help="the whole sample as one gzip file")
    ap.add_argument("--lookup", help="the sample's lookup tables (flowlake generate --lookup-tables)")
    ap.add_argument("--geo-db", help="a country database in the MaxMind DB format")
    args = ap.parse_args()
    py = sys.executable
    cols = repr(COLUMNS)
    scripts = {}
    for name, src in [("pyarrow", PYARROW), ("duckdb", DUCKDB), ("polars", POLARS), ("count", COUNT),
                      ("to_parquet", TO_PARQUET), ("duckdb_parquet", DUCKDB_PARQUET)]:
        path = os.path.join(args.work, f"peer_{name}.py")
        with open(path, "w") as f:
            f.write(src.replace("{COLS}", cols))
        scripts[name] = path
    files = sorted(glob.glob(args.sample + "/**/*.log.gz", recursive=True))
    gz_bytes = sum(os.path.getsize(f) for f in files)

    def out(name):
        d = os.path.join(args.work, "out-" + name)
        shutil.rmtree(d, ignore_errors=True)
        return d

    contenders = {
        "flowlake": lambda o: [args.flowlake, "convert", args.sample, "--out", o, "--threads", str(args.threads), "--quiet"],
        "pyarrow": lambda o: [py, scripts["pyarrow"], args.sample, o, str(args.threads)],
        "duckdb": lambda o: [py, scripts["duckdb"], args.sample, o, str(args.threads)],
        "polars": lambda o: [py, scripts["polars"], args.sample, o, str(args.threads)],
    }
    results = {}
    # The floor: decompression alone, output discarded, both cores.
    floor = []
    for _ in range(args.rounds):
        t = time.perf_counter()
        subprocess.run(f"find {args.sample} -name '*.log.gz' -print0 | "
                       f"xargs -0 -P{args.threads} -n 16 sh -c 'for f; do libdeflate-gunzip -c \"$f\"; done' _ > /dev/null",
                       shell=True, check=True)
        floor.append(time.perf_counter() - t)
    results["decompress-only"] = {"wall": statistics.median(floor), "rss": None, "bytes": None, "rows": None}
    for name, cmd in contenders.items():
        walls, rss = [], 0
        for _ in range(args.rounds):
            o = out(name)
            w, r = run(cmd(o))
            walls.append(w)
            rss = max(rss, r)
        rows = int(subprocess.run([py, scripts["count"], o], capture_output=True, text=True, check=True).stdout)
        results[name] = {"wall": statistics.median(walls), "walls": walls, "rss": rss, "bytes": dir_bytes(o), "rows": rows}
        if rows != args.records:
            sys.exit(f"{name} wrote {rows} rows, expected {args.records}")
        print(f"{name}: {statistics.median(walls):.2f} s", file=sys.stderr)

    extra = {"parquet_deliveries": parquet_deliveries(args, py, scripts, out)}
    if args.lookup and args.geo_db:
        extra["enrichment"] = enrichment(args, out)
    if args.big_sample:
        o = out("flowlake-4x")
        _, rss4 = run([args.flowlake, "convert", args.big_sample, "--out", o, "--threads", str(args.threads), "--quiet"])
        extra["rss_4x"] = rss4
    if args.single_file:
        o = out("flowlake-single")
        t = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S", args.flowlake, "convert", args.single_file, "--out", o,
                            "--threads", str(args.threads), "--quiet"], capture_output=True, text=True, check=True)
        wall, user, sys_ = map(float, p.stderr.strip().splitlines()[-1].split())
        extra["single_file"] = {"wall": wall, "cpu": user + sys_, "cores_used": (user + sys_) / wall}

    # Queries: DuckDB over flowlake's Parquet versus over the raw gzip text.
    qscript = os.path.join(HERE, "bench_queries.py")
    q = subprocess.run([py, qscript, args.flowlake, args.sample, os.path.join(args.work, "out-flowlake"), str(args.threads)],
                       capture_output=True, text=True)
    if q.returncode != 0:
        sys.exit(q.stderr)
    extra["queries"] = json.loads(q.stdout)

    fl = results["flowlake"]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0].strip()}"
    report = {"records": args.records, "gzip_bytes": gz_bytes, "files": len(files), "threads": args.threads,
              "rounds": args.rounds, "machine": machine, "results": results, "extra": extra}
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)

    mib = 1024 * 1024
    print(f"\n{len(files)} files, {gz_bytes / 1e6:.0f} MB gzip, {args.records:,} records, {args.threads} threads, "
          f"median of {args.rounds}; {machine}\n")
    print("| tool | wall (s) | records/s | peak RSS (MiB) | output (MB) | vs flowlake |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        rss = f"{r['rss'] / mib:.0f}" if r["rss"] else "-"
        size = f"{r['bytes'] / 1e6:.1f}" if r["bytes"] else "-"
        print(f"| {name} | {r['wall']:.2f} | {args.records / r['wall'] / 1e6:.2f} M | {rss} | {size} | "
              f"{r['wall'] / fl['wall']:.2f}x |")
    print()
    checks = [
        ("flowlake <= 0.5 x pyarrow", fl["wall"] <= 0.5 * results["pyarrow"]["wall"]),
        ("flowlake <= 0.3 x duckdb", fl["wall"] <= 0.3 * results["duckdb"]["wall"]),
        ("flowlake <= 3.5 x decompression floor", fl["wall"] <= 3.5 * results["decompress-only"]["wall"]),
        ("peak RSS <= 512 MiB", fl["rss"] <= 512 * mib),
        ("output bytes <= duckdb's", fl["bytes"] <= results["duckdb"]["bytes"]),
    ]
    if "rss_4x" in extra:
        checks.append((f"4x input RSS {extra['rss_4x'] / mib:.0f} MiB <= 1.1 x {fl['rss'] / mib:.0f} MiB",
                       extra["rss_4x"] <= 1.1 * fl["rss"]))
    if "single_file" in extra:
        s = extra["single_file"]
        checks.append((f"single gzip file uses both cores ({s['cores_used']:.2f} cores, {s['wall']:.2f} s)", s["cores_used"] >= 1.5))
    if "enrichment" in extra:
        e = extra["enrichment"]
        print(f"Enrichment (aws-ip-ranges, interfaces, geoip): {e['enriched']:.2f} s against {e['plain']:.2f} s "
              f"without ({e['enriched'] / e['plain'] - 1:+.1%}), peak RSS {e['rss'] / mib:.0f} MiB, "
              f"output {e['bytes'] / 1e6:.1f} MB\n")
        checks.append((f"enrichment costs {e['enriched'] / e['plain'] - 1:+.1%} <= 15%", e["enriched"] <= 1.15 * e["plain"]))
    pd = extra["parquet_deliveries"]
    print(f"AWS Parquet deliveries ({pd['files']} files, {pd['bytes_in'] / 1e6:.0f} MB) into the date layout:\n")
    print("| tool | wall (s) | peak RSS (MiB) | output (MB) | vs flowlake |")
    print("|---|---:|---:|---:|---:|")
    for name in ("flowlake", "duckdb"):
        r = pd[name]
        print(f"| {name} | {r['wall']:.2f} | {r['rss'] / mib:.0f} | {r['bytes'] / 1e6:.1f} | "
              f"{r['wall'] / pd['flowlake']['wall']:.2f}x |")
    print()
    checks.append((f"Parquet deliveries: flowlake {pd['flowlake']['wall']:.2f} s <= 0.5 x duckdb "
                   f"{pd['duckdb']['wall']:.2f} s", pd["flowlake"]["wall"] <= 0.5 * pd["duckdb"]["wall"]))
    # The performance issue: DuckDB over flowlake's Parquet vs over the raw text, and how much
    # of the files the point lookup reads. The query issue: flowlake's own commands vs the raw text.
    queries = extra["queries"]
    print("| question | DuckDB, raw gzip (s) | DuckDB, Parquet (s) | share of Parquet bytes read | flowlake (s) |")
    print("|---|---:|---:|---:|---:|")
    for name, r in queries.items():
        print(f"| {name} | {r['raw']:.2f} | {r['parquet']:.3f} ({r['raw'] / r['parquet']:.0f}x) | "
              f"{100 * r['parquet_read_fraction']:.1f}% | {r['flowlake']:.3f} ({r['raw'] / r['flowlake']:.0f}x) |")
    print()
    for name in ("one-source-address", "cidr-16-sources", "sources-outside-vpc"):
        r = queries[name]
        checks.append((f"DuckDB on flowlake's Parquet, {name}: {r['parquet']:.3f} s vs {r['raw']:.2f} s on raw gzip "
                       f"({r['raw'] / r['parquet']:.0f}x) >= 30x", r["raw"] / r["parquet"] >= 30))
    r = queries["one-source-address"]
    checks.append((f"the point lookup reads a small fraction (<= 10%) of the Parquet bytes: "
                   f"{100 * r['parquet_read_fraction']:.1f}%", r["parquet_read_fraction"] <= 0.10))
    # The point-IP question twice: a busy interface address (in every row group) and a rare one.
    for name in ("one-address", "one-peer-address", "sources-outside-vpc", "private-cidrs"):
        r = queries[name]
        checks.append((f"flowlake {name}: {r['flowlake']:.3f} s vs DuckDB on raw gzip {r['raw']:.2f} s "
                       f"({r['raw'] / r['flowlake']:.0f}x) >= 30x", r["raw"] / r["flowlake"] >= 30))
    for text, ok in checks:
        print(f"- [{'x' if ok else ' '}] {text}")


if __name__ == "__main__":
    main()
