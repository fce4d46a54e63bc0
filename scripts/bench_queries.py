"""The classic flow-log questions, run by DuckDB over the raw gzip text and over flowlake's Parquet.

usage: bench_queries.py SAMPLE PARQUET_DIR THREADS  -> JSON {question: {raw, parquet, rows}} on stdout
Both sides must return the same answer; times are the best of two runs.
"""
import json
import sys
import time

import duckdb

sample, lake, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect()
con.execute(f"SET threads={threads}")
cols = ("{'version': 'INTEGER', 'account_id': 'VARCHAR', 'interface_id': 'VARCHAR', 'srcaddr': 'VARCHAR', "
        "'dstaddr': 'VARCHAR', 'srcport': 'INTEGER', 'dstport': 'INTEGER', 'protocol': 'INTEGER', "
        "'packets': 'BIGINT', 'bytes': 'BIGINT', 'start': 'BIGINT', 'end': 'BIGINT', 'action': 'VARCHAR', "
        "'log_status': 'VARCHAR'}")
raw = f"read_csv('{sample}/**/*.log.gz', delim=' ', header=true, nullstr='-', columns={cols})"
parquet = f"read_parquet('{lake}/**/*.parquet', hive_partitioning=true)"
# The VPC of the generated sample is 10.192.0.0/16; 10.192.0.4 is its busiest interface.
questions = {
    "one-address": "SELECT count(*), sum(bytes) FROM {t} WHERE srcaddr = '10.192.0.4' OR dstaddr = '10.192.0.4'",
    "cidr-16": "SELECT count(*), sum(bytes) FROM {t} WHERE srcaddr LIKE '10.192.%'",
    "sources-outside-vpc": "SELECT count(*), sum(b) FROM (SELECT srcaddr, sum(bytes) AS b FROM {t} "
                           "WHERE srcaddr IS NOT NULL AND srcaddr NOT LIKE '10.192.%' GROUP BY srcaddr)",
}
out = {}
for name, q in questions.items():
    res = {}
    for side, t in (("raw", raw), ("parquet", parquet)):
        best, answer = None, None
        for _ in range(2):
            t0 = time.perf_counter()
            answer = con.execute(q.format(t=t)).fetchall()
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        res[side] = best
        res[side + "_answer"] = [list(r) for r in answer]
    if res["raw_answer"] != res["parquet_answer"]:
        sys.exit(f"{name}: raw {res['raw_answer']} != parquet {res['parquet_answer']}")
    out[name] = res
print(json.dumps(out))
