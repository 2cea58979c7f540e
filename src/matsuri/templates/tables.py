"""Your tables under our names: open the data read-only, checked against the theme's contract.

A template's SQL always speaks of the festival's tables (push_deliveries, sales_calls, …) and types.
A company keeps the same facts under other names, in another schema, in Parquet or CSV files, with
dates as text or epoch numbers and ids as strings. `open_warehouse` checks the company's tables
against the theme's data contract (`matsuri.templates.contract`), then creates temporary views with
our names and types over theirs (in memory, nothing is written), so the rest of the notebook runs
unchanged. What it found (and what it does about it) is shown as a short table; what it cannot
read stops it before any training, with one line per problem.

Files (Parquet, CSV) and views over files are read once, with file access on, into a private
snapshot (a DuckDB file in a temporary folder, removed at exit) that is then opened like the
warehouse: read-only and without file access.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import duckdb
import pandas as pd

from matsuri import paths
from matsuri.errors import NotFound, UsageError
from matsuri.templates.contract import ZONE_ENV, Findings, TableContract, inspect
from matsuri.warehouse import query

FILE_READERS = {".parquet": "read_parquet", ".csv": "read_csv", ".tsv": "read_csv"}
DEFAULT_ZONE = "Asia/Tokyo"  # the event's default (event.toml [event] timezone)


def open_warehouse(
    warehouse: str | None = None,
    needs: Mapping[str, TableContract | list[str]] | None = None,
    table_names: Mapping[str, str] | None = None,
    column_names: Mapping[str, str] | None = None,
    files: Mapping[str, str] | None = None,
    time_zone: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Connect read-only and present every needed table and column under our names and types.

    needs: our table -> its contract (a library's NEEDS) or just the columns that must exist.
    table_names: our table -> yours, e.g. {"push_deliveries": "crm.app_push_log"}.
    column_names: "our_table.our_column" -> your column, e.g. {"push_deliveries.opened_at": "open_time"}.
    files: our table -> a Parquet or CSV file holding it, e.g. {"push_deliveries": "push_log.parquet"}.
    time_zone: the zone dates are shown in (default: the event's); dates that name no zone
        (ISO text without an offset, TIMESTAMP) are taken to be in it already.
    """
    from matsuri.templates.sqlcell import plain_errors

    plain_errors()  # a problem with the data reads as a message, not as a traceback
    con, findings = _open(warehouse, needs, table_names, column_names, files, time_zone)
    if findings.worth_showing:
        _show(findings)
    return con


def check_data(warehouse: str | None, needs, table_names=None, column_names=None, files=None,
               time_zone: str | None = None) -> Findings:
    """What `open_warehouse` would find, without keeping the connection (`matsuri data check`)."""
    con, findings = _open(warehouse, needs, table_names, column_names, files, time_zone, stop=False)
    con.close()
    return findings


def _open(warehouse, needs, table_names, column_names, files, time_zone, stop: bool = True):
    contracts = {t: c if isinstance(c, TableContract) else TableContract.plain(t, c)
                 for t, c in dict(needs or {}).items()}
    table_names, column_names = dict(table_names or {}), dict(column_names or {})
    files = {t: str(f) for t, f in dict(files or {}).items()}
    _check_keys(contracts, table_names, column_names, files)
    zone = _zone(time_zone)
    con = query.connect(warehouse or None) if not files else _snapshot(warehouse, files, table_names)
    try:
        sources = _sources(con, contracts, table_names)
        if sources is None:  # a needed relation reads files: read them once, into a snapshot
            con.close()
            con = _snapshot(warehouse, files, table_names)
            sources = _sources(con, contracts, table_names)
        _check_columns(con, contracts, sources, column_names)
        views, findings = inspect(con, contracts, sources, column_names, zone)
        stops = [f for f in findings if f.stops]
        if stops and stop:
            lines = {lang: "\n".join(f"- {f.line(lang)}" for f in stops) for lang in ("en", "ja")}
            raise UsageError(f"The data cannot be used as it is ({len(stops)} problem"
                             f"{'s' if len(stops) > 1 else ''}), so nothing was trained:\n{lines['en']}",
                             ja=f"データをこのままでは使えないため、学習する前に止めました"
                                f"（問題 {len(stops)} 件）:\n{lines['ja']}")
        for view in views:
            if not view.plain:
                con.execute(f'CREATE TEMP VIEW "{view.table.name}" AS {view.sql()}')
    except BaseException:
        con.close()
        raise
    return con, findings


def _show(findings: Findings) -> None:
    """As a table in a notebook; as lines on stderr elsewhere (a batch, the CLI)."""
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        from IPython.display import display

        display(findings)
    else:
        print(f"What the data check found:\n{findings}", file=sys.stderr)


def _zone(time_zone: str | None) -> str:
    """The zone given, else the event's, else the kit's default; a wrong name says so."""
    import os
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    time_zone = time_zone or os.environ.get(ZONE_ENV)
    if not time_zone:
        try:
            from matsuri.hackathon import event, settings

            time_zone = settings.load(event.event_dir() / event.SETTINGS_FILE).timezone
        except Exception:  # no event here (a hand-off, a laptop): the kit's default
            time_zone = DEFAULT_ZONE
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"time_zone = {time_zone!r} is not a time zone. Use a name like "
                         "'Asia/Tokyo' or 'UTC'.") from None
    return time_zone


