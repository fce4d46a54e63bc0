"""The classic flow-log questions: DuckDB over the raw gzip text (what users do today),
DuckDB over flowlake's Parquet, and flowlake's own commands over its Parquet.

usage: bench_queries.py FLOWLAKE SAMPLE PARQUET_DIR THREADS
  -> JSON {question: {raw, parquet, flowlake, parquet_read_fraction, ...answers}} on stdout
Every side must give the same answer; times are the best of three runs (flowlake's
include starting the process and printing the answer as CSV). `parquet_read_fraction`
is the share of the Parquet files' bytes DuckDB read for the question (the process's
`rchar` in /proc/self/io, which counts every byte read from a file).
"""
import csv
import glob
import io
import json
import os
import subprocess
import sys
import time

import duckdb

flowlake, sample, lake, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
con = duckdb.connect()
con.execute(f"SET threads={threads}")
cols = ("{'version': 'INTEGER', 'account_id': 'VARCHAR', 'interface_id': 'VARCHAR', 'srcaddr': 'VARCHAR', "
        "'dstaddr': 'VARCHAR', 'srcport': 'INTEGER', 'dstport': 'INTEGER', 'protocol': 'INTEGER', "
        "'packets': 'BIGINT', 'bytes': 'BIGINT', 'start': 'BIGINT', 'end': 'BIGINT', 'action': 'VARCHAR', "
        "'log_status': 'VARCHAR'}")
raw = f"read_csv('{sample}/**/*.log.gz', delim=' ', header=true, nullstr='-', columns={cols})"
parquet = f"read_parquet('{lake}/**/*.parquet', hive_partitioning=true)"

# The VPC of the generated sample is 10.192.0.0/16; 10.192.16.21 is one of its interfaces.
IP = "10.192.16.21"


def private_v4(c):
    o1, o2 = f"TRY_CAST(split_part({c}, '.', 1) AS INT)", f"TRY_CAST(split_part({c}, '.', 2) AS INT)"
    return f"({c} NOT LIKE '%:%' AND ({o1} = 10 OR ({o1} = 172 AND {o2} BETWEEN 16 AND 31) OR ({o1} = 192 AND {o2} = 168)))"


def private_v6(c):
    return f"({c} LIKE '%:%' AND (lower({c}) LIKE 'fc%' OR lower({c}) LIKE 'fd%'))"


def block(c):
    # /16 for IPv4; /48 for IPv6 written with its first three groups in full (true of the sample).
    return (f"CASE WHEN {c} LIKE '%:%' THEN lower(split_part({c}, ':', 1) || ':' || split_part({c}, ':', 2) || ':' || "
            f"split_part({c}, ':', 3)) || '::/48' ELSE split_part({c}, '.', 1) || '.' || split_part({c}, '.', 2) || '.0.0/16' END")


def bytes_read():
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))


# A rare address as well: the address outside the VPC seen in the fewest flows (a peer, not
# an interface; in the generated sample 10.10.0.1, in one flow). Bloom filters let a reader
# skip the row groups without it, which a busy interface address, in every row group, never allows.
peer = con.execute(f"SELECT addr FROM (SELECT srcaddr AS addr FROM {parquet} UNION ALL SELECT dstaddr FROM {parquet}) "
                   "WHERE addr NOT LIKE '10.192.%' GROUP BY addr ORDER BY count(*), addr LIMIT 1").fetchone()
if peer is None:
    sys.exit(f"{lake}: no address outside 10.192.0.0/16 to look up; is it a table of `flowlake generate`'s sample?")
PEER = peer[0]

lake_bytes = sum(os.path.getsize(f) for f in glob.glob(f"{lake}/**/*.parquet", recursive=True))
rows_and_bytes = lambda rows: [len(rows), sum(int(r["bytes"]) for r in rows if r["bytes"])]

