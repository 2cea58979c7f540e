"""SQL cells: jupysql's `%%sql` on the read-only warehouse, made kind to learners.

- Comments are removed before jupysql sees the query: jupysql 0.11 returns an *empty* table
  when a comment follows the last statement, and learners (and our `-- ` stubs) write comments.
- A cell with no query says so, instead of jupysql's internal error.
- `%%sql name <<` keeps the result in `name` and shows it as a table (jupysql alone shows nothing).
- A refused write or a failing query shows the database's message, never a Python traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SQL_MAGIC = re.compile(r"\A%%sql(?P<args>[^\n]*)(?:\n(?P<body>.*))?\Z", re.S)
TARGET = re.compile(r"^\s*(?P<var>[A-Za-z_]\w*)\s*<<")
JUPYSQL_NOISE = "Original error message from DB driver:"
MAX_ERROR_LINES = 8


@dataclass
class SqlCell:
    args: str
    var: str | None
    body: str  # the SQL without comments


def strip_comments(sql: str) -> str:
    import sqlparse  # comes with jupysql; a tokenizer, so `--` inside strings survives

    return sqlparse.format(sql, strip_comments=True).strip()


def parse(source: str) -> SqlCell | None:
    match = SQL_MAGIC.match(source.lstrip("\n"))
    if match is None:
        return None
    target = TARGET.match(match["args"])
    return SqlCell(match["args"], target["var"] if target else None, strip_comments(match["body"] or ""))


def transform(lines: list[str]) -> list[str]:
    """IPython input transformer: hand jupysql the query without comments (or say it is empty)."""
    cell = parse("".join(lines))
    if cell is None:
        return lines
    if not cell.body:
        return [f"__matsuri__.empty_sql_cell({cell.var!r})\n"]
    return [f"%%sql{cell.args}\n", f"{cell.body}\n"]


def run_again(con, sql: str):
    """The table a recorded query gives: each statement in turn, the last one's result."""
    import sqlparse

    statements = [s for s in sqlparse.split(sql) if s.strip()]
    for statement in statements[:-1]:
        con.execute(statement).fetchall()
    return con.execute(statements[-1]).df()


def database_message(error: BaseException) -> str:
    """The database's own words from a (possibly jupysql-wrapped) error, without jupysql's links."""
    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    for candidate in seen:
        if type(candidate).__module__.startswith("duckdb"):
            text = str(candidate)
            break
    else:
        text = str(seen[0])
    if JUPYSQL_NOISE in text:
        text = text.split(JUPYSQL_NOISE, 1)[1]
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return "\n".join(lines[:MAX_ERROR_LINES])
