#!/usr/bin/env python3
"""Alternating runs of two flowlake binaries on one sample, in one run: the only fair
comparison on a machine whose speed drifts (BENCHMARKS.md). Wall time from spawn to
exit, user CPU and peak RSS from wait4, and the Parquet bytes written.

    scripts/ab.py A_BIN B_BIN SAMPLE [--rounds 8] [--threads 2] [--work /var/tmp] [--convert-args "..."]

Build the two binaries first (for example two release builds of two commits, copied
aside), and a sample with `flowlake generate` (scripts/bench.sh makes the standard one).

    scripts/ab.py A_BIN B_BIN LAKE --queries [--rounds 8] [--threads 2]

times the classic questions instead (`find`, `sources --outside`, `private-cidrs`, as
scripts/bench_queries.py asks them) over a table of that sample, alternating A and B
per question and round: for settings that touch planning, not conversion.
"""
import argparse
import json
import os
import shlex
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
ap.add_argument("--convert-args", default="", help="more flags for both conversions (for example --enrich ...)")
ap.add_argument("--queries", action="store_true", help="SAMPLE is a table: time the questions over it")
args = ap.parse_args()
bins = {"A": args.a, "B": args.b}
med = statistics.median

if args.queries:
    lake, t = args.sample, str(args.threads)
    questions = {
        "find-ip": ["find", lake, "--ip", "10.192.16.21"],
        "find-cidr": ["find", lake, "--cidr", "192.168.0.0/16", "--direction", "src"],
        "sources-outside": ["sources", lake, "--outside", "10.192.0.0/16"],
        "private-cidrs": ["private-cidrs", lake, "--prefix", "16", "--prefix6", "48"],
    }
    times = {q: {"A": [], "B": []} for q in questions}
    answers = {}
    for r in range(args.rounds):
        for q, qargs in questions.items():
            for k in ("A", "B") if r % 2 == 0 else ("B", "A"):
                t0 = time.perf_counter()
                p = subprocess.run([bins[k], *qargs, "--format", "csv", "-q", "--threads", t], capture_output=True)
                times[q][k].append(time.perf_counter() - t0)
                if p.returncode != 0:
                    raise SystemExit(f"{bins[k]} {q} failed: {p.stderr.decode()}")
                if answers.setdefault(q, p.stdout) != p.stdout:
                    raise SystemExit(f"{q}: A and B answer differently")
    for q, v in times.items():
        a, b = med(v["A"]), med(v["B"])
        print(f"{q}: A median {a * 1000:.1f} ms (fastest {min(v['A']) * 1000:.1f}), "
              f"B median {b * 1000:.1f} ms (fastest {min(v['B']) * 1000:.1f}), B vs A {b / a - 1:+.1%}")
    with open(os.path.join(args.work, "ab-queries.json"), "w") as f:
        json.dump({"bins": bins, "times": times}, f, indent=1)
    raise SystemExit(0)

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
        cmd = [bins[k], "convert", args.sample, "--out", out, "-q", "-j", str(args.threads)]
        p = subprocess.Popen(cmd + shlex.split(args.convert_args))
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

for k, v in res.items():
    print(
        f"{k} ({bins[k]}): wall median {med(v['wall']):.3f} s (fastest {min(v['wall']):.3f}), "
        f"user median {med(v['user']):.3f} s, peak RSS median {med(v['rss_mib']):.1f} MiB, "
        f"bytes {min(v['bytes'])}..{max(v['bytes'])}"
    )
print(f"B vs A, wall median: {med(res['B']['wall']) / med(res['A']['wall']) - 1:+.1%}")
with open(os.path.join(args.work, "ab-results.json"), "w") as f:
    json.dump({"bins": bins, "results": res}, f, indent=1)