def _relations(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every table and view of the database: name as a person writes it -> quoted qualified name.
    Tables of the main schema are written bare, others as schema.table."""
    rows = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() ORDER BY table_schema <> 'main', table_schema, table_name"
    ).fetchall()
    catalog = con.execute("SELECT current_database()").fetchall()[0][0]
    return {(table if schema == "main" else f"{schema}.{table}"): f'"{catalog}"."{schema}"."{table}"'
            for schema, table in rows}


def _sources(con, contracts, table_names) -> dict[str, tuple[str, str]] | None:
    """Our table -> (your name, quoted relation); None when one of them reads files."""
    present = _relations(con)
    by_bare: dict[str, list[str]] = {}
    for name in present:
        by_bare.setdefault(name.rpartition(".")[2], []).append(name)
    sources = {}
    for ours in contracts:
        theirs = table_names.get(ours, ours)
        if theirs not in present and len(by_bare.get(theirs, [])) == 1:
            theirs = by_bare[theirs][0]  # the only table of that name, in another schema
        if theirs not in present:
            raise NotFound(_missing_table(ours, theirs, present))
        try:
            con.execute(f"SELECT * FROM {present[theirs]} LIMIT 0").fetchall()
        except duckdb.PermissionException:
            return None
        sources[ours] = (theirs, present[theirs])
    return sources


def _check_columns(con, contracts, sources, column_names) -> None:
    for ours, contract in contracts.items():
        theirs, relation = sources[ours]
        present = [r[0] for r in con.execute(f"SELECT column_name FROM (DESCRIBE {relation})").fetchall()]
        mapping = {c: column_names.get(f"{ours}.{c}", c) for c in contract.column_names}
        absent = [f"{c} (looked for '{yours}')" for c, yours in mapping.items() if yours not in present]
        if absent:
            raise NotFound(
                f"The table '{theirs}' has no column for {', '.join(absent)}. Its columns are: "
                f"{', '.join(present)}. Name yours in the parameters cell, for example "
                f"column_names = {{'{ours}.{contract.column_names[0]}': 'your_column'}}."
            )


def _snapshot(warehouse, files: Mapping[str, str], table_names: Mapping[str, str]):
    """Read the warehouse (views over files included) and the given files into a private DuckDB
    file, then open that read-only and without file access, as the warehouse itself is opened."""
    folder = Path(tempfile.mkdtemp(prefix="matsuri-data-"))
    atexit.register(shutil.rmtree, folder, True)
    target = folder / "data.duckdb"
    with duckdb.connect(str(target), config={"threads": 2}) as copy:
        if warehouse or not files:
            source = Path(warehouse) if warehouse else paths.warehouse_path()
            if not source.is_file():
                query.connect(source)  # its message: where the warehouse should be, how to build it
            copy.execute(f"ATTACH '{_literal(source)}' AS company (READ_ONLY)")
            for schema, name in copy.execute(
                    "SELECT table_schema, table_name FROM information_schema.tables "
                    "WHERE table_catalog = 'company'").fetchall():
                copy.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                _copy(copy, f'"{schema}"."{name}"', f'SELECT * FROM company."{schema}"."{name}"', name)
            copy.execute("DETACH company")
        for ours, path in files.items():
            file = Path(path)
            reader = FILE_READERS.get(file.suffix.lower())
            if reader is None or not file.is_file():
                raise UsageError(f"files['{ours}'] is {path!r}: "
                                 + ("no such file." if file.suffix.lower() in FILE_READERS else
                                    "give a .parquet or .csv file.")
                                 + " Paths are relative to the notebook's folder.")
            theirs = table_names.get(ours, ours)
            _copy(copy, f'"{theirs}"', f"SELECT * FROM {reader}('{_literal(file.resolve())}')", path)
    return duckdb.connect(str(target), read_only=True,
                          config={"enable_external_access": False, "threads": query.THREADS})


def _copy(con, target: str, select: str, shown: str) -> None:
    try:
        con.execute(f"CREATE OR REPLACE TABLE {target} AS {select}")
    except duckdb.Error as error:
        raise UsageError(f"Could not read {shown}: {query.first_line(error)}") from None


def _literal(path) -> str:
    return str(path).replace("'", "''")


def read(con: duckdb.DuckDBPyConnection, sql: str, **params) -> pd.DataFrame:
    """Run a SELECT (with $name parameters) and return a DataFrame; a bad query says why."""
    try:
        return con.execute(sql, params or None).df()
    except duckdb.Error as error:
        if query.is_write_refusal(error):
            raise UsageError(query.READ_ONLY_HINT) from None
        raise UsageError(f"The query could not run: {query.first_line(error)}") from None


def _missing_table(ours: str, theirs: str, present: Mapping[str, list[str]]) -> str:
    where = "" if ours == theirs else f" (your name for '{ours}')"
    return (
        f"The warehouse has no table '{theirs}'{where}. Its tables are: {', '.join(sorted(present))}. "
        f"If your data calls it something else, set table_names = {{'{ours}': 'your_table'}} "
        "in the parameters cell."
    )


def _check_keys(contracts: Mapping[str, TableContract], table_names: Mapping, column_names: Mapping,
                files: Mapping) -> None:
    """Catch typos in the parameters before they silently do nothing."""
    needs = {t: c.column_names for t, c in contracts.items()}
    unknown = [t for t in files if t not in needs]
    if unknown:
        raise UsageError(
            f"files mentions {', '.join(map(repr, unknown))}, which this template does not use. "
            f"It reads: {', '.join(needs)}. Keys are our names, values are your files."
        )
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
