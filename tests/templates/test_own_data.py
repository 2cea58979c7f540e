"""Templates on a company's own data: the theme's contract is checked when the data opens.

Each test builds, from the tiny company, a copy shaped the way real exports differ (dates as ISO
text, epoch numbers or zoned timestamps, booleans as 0/1, a table in another schema, a view over a
Parquet file, a CSV file) or broken the way they break (an empty holdout, duplicate ids, dates that
are not dates). A shaped copy reads exactly like the original; a broken one stops before any
training with one line per problem naming the company's table and column.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import papermill
import pytest

from conftest import run_matsuri
from matsuri import theme_spec
from matsuri.errors import UsageError
from matsuri.templates.tables import open_warehouse
from templates.conftest import NEEDS, run_starter

THEMES = sorted(NEEDS)
ZONE = "Asia/Tokyo"
# how a timestamp column can arrive, as SQL on the original column (stored in Tokyo time)
SHAPES = {
    "iso text": "coalesce(CAST({c} AS VARCHAR), '')",                      # '' for not opened
    "epoch milliseconds": f"epoch_ms(timezone('{ZONE}', {{c}}))",
    "zoned timestamp": f"timezone('{ZONE}', {{c}})",                         # TIMESTAMPTZ
    "iso text with offset": f"CAST(timezone('{ZONE}', {{c}}) AS VARCHAR)",    # '…+00' (UTC)
    "epoch seconds": f"epoch(timezone('{ZONE}', {{c}}))",
}


def shaped_company(warehouse: Path, folder: Path, theme: str) -> tuple[Path, dict, dict]:
    """A copy of the warehouse with the theme's tables in other shapes. Returns the copy and the
    table_names / files parameters that point the template at them."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "company.duckdb"
    shutil.copy(warehouse, copy)
    shapes = itertools.cycle(SHAPES.values())
    table_names, files = {}, {}
    with duckdb.connect(str(copy)) as con:
        con.execute("SET TimeZone = 'UTC'")
        for i, (table, contract) in enumerate(NEEDS[theme].items()):
            kinds = {c.name: c.type for c in contract.columns}
            columns = [name for name, *_ in con.execute(f'DESCRIBE "{table}"').fetchall()]
            select = []
            for name in columns:
                quoted = f'"{name}"'
                if kinds.get(name) == "timestamp":
                    select.append(f"{next(shapes).format(c=quoted)} AS {quoted}")
                elif kinds.get(name) == "boolean":
                    select.append(f"CAST({quoted} AS INTEGER) AS {quoted}")
                else:
                    select.append(quoted)
            shaped = f"SELECT {', '.join(select)} FROM \"{table}\""
            if i == 0:  # in another schema, under another name
                con.execute("CREATE SCHEMA IF NOT EXISTS crm")
                con.execute(f'CREATE TABLE crm."export_{table}" AS {shaped}')
                table_names[table] = f"crm.export_{table}"
            elif i == 1:  # a view over a Parquet file
                con.execute(f"COPY ({shaped}) TO '{folder / table}.parquet'")
                con.execute(f'CREATE VIEW "shaped_{table}" AS SELECT * FROM read_parquet(\'{folder / table}.parquet\')')
                table_names[table] = f"shaped_{table}"
            elif i == 2:  # a CSV file next to the warehouse
                con.execute(f"COPY ({shaped}) TO '{folder / table}.csv' (HEADER)")
                files[table] = str(folder / f"{table}.csv")
            else:
                con.execute(f'CREATE TABLE "shaped_{table}" AS {shaped}')
                table_names[table] = f"shaped_{table}"
            con.execute(f'DROP TABLE "{table}"')
    return copy, table_names, files


def _contents(con, table: str, columns: list[str]) -> pd.DataFrame:
    listed = ", ".join(f'"{c}"' for c in columns)
    return con.execute(f'SELECT {listed} FROM "{table}" ORDER BY ALL').df()


