"""The component's batch job: score the theme's rows of a period and write them to a table.

Run by papermill from the pack's batch.ipynb (parameters: start, end or days, output,
output_table, warehouse), by the systemd timer or cron line beside it, or directly with
`matsuri handoff batch DIR`. The warehouse is only read; the table goes to its own DuckDB file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from matsuri.errors import UsageError
from matsuri.handoff import component

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"


@dataclass
class BatchResult:
    output: Path
    table: str
    rows: int
    start: str
    end: str


def period(start: str = "", end: str = "", days: int = 7) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end): given dates, else the `days` before `end` (today when empty)."""
    try:
        stop = pd.Timestamp(end) if end else pd.Timestamp(dt.date.today())
        begin = pd.Timestamp(start) if start else stop - pd.Timedelta(days=days)
    except ValueError as error:
        raise UsageError(f"start and end are dates like 2026-03-01 ({error}).") from None
    if begin >= stop:
        raise UsageError(f"The period is empty: start {begin:%Y-%m-%d} is not before end {stop:%Y-%m-%d}.")
    return begin, stop


def rows_between(comp: component.Component, con, begin: pd.Timestamp, stop: pd.Timestamp) -> pd.DataFrame:
    """The theme's rows whose time falls in [begin, stop)."""
    rows = comp.library.serving_rows(con, comp.spec.get("query"))
    when = pd.to_datetime(rows[comp.spec["time"]])
    return rows[(when >= begin) & (when < stop)].reset_index(drop=True)


def run(folder: str | Path = ".", start: str = "", end: str = "", days: int = 7,
        output: str | Path = "scores.duckdb", table: str = "predictions", warehouse: str = "") -> BatchResult:
    import re

    from matsuri.templates.tables import open_warehouse

    if not re.match(IDENTIFIER, table):
        raise UsageError(f"'{table}' is not a table name: use letters, digits and _ (e.g. push_scores).")
    comp = component.load(Path(folder))
    begin, stop = period(start, end, days)
    con = open_warehouse(warehouse or None, comp.library.NEEDS)
    try:
        chosen = rows_between(comp, con, begin, stop)
        if chosen.empty:
            raise UsageError(f"No {comp.spec['time']} falls between {begin:%Y-%m-%d} and {stop:%Y-%m-%d} "
                             "in the warehouse: nothing to score. Check the dates (start, end) and the "
                             "warehouse the job reads.")
        scored = component.predict(comp.library, comp.spec, comp.model, chosen, con)
    finally:
        con.close()
    scored = scored.assign(scored_at=pd.Timestamp.now(tz="UTC").floor("s").tz_localize(None),
                           submission=comp.spec["submission"])
    with duckdb.connect(str(output)) as out:
        out.register("scored", scored)
        out.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM scored")
    return BatchResult(Path(output), table, len(scored), f"{begin:%Y-%m-%d}", f"{stop:%Y-%m-%d}")
