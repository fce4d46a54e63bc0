#!/usr/bin/env python3
"""Alternating runs of two flowlake binaries on one sample, in one run: the only fair
comparison on a machine whose speed drifts (BENCHMARKS.md). Wall time from spawn to
exit, user CPU and peak RSS from wait4, and the Parquet bytes written.

    scripts/ab.py A_BIN B_BIN SAMPLE [--rounds 8] [--threads 2] [--work /var/tmp]

Build the two binaries first (for example two release builds of two commits, copied
aside), and a sample with `flowlake generate` (scripts/bench.sh makes the standard one).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import time

ap = argparse.ArgumentParser()
ap.add_argument("a")
ap.add_argument("b")
ap.add_argument("sample")
ap.add_argument("--rounds", type=int, default=8)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--work", default="/var/tmp")
args = ap.parse_args()
bins = {"A": args.a, "B": args.b}
res = {k: {"wall": [], "user": [], "rss_mib": [], "bytes": []} for k in bins}


def parquet_bytes(out):
    total = 0
    for root, _, files in os.walk(out):
        if "_flowlake" not in root:
            total += sum(os.path.getsize(os.path.join(root, f)) for f in files if f.endswith(".parquet"))
    return total


for r in range(args.rounds):
    for k in ("A", "B") if r % 2 == 0 else ("B", "A"):
        out = os.path.join(args.work, f"ab-out-{k}")
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        p = subprocess.Popen([bins[k], "convert", args.sample, "--out", out, "-q", "-j", str(args.threads)])
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        if status != 0:
            raise SystemExit(f"{bins[k]} failed (status {status})")
        res[k]["wall"].append(wall)
        res[k]["user"].append(ru.ru_utime)
        res[k]["rss_mib"].append(ru.ru_maxrss / 1024)
        res[k]["bytes"].append(parquet_bytes(out))
        shutil.rmtree(out, ignore_errors=True)
        print(f"round {r} {k}: {wall:.3f} s, {ru.ru_maxrss / 1024:.1f} MiB, {res[k]['bytes'][-1]} bytes", flush=True)

med = statistics.median
for k, v in res.items():
    print(
        f"{k} ({bins[k]}): wall median {med(v['wall']):.3f} s (fastest {min(v['wall']):.3f}), "
        f"user median {med(v['user']):.3f} s, peak RSS median {med(v['rss_mib']):.1f} MiB, "
        f"bytes {min(v['bytes'])}..{max(v['bytes'])}"
    )
print(f"B vs A, wall median: {med(res['B']['wall']) / med(res['A']['wall']) - 1:+.1%}")
with open(os.path.join(args.work, "ab-results.json"), "w") as f:
    json.dump({"bins": bins, "results": res}, f, indent=1)
