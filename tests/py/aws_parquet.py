"""Writes flow-log text files as AWS's native Parquet deliveries, with pyarrow.

    aws_parquet.py TEXT_DIR OUT_DIR TYPES_JSON

Every `*.log.gz` under TEXT_DIR (a header line, then records) becomes a `*.log.parquet`
at the same relative path under OUT_DIR: one column per header field, named as AWS's
Parquet schema names it (`account-id` -> `account_id`), of AWS's physical type (TYPES_JSON
maps each column to INT32, INT64 or STRING), nullable, `-` written as null.
"""
import gzip
import json
import pathlib
import sys

import pyarrow as pa
import pyarrow.parquet as pq

TYPES = {"INT32": pa.int32(), "INT64": pa.int64(), "STRING": pa.string()}


def convert(src: pathlib.Path, dst: pathlib.Path, types: dict) -> int:
    lines = gzip.decompress(src.read_bytes()).decode().splitlines()
    names = [h.replace("-", "_") for h in lines[0].split(" ")]
    cols = [[] for _ in names]
    for line in lines[1:]:
        for i, v in enumerate(line.split(" ")):
            cols[i].append(None if v == "-" else v)
    arrays = []
    for name, values in zip(names, cols):
        ty = TYPES[types[name]]
        if ty != pa.string():
            values = [None if v is None else int(v) for v in values]
        arrays.append(pa.array(values, type=ty))
    dst.parent.mkdir(parents=True, exist_ok=True)
    # Gzip pages, as AWS writes its Parquet deliveries (flow-logs-s3-path.html).
    pq.write_table(pa.table(arrays, names=names), dst, compression="gzip")
    return len(lines) - 1


def main() -> None:
    src, out, types = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), json.loads(sys.argv[3])
    rows = 0
    for f in sorted(src.rglob("*.log.gz")):
        rel = f.relative_to(src)
        rows += convert(f, out / rel.parent / (rel.name[: -len(".log.gz")] + ".log.parquet"), types)
    print(rows)


if __name__ == "__main__":
    main()