# (DuckDB SQL over {t}, flowlake arguments, how to reduce either answer to comparable numbers).
# The first three are the performance issue's questions (one source address, a /16, distinct
# sources outside the VPC); the point-IP question (either direction, for a busy interface and
# for a rare outside address) and private-cidrs are the query issue's, asked with flowlake's commands. A prefix test on the text is exact for a /16
# on octet boundaries (dotted quads have no leading zeros; IPv6 text never starts that way),
# and it is what a DuckDB user writes; flowlake's own commands compare numerically.
questions = {
    "one-source-address": (
        f"SELECT count(*) AS n, sum(bytes) AS b FROM {{t}} WHERE srcaddr = '{IP}'",
        ["find", lake, "--ip", IP, "--direction", "src"],
        rows_and_bytes,
    ),
    "cidr-16-sources": (
        "SELECT count(*) AS n, sum(bytes) AS b FROM {t} WHERE srcaddr LIKE '192.168.%'",
        ["find", lake, "--cidr", "192.168.0.0/16", "--direction", "src"],
        rows_and_bytes,
    ),
    "one-address": (
        f"SELECT count(*) AS n, sum(bytes) AS b FROM {{t}} WHERE srcaddr = '{IP}' OR dstaddr = '{IP}'",
        ["find", lake, "--ip", IP],
        rows_and_bytes,
    ),
    "one-peer-address": (
        f"SELECT count(*) AS n, sum(bytes) AS b FROM {{t}} WHERE srcaddr = '{PEER}' OR dstaddr = '{PEER}'",
        ["find", lake, "--ip", PEER],
        rows_and_bytes,
    ),
    "sources-outside-vpc": (
        "SELECT count(*) AS n, sum(b) AS b FROM (SELECT srcaddr, sum(bytes) AS b FROM {t} "
        "WHERE srcaddr NOT LIKE '10.192.%' GROUP BY srcaddr)",
        ["sources", lake, "--outside", "10.192.0.0/16"],
        rows_and_bytes,
    ),
    "private-cidrs": (
        "SELECT count(*) AS n, sum(f) AS f FROM (SELECT cidr, count(*) AS f FROM ("
        f"SELECT {block('srcaddr')} AS cidr FROM {{t}} WHERE {private_v4('srcaddr')} OR {private_v6('srcaddr')} "
        f"UNION ALL SELECT {block('dstaddr')} FROM {{t}} WHERE {private_v4('dstaddr')} OR {private_v6('dstaddr')}) GROUP BY cidr)",
        ["private-cidrs", lake, "--prefix", "16", "--prefix6", "48"],
        lambda rows: [len(rows), sum(int(r["src_flows"]) + int(r["dst_flows"]) for r in rows)],
    ),
}


def best_of(n, f):
    best, answer = None, None
    for _ in range(n):
        t0 = time.perf_counter()
        answer = f()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best, answer


out = {}
for name, (sql, args, reduce) in questions.items():
    res = {}
    for side, t in (("raw", raw), ("parquet", parquet)):
        res[side], answer = best_of(3 if side == "parquet" else 2, lambda: con.execute(sql.format(t=t)).fetchall())
        res[side + "_answer"] = [int(v) for v in answer[0]]
    before = bytes_read()
    con.execute(sql.format(t=parquet)).fetchall()
    res["parquet_read_fraction"] = (bytes_read() - before) / lake_bytes

    def run_flowlake():
        p = subprocess.run([flowlake, *args, "--format", "csv", "-q", "--threads", str(threads)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"flowlake {args}: {p.stderr}")
        return p.stdout

    res["flowlake"], text = best_of(3, run_flowlake)
    res["flowlake_answer"] = reduce(list(csv.DictReader(io.StringIO(text))))
    if not (res["raw_answer"] == res["parquet_answer"] == res["flowlake_answer"]):
        sys.exit(f"{name}: answers differ: raw {res['raw_answer']}, DuckDB on Parquet {res['parquet_answer']}, "
                 f"flowlake {res['flowlake_answer']}")
    out[name] = res
print(json.dumps(out))