@pytest.mark.parametrize("theme", THEMES)
def test_every_shape_reads_exactly_like_the_original(theme, tiny_company, tmp_path):
    """Dates as ISO text, epoch numbers or zoned timestamps, booleans as 0/1, tables in another
    schema, behind a Parquet view or in a CSV file: every table reads exactly as the original."""
    copy, table_names, files = shaped_company(tiny_company.warehouse, tmp_path / "acme", theme)
    with open_warehouse(tiny_company.warehouse, NEEDS[theme]) as original, \
            open_warehouse(copy, NEEDS[theme], table_names, {}, files, ZONE) as shaped:
        for table, contract in NEEDS[theme].items():
            pd.testing.assert_frame_equal(_contents(shaped, table, contract.column_names),
                                          _contents(original, table, contract.column_names),
                                          check_dtype=False, obj=f"{theme}: {table}")


@pytest.mark.parametrize("theme", THEMES)
def test_a_starter_on_the_shaped_company_predicts_what_it_predicts_on_the_original(
        theme, tiny_company, tiny_starter, tmp_path):
    copy, table_names, files = shaped_company(tiny_company.warehouse, tmp_path / "acme", theme)
    run = run_starter(theme, copy, tmp_path / "run", table_names=table_names, files=files, time_zone=ZONE)
    original = tiny_starter(theme)
    for name in sorted(p.name for p in original.submission.glob("*.csv")):
        pd.testing.assert_frame_equal(run.read(name), original.read(name), obj=f"{theme}: {name}")


def broken_company(warehouse: Path, folder: Path, theme: str) -> tuple[Path, str, str]:
    """The holdout with a duplicate id, and a training table whose dates are not dates."""
    spec = theme_spec.get(theme)
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "broken.duckdb"
    shutil.copy(warehouse, copy)
    training = next(t for t, c in NEEDS[theme].items()
                    if not c.holdout and any(col.type == "timestamp" for col in c.columns))
    when = next(col.name for col in NEEDS[theme][training].columns if col.type == "timestamp")
    with duckdb.connect(str(copy)) as con:
        con.execute(f'INSERT INTO "{spec.holdout_table}" SELECT * FROM "{spec.holdout_table}" LIMIT 2')
        rest = [n for n, *_ in con.execute(f'DESCRIBE "{training}"').fetchall()]
        select = ", ".join(f"strftime(\"{n}\", '%d/%m/%Y %H:%M') AS \"{n}\"" if n == when else f'"{n}"'
                           for n in rest)
        con.execute(f'CREATE TABLE broken AS SELECT {select} FROM "{training}"')
        con.execute(f'DROP TABLE "{training}"')
        con.execute(f'ALTER TABLE broken RENAME TO "{training}"')
    return copy, training, when


@pytest.mark.parametrize("theme", THEMES)
def test_a_starter_on_broken_data_stops_before_training_naming_each_table_and_column(
        theme, tiny_company, tmp_path):
    spec = theme_spec.get(theme)
    copy, training, when = broken_company(tiny_company.warehouse, tmp_path / "acme", theme)
    with pytest.raises(papermill.PapermillExecutionError) as stopped:
        run_starter(theme, copy, tmp_path / "run")
    message = str(stopped.value)  # in the learner's language (Japanese unless MATSURI_LANG says)
    assert f"{training}.{when}: VARCHAR 型で" in message and "TIMESTAMP として読めません" in message, message
    assert f"{spec.holdout_table}.{spec.id_column}: 重複しています" in message, message
    assert "2 個の ID が重複" in message and "学習する前に止めました" in message, message
    assert not [line for line in stopped.value.traceback if "tables.py" in line]  # a message, no traceback
    assert not list((tmp_path / "run").glob("submission*/*.csv"))  # nothing trained, nothing written


