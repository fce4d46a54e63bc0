"""Parses SQL files with sqlglot; exits non-zero naming the first file that does not parse.

usage: sql_check.py DIALECT FILE... -- each FILE may be prefixed KIND: (create, select, any);
create and select demand that every statement parses to that expression, not to sqlglot's
fallback 'Command' (which accepts any text).
"""
import sys

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

dialect = sys.argv[1]
for arg in sys.argv[2:]:
    kind, _, path = arg.partition(":")
    sql = open(path).read()
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect, error_level=ErrorLevel.RAISE) if s is not None]
    except Exception as e:  # noqa: BLE001 - report any parse failure
        print(f"{path}: does not parse as {dialect}: {e}")
        sys.exit(1)
    want = {"create": exp.Create, "select": exp.Select}.get(kind)
    for s in statements:
        if want is not None and not isinstance(s, want):
            print(f"{path}: parsed as {type(s).__name__}, expected {want.__name__}: {s.sql()[:200]}")
            sys.exit(1)
    print(f"ok {path}: {len(statements)} statement(s)")
