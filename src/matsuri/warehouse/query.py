"""Read-only access to the warehouse: the one way learners, templates and the CLI open it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from matsuri import paths
from matsuri.errors import NotFound, ReadOnlyViolation, UsageError

READ_ONLY_HINT = (
    "The company warehouse is read-only: statements that change it (INSERT, UPDATE, DELETE, "
    "CREATE, DROP, ALTER, COPY, ATTACH) are refused, and the data stays as it was. "
    "Use SELECT to read; to keep a result, save it in Python (for example as a pandas DataFrame)."
)
# Threads per connection, a cap on a shared machine. Four rather than one per core: on 2 cores
# DuckDB ran the course's queries on the `large` company 1.15x faster in all, and the slowest
# (a DISTINCT over 20 M events) 1.19x (benchmarks/bench_checks.py); none was slower beyond noise.
THREADS = 4


def connect(path: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only, with no access to other files (no COPY TO, ATTACH, read_csv)."""
    target = Path(path) if path else paths.warehouse_path()
    if not target.is_file():
        raise NotFound(
            f"No warehouse at {target}. Build it first with `matsuri data build` "
            f"(or set {paths.WAREHOUSE_ENV} to the file)."
        )
    return duckdb.connect(
        str(target), read_only=True, config={"enable_external_access": False, "threads": THREADS}
    )


def is_write_refusal(error: Exception) -> bool:
    text = str(error)
    return "read-only mode" in text or "file system operations are disabled" in text


def run(con: duckdb.DuckDBPyConnection, sql: str):
    """Run one statement; a refused write becomes a ReadOnlyViolation, a bad query a UsageError."""
    try:
        return con.sql(sql)
    except (duckdb.InvalidInputException, duckdb.PermissionException) as error:
        if is_write_refusal(error):
            raise ReadOnlyViolation(READ_ONLY_HINT) from None
        raise UsageError(f"The query could not run: {first_line(error)}") from None
    except duckdb.Error as error:
        raise UsageError(f"The query could not run: {first_line(error)}") from None


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


@dataclass
class TableInfo:
    name: str
    rows: int
    columns: list[tuple[str, str]]


def describe(con: duckdb.DuckDBPyConnection) -> list[TableInfo]:
    tables = [r[0] for r in con.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name"
    ).fetchall()]
    info = []
    for name in tables:
        cols = con.sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = 'main' AND table_name = '{name}' ORDER BY ordinal_position"
        ).fetchall()
        rows = con.sql(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
        info.append(TableInfo(name, rows, [(c, t) for c, t in cols]))
    return info


def table_checksums(path: Path | str) -> dict[str, tuple[int, int]]:
    """(row count, order-independent hash of every row) per table: equal means equal contents."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()]
        return {
            name: tuple(con.sql(
                f'SELECT count(*), coalesce(sum(hash(t)), 0)::HUGEINT % 18446744073709551557 FROM "{name}" t'
            ).fetchall()[0])
            for name in sorted(names)
        }