def test_an_empty_holdout_and_missing_values_are_named_not_left_to_the_model(tiny_company, tmp_path):
    copy = tmp_path / "acme.duckdb"
    shutil.copy(tiny_company.warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("DELETE FROM holdout_push_deliveries")
        con.execute("UPDATE push_deliveries SET delivered_at = NULL WHERE delivery_id % 10 = 0")
        con.execute("INSERT INTO push_deliveries SELECT * FROM push_deliveries WHERE delivery_id % 10 = 1")
    with pytest.raises(UsageError) as stopped:
        open_warehouse(copy, NEEDS["push-open-rate"])
    assert "holdout_push_deliveries: is empty: no rows to predict" in str(stopped.value)
    assert "nothing was trained" in str(stopped.value)
    with duckdb.connect(str(copy)) as con:
        con.execute("INSERT INTO holdout_push_deliveries SELECT * EXCLUDE (opened_at) FROM push_deliveries "
                    "WHERE delivered_at IS NOT NULL LIMIT 100")
        con.execute("DELETE FROM push_deliveries WHERE delivery_id IN (SELECT delivery_id FROM holdout_push_deliveries)")
        before = con.execute("SELECT count(*), count(delivered_at), count(DISTINCT delivery_id) "
                             "FROM push_deliveries").fetchall()[0]
    with open_warehouse(copy, NEEDS["push-open-rate"]) as con:
        rows, dated = con.execute("SELECT count(*), count(delivered_at) FROM push_deliveries").fetchall()[0]
    from matsuri.templates.tables import check_data

    findings = check_data(copy, NEEDS["push-open-rate"])
    lines = {f.where: (f.action, f.found) for f in findings}
    assert lines["push_deliveries.delivered_at"][0] == "drop"
    assert f"{before[0] - before[1]:,} of {before[0]:,}" in lines["push_deliveries.delivered_at"][1]
    assert lines["push_deliveries.delivery_id"][0] == "keep one"
    assert rows == dated < before[1]  # the undated rows are gone, and one row per delivery is left
    assert findings.frame("ja").columns[0] == "場所"


def test_data_check_tells_a_data_team_before_the_event(tiny_company, tmp_path):
    """`matsuri data check`: a folder of Parquet files mapped with the papermill parameters file
    passes; an unreadable date column is named, and the exit code says the template would stop."""
    exports = tmp_path / "exports"
    exports.mkdir()
    with duckdb.connect(str(tiny_company.warehouse), read_only=True) as con:
        con.execute(f"COPY (SELECT * REPLACE (CAST(delivered_at AS VARCHAR) AS delivered_at) "
                    f"FROM push_deliveries) TO '{exports}/app_push_log.parquet'")
    params = tmp_path / "params.yaml"
    params.write_text("table_names:\n  push_deliveries: app_push_log\ntime_zone: Asia/Tokyo\n")
    good = run_matsuri(["data", "check", "--theme", "push-open-rate", str(exports), "-f", str(params)])
    assert "meets the push-open-rate contract" in good.out
    assert "not checked: push_notifications, holdout_push_deliveries" in good.out
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT * REPLACE ('yesterday' AS delivered_at) FROM '{exports}/app_push_log.parquet') "
                    f"TO '{exports}/app_push_log.csv'")
    (exports / "app_push_log.parquet").unlink()
    bad = run_matsuri(["data", "check", "--theme", "push-open-rate", str(exports), "-f", str(params)], exit_code=2)
    assert "app_push_log.delivered_at (our push_deliveries.delivered_at)" in bad.out
    assert "would stop the template" in bad.err


def test_a_contract_with_a_wrong_type_is_refused_naming_its_key(tmp_path):
    folder = tmp_path / "push-open-rate"
    shutil.copytree(theme_spec.get("push-open-rate").folder, folder)
    spec = folder / "theme.toml"
    spec.write_text(spec.read_text().replace('columns.user_id = { type = "id"', 'columns.user_id = { type = "identifier"', 1))
    with pytest.raises(UsageError, match=r"data\.push_deliveries\.columns\.user_id\.type` must be one of id, "):
        theme_spec.load(folder)


