"""Reads a converted table with DuckDB, pyarrow and polars, independently of flowlake.

    read_table.py TABLE_DIR COL,COL,...

Prints JSON {"duckdb": [...], "pyarrow": [...], "polars": [...]}: every row of the table's Parquet files
(folders and files starting with `_` or `.` skipped, as engines skip them) over the
columns, values joined by spaces, null as `-`, sorted.
"""
import json
import sys

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds


def render(rows):
    return sorted(" ".join("-" if v is None else str(v) for v in r) for r in rows)


def main() -> None:
    table, cols = sys.argv[1], sys.argv[2].split(",")
    quoted = ", ".join(f'"{c}"' for c in cols)
    con = duckdb.connect()
    got_duckdb = con.execute(
        f"SELECT {quoted} FROM read_parquet(?, hive_partitioning = true, union_by_name = true)",
        [f"{table}/**/*.parquet"],
    ).fetchall()
    data = ds.dataset(table, format="parquet", partitioning="hive", ignore_prefixes=["_", "."])
    # Files of a table may hold different columns (a run with more fields, or without
    # enrichment): read with the union of their schemas, as DuckDB's union_by_name does.
    schemas = [data.schema] + [ds.dataset(f, format="parquet").schema for f in data.files]
    data = ds.dataset(
        table, format="parquet", partitioning="hive", ignore_prefixes=["_", "."],
        schema=pa.unify_schemas(schemas, promote_options="permissive"),
    )
    t = data.to_table(columns=cols)
    got_pyarrow = list(zip(*[t.column(c).to_pylist() for c in cols])) if t.num_rows else []
    # polars, file by file (a column a file lacks is null in its rows, as above; the
    # partition columns, which live in the folder names, are not read: ask for file columns).
    got_polars = []
    for f in data.files:
        df = pl.read_parquet(f)
        n = df.height
        columns = [df.get_column(c).to_list() if c in df.columns else [None] * n for c in cols]
        got_polars.extend(zip(*columns))
    print(json.dumps({"duckdb": render(got_duckdb), "pyarrow": render(got_pyarrow), "polars": render(got_polars)}))


if __name__ == "__main__":
    main()
