"""Runs DDL files and queries in a real local Spark (Hive support) and prints the results as JSON.

usage: spark_check.py WORKDIR SPEC.json
SPEC: {"ddl": [FILE, ...], "queries": {"name": "SQL" or "@FILE", ...}}
Output (stdout, last line): {"name": [[col, ...], ...], ...}
"""
import json
import os
import sys

from pyspark.sql import SparkSession

work, spec_path = sys.argv[1], sys.argv[2]
spec = json.load(open(spec_path))
spark = (
    SparkSession.builder.master("local[2]")
    .appName("flowlake-ddl-check")
    .config("spark.sql.warehouse.dir", os.path.join(work, "warehouse"))
    .config("spark.hadoop.javax.jdo.option.ConnectionURL", f"jdbc:derby:;databaseName={os.path.join(work, 'metastore_db')};create=true")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.ui.enabled", "false")
    .config("spark.driver.host", "127.0.0.1")
    .enableHiveSupport()
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")


def statements(text):
    return [s.strip() for s in text.split(";\n") if s.strip() and s.strip() != ";"]


for path in spec["ddl"]:
    for stmt in statements(open(path).read()):
        spark.sql(stmt.rstrip(";"))

out = {}
for name, sql in spec["queries"].items():
    if sql.startswith("@"):
        sql = open(sql[1:]).read()
    sql = sql.strip().rstrip(";")
    rows = spark.sql(sql).collect()
    out[name] = [[v if not hasattr(v, "isoformat") else v.isoformat() for v in r] for r in rows]
spark.stop()
print(json.dumps(out))