UNDATED = {"push-open-rate": "push_deliveries", "product-ordering": "orders", "call-keywords": "sales_calls",
           "churn": "events"}


def messy_company(warehouse: Path, folder: Path, theme: str) -> Path:
    """Training tables with repeated rows and rows missing a required date, pushes with no send
    time and orders with no customer (guest orders): the template says so and still predicts."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "messy.duckdb"
    shutil.copy(warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        for table, contract in NEEDS[theme].items():
            if contract.holdout:
                continue
            if contract.key:
                con.execute(f'INSERT INTO "{table}" SELECT * FROM "{table}" USING SAMPLE 5 ROWS (reservoir, 1)')
        # one table of facts loses some dates (rows of a dimension table would be lost to others)
        table = UNDATED[theme]
        when = next(c.name for c in NEEDS[theme][table].columns if c.type == "timestamp")
        con.execute(f'UPDATE "{table}" SET "{when}" = NULL WHERE hash(rowid) % 20 = 0')
        if theme == "push-open-rate":
            con.execute("UPDATE push_notifications SET sent_at = NULL WHERE push_id % 9 = 0")
        if theme == "product-ordering":
            con.execute("UPDATE orders SET user_id = NULL WHERE order_id % 25 = 0")
    return copy


@pytest.mark.parametrize("theme", THEMES)
def test_a_starter_on_messy_data_reports_what_it_dropped_and_still_predicts_every_holdout_row(
        theme, tiny_company, tmp_path):
    from matsuri.hackathon.themes import get_theme

    copy = messy_company(tiny_company.warehouse, tmp_path / "acme", theme)
    run = run_starter(theme, copy, tmp_path / "run")
    shown = run.text()
    assert "[keep one]" in shown and "[drop]" in shown, shown[:3000]
    if theme == "product-ordering":
        assert "orders.user_id: is empty in" in shown
    scorer = get_theme(theme)
    with duckdb.connect(str(copy), read_only=True) as w, duckdb.connect(str(tiny_company.labels), read_only=True) as lab:
        key = scorer.load_key(w, lab)
    tables = scorer.read(run.submission, key, 200_000_000)  # every holdout id, each once (or refused)
    scores = scorer.score(tables, key, __import__("numpy").ones(len(key.ids), dtype=bool))
    assert all(value == value for value in scores.values()), scores  # no NaN


@pytest.mark.parametrize("theme", THEMES)
def test_a_starter_with_an_empty_holdout_stops_at_once_naming_the_table(theme, tiny_company, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("MATSURI_LANG", "en")  # an English reader
    spec = theme_spec.get(theme)
    copy = tmp_path / "empty.duckdb"
    shutil.copy(tiny_company.warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute(f'DELETE FROM "{spec.holdout_table}"')
    with pytest.raises(papermill.PapermillExecutionError) as stopped:
        run_starter(theme, copy, tmp_path / "run")
    assert f"{spec.holdout_table}: is empty: no rows to predict" in str(stopped.value)
    assert not [line for line in stopped.value.traceback if "tables.py" in line]
    assert not list((tmp_path / "run").glob("submission*/*.csv"))


def test_too_little_history_is_noted_with_the_parameter_that_changes_it(tiny_company, tmp_path):
    from matsuri.templates.tables import check_data

    copy = tmp_path / "short.duckdb"
    shutil.copy(tiny_company.warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("DELETE FROM orders WHERE ordered_at < (SELECT max(ordered_at) - INTERVAL 30 DAY FROM orders)")
    short = {f.where: f for f in check_data(copy, NEEDS["product-ordering"])}
    assert short["orders.ordered_at"].action == "note"
    assert "covers 29 days" in short["orders.ordered_at"].found and "window_days" in short["orders.ordered_at"].todo
    assert "orders.ordered_at" not in {f.where for f in check_data(tiny_company.warehouse, NEEDS["product-ordering"])}
