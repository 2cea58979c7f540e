"""The KPI sheet: the business numbers a component should move, week by week.

A theme's spec declares its KPIs as warehouse queries returning (week, value) rows. The sheet runs
them once and writes what the people running the component need: the values (`kpi.csv`), the
queries to paste into a dashboard (`kpi.sql`) and a chart to read at a glance (`kpi.png`). A query
that fails or returns nothing stops the hand-off with the KPI and its theme.toml named, rather than
shipping an empty chart.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from matsuri.errors import UsageError
from matsuri.theme_spec import LANGUAGES, SPEC_FILE, KpiSpec, ThemeSpec
from matsuri.warehouse import query

CSV, SQL, PNG = "kpi.csv", "kpi.sql", "kpi.png"
AXIS = {  # the y axis label of each unit, Japanese first
    "rate": ("割合", "rate"), "count": ("件数", "count"), "yen": ("円", "yen"), "days": ("日数", "days"),
}
COLOURS = ["#00798c", "#d1495b", "#30638e", "#edae49", "#66a182", "#003d5b"]


@dataclass(frozen=True)
class Latest:
    """A KPI's most recent week and its value."""

    kpi: KpiSpec
    week: dt.date
    value: float

    @property
    def shown(self) -> str:
        return self.kpi.show(self.value)


@dataclass(frozen=True)
class KpiSheet:
    theme: str
    csv: Path
    sql: Path
    png: Path
    latest: dict[str, Latest]      # by KPI name, in the spec's order


def sheet(con: duckdb.DuckDBPyConnection, theme: ThemeSpec, out: Path, lang: str = "ja") -> KpiSheet:
    """Run every KPI of the theme on the warehouse and write kpi.csv, kpi.sql and kpi.png to `out`.

    `lang` is the language shown first in titles (the other follows)."""
    if lang not in LANGUAGES:
        raise UsageError(f"Unknown language '{lang}' for the KPI sheet: use one of {', '.join(LANGUAGES)}.")
    if not theme.kpis:
        raise UsageError(f"The theme {theme.id} declares no KPI: add [[kpi]] entries (name, title, "
                         f"unit, sql) to {theme.folder / SPEC_FILE}.")
    frames = {kpi.name: _run(con, theme, kpi) for kpi in theme.kpis}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = pd.concat([f.assign(kpi=name)[["kpi", "week", "value"]] for name, f in frames.items()])
    _write(out / CSV, table.to_csv(index=False, date_format="%Y-%m-%d", float_format="%.10g").encode("utf-8"))
    _write(out / SQL, queries(theme, lang).encode("utf-8"))
    _write(out / PNG, chart(theme, frames, lang))
    latest = {}
    for kpi in theme.kpis:
        known = frames[kpi.name].dropna(subset=["value"])
        last = known.iloc[-1]
        latest[kpi.name] = Latest(kpi, last["week"], float(last["value"]))
    return KpiSheet(theme.id, out / CSV, out / SQL, out / PNG, latest)


def _run(con, theme: ThemeSpec, kpi: KpiSpec) -> pd.DataFrame:
    """One KPI's rows as (week: date, value: float), sorted; anything unusable is an error."""
    where = f"The KPI '{kpi.name}' of {theme.folder / SPEC_FILE}"
    try:
        relation = con.sql(kpi.sql)
        frame = relation.df() if relation is not None else None
    except duckdb.Error as error:
        problem = ("it tries to change the warehouse, which is read-only"
                   if query.is_write_refusal(error) else query.first_line(error))
        raise UsageError(f"{where} could not run: {problem}. Fix its `sql` (try it with "
                         "`matsuri data query`) and run the hand-off again.") from None
    if frame is None:
        raise UsageError(f"{where} is not a query: its `sql` must be one SELECT returning `week` "
                         "and `value`.")
    missing = [c for c in ("week", "value") if c not in frame.columns]
    if missing:
        raise UsageError(f"{where} returned the columns {', '.join(map(str, frame.columns))}, "
                         f"without {' and '.join(missing)}: every KPI query returns `week` (a DATE) "
                         "and `value`.")
    try:
        weeks = pd.to_datetime(frame["week"]).dt.date
        values = pd.to_numeric(frame["value"]).astype(float)
    except (ValueError, TypeError):
        raise UsageError(f"{where} must return dates in `week` and numbers in `value`.") from None
    rows = pd.DataFrame({"week": weeks, "value": values}).sort_values("week", ignore_index=True)
    if rows["value"].isna().all():
        raise UsageError(f"{where} returned no values (no rows, or only NULLs): the warehouse has "
                         "no data for it. Check its `sql` against `matsuri data describe`.")
    if rows["week"].duplicated().any() or len({w.weekday() for w in rows["week"]}) > 1:
        raise UsageError(f"{where} must return one row per week: group by "
                         "date_trunc('week', …)::DATE AS week.")
    return rows


def queries(theme: ThemeSpec, lang: str = "ja") -> str:
    """Every KPI query with its title as a comment, ready to paste into a dashboard."""
    first, second = _order(lang)
    lines = [f"-- KPI: {theme.title[first]} / {theme.title[second]} ({theme.id})",
             f"-- from templates/{theme.id}/{SPEC_FILE}",
             "-- 各クエリは週ごとに 1 行 (week: 週の月曜日, value) を返します。",
             "-- Each query returns one row per week: week (its Monday) and value.", ""]
    for kpi in theme.kpis:
        lines += [f"-- {kpi.name}: {kpi.title[first]} / {kpi.title[second]} (unit: {kpi.unit})",
                  kpi.sql.strip().rstrip(";") + ";", ""]
    return "\n".join(lines)


def chart(theme: ThemeSpec, frames: dict[str, pd.DataFrame], lang: str = "ja") -> bytes:
    """One small weekly line chart per KPI, stacked, each titled in both languages: PNG bytes."""
    import io

    from matplotlib import dates as mdates
    from matplotlib import ticker
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from matsuri.plotting import use_japanese_font

    use_japanese_font()
    first, second = _order(lang)
    fig = Figure(figsize=(7.5, 0.6 + 2.7 * len(theme.kpis)), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(theme.kpis), 1, squeeze=False)[:, 0]
    for ax, kpi, colour in zip(axes, theme.kpis, COLOURS * len(theme.kpis), strict=False):
        rows = frames[kpi.name]
        weeks = pd.to_datetime(rows["week"])
        ax.plot(weeks, rows["value"], color=colour, linewidth=1.8, marker="o", markersize=2.5)
        known = rows.dropna(subset=["value"])
        last_week, last = pd.Timestamp(known["week"].iloc[-1]), known["value"].iloc[-1]
        ax.plot([last_week], [last], "o", color=colour, markersize=6)
        ax.annotate(kpi.show(last), (last_week, last), xytext=(6, 6), textcoords="offset points",
                    fontsize=9, color=colour)
        ax.set_title(f"{kpi.title[first]}\n{kpi.title[second]}", loc="left", fontsize=11)
        ax.set_ylabel(" / ".join(AXIS[kpi.unit] if first == "ja" else AXIS[kpi.unit][::-1]))
        ax.set_xlabel("週 / week" if first == "ja" else "week / 週")
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _, kpi=kpi: kpi.show(v)))
        ax.xaxis.set_major_locator(mdates.MonthLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(alpha=0.3)
        ax.margins(x=0.08)
        ax.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _order(lang: str) -> tuple[str, str]:
    return (lang, next(other for other in LANGUAGES if other != lang))


def _write(path: Path, data: bytes) -> None:
    """Whole or not at all: a reader never sees half a file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
