"""Your tables under our names: open the warehouse read-only, renamed to what a template expects.

A template's SQL always speaks of the festival's tables (push_deliveries, sales_calls, …). A
company that keeps the same facts under other names passes `table_names` and `column_names`; we
then create temporary views with our names over theirs (in memory, nothing is written), so the
rest of the notebook runs unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import pandas as pd

from matsuri.errors import NotFound, UsageError
from matsuri.warehouse import query


def open_warehouse(
    warehouse: str | None = None,
    needs: Mapping[str, list[str]] | None = None,
    table_names: Mapping[str, str] | None = None,
    column_names: Mapping[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Connect read-only and check that every needed table and column exists under our names.

    needs: our table -> our columns the template reads.
    table_names: our table -> your table, e.g. {"push_deliveries": "app_push_log"}.
    column_names: "our_table.our_column" -> your column, e.g. {"push_deliveries.opened_at": "open_time"}.
    """
    needs = dict(needs or {})
    table_names, column_names = dict(table_names or {}), dict(column_names or {})
    _check_keys(needs, table_names, column_names)
    con = query.connect(warehouse or None)
    try:
        catalog = con.execute("SELECT current_database()").fetchone()[0]
        present = _columns_by_table(con)
        for table, columns in needs.items():
            theirs = table_names.get(table, table)
            if theirs not in present:
                raise NotFound(_missing_table(table, theirs, present))
            mapping = {c: column_names.get(f"{table}.{c}", c) for c in columns}
            absent = [f"{ours} (looked for '{yours}')" for ours, yours in mapping.items()
                      if yours not in present[theirs]]
            if absent:
                raise NotFound(
                    f"The table '{theirs}' has no column for {', '.join(absent)}. Its columns are: "
                    f"{', '.join(present[theirs])}. Name yours in the parameters cell, for example "
                    f"column_names = {{'{table}.{columns[0]}': 'your_column'}}."
                )
            if theirs != table or any(ours != yours for ours, yours in mapping.items()):
                select = ", ".join(f'"{yours}" AS "{ours}"' for ours, yours in mapping.items())
                con.execute(
                    f'CREATE TEMP VIEW "{table}" AS SELECT {select} FROM "{catalog}"."main"."{theirs}"'
                )
    except BaseException:
        con.close()
        raise
    return con


def read(con: duckdb.DuckDBPyConnection, sql: str, **params) -> pd.DataFrame:
    """Run a SELECT (with $name parameters) and return a DataFrame; a bad query says why."""
    try:
        return con.execute(sql, params or None).df()
    except duckdb.Error as error:
        if query.is_write_refusal(error):
            raise UsageError(query.READ_ONLY_HINT) from None
        raise UsageError(f"The query could not run: {query.first_line(error)}") from None


def _columns_by_table(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_catalog = current_database() "
        "ORDER BY table_name, ordinal_position"
    ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def _missing_table(ours: str, theirs: str, present: Mapping[str, list[str]]) -> str:
    where = "" if ours == theirs else f" (your name for '{ours}')"
    return (
        f"The warehouse has no table '{theirs}'{where}. Its tables are: {', '.join(sorted(present))}. "
        f"If your data calls it something else, set table_names = {{'{ours}': 'your_table'}} "
        "in the parameters cell."
    )


def _check_keys(needs: Mapping[str, list[str]], table_names: Mapping, column_names: Mapping) -> None:
    """Catch typos in the parameters before they silently do nothing."""
    unknown = [t for t in table_names if t not in needs]
    if unknown:
        raise UsageError(
            f"table_names mentions {', '.join(map(repr, unknown))}, which this template does not use. "
            f"It reads: {', '.join(needs)}. Keys are our names, values are yours."
        )
    for key in column_names:
        table, _, column = str(key).partition(".")
        if table not in needs or column not in needs[table]:
            known = ", ".join(f"{t}.{c}" for t, cols in needs.items() for c in cols)
            raise UsageError(
                f"column_names has the key '{key}', which is not a column this template reads. "
                f"Keys look like 'table.column' in our names; valid keys: {known}."
            )
