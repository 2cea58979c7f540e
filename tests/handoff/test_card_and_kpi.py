"""Does every theme's KPI sheet hold plausible weekly numbers (the push open rate equal to what
pandas computes), is a bad [[kpi]] refused with its key named, and does the model card show every
metric against every baseline, say when no human baseline was measured, escape what a team typed,
and fit a phone's screen?"""

from __future__ import annotations

import copy
import dataclasses
import re
import shutil

import duckdb
import pandas as pd
import pytest

from conftest import ROOT, build_company
from matsuri import theme_spec
from matsuri.errors import UsageError
from matsuri.handoff import card, kpi
from matsuri.warehouse.query import connect

PNG = b"\x89PNG\r\n\x1a\n"
NOT_MEASURED = "not measured: ask the people who do this by hand today how often they are right"
COMPONENT = {
    "format": 1, "theme": "push-open-rate",
    "title": {"ja": "プッシュ通知の開封予測", "en": "Push notification open rate"},
    "description": {"ja": "通知が開封されるかを送信前に予測します。",
                    "en": "Predict before sending whether a push will be opened."},
    "team": "alpha", "team_name": "<script>alert('x')</script> Team", "owner": "alpha",
    "submission": 12, "submitted_at": "2026-03-20T10:00:00+00:00",
    "created": "2026-12-02T08:00:00+00:00", "kit_version": "0.1.0",
    "kind": "probability", "id": "delivery_id", "label": "opened",
    "inputs": [{"name": "delivery_id", "type": "integer", "nullable": False},
               {"name": "send_hour", "type": "integer", "nullable": False},
               {"name": "delivered_at", "type": "datetime", "nullable": False},
               {"name": "past_open_rate", "type": "number", "nullable": True},
               {"name": "personalized", "type": "boolean", "nullable": False},
               {"name": "category", "type": "string", "nullable": False}],
    "features": ["send_hour", "category"],
    "model": {"class": "sklearn.pipeline.Pipeline",
              "summary": "FunctionTransformer → ColumnTransformer → LogisticRegression",
              "file": "model.skops"},
    "trained_on": {"warehouse": "company.duckdb", "build": "b1c2", "scale": "small", "seed": 7,
                   "rows": 123456, "from": "2025-04-01", "to": "2026-03-31"},
    "metrics": {"where": {"ja": "ホールドアウト（非公開部分）", "en": "the holdout (private part)"},
                "model": {"roc_auc": 0.7123, "log_loss": 0.3301},
                "baselines": [
                    {"name": {"ja": "ユーザーの過去の開封率", "en": "the user's past open rate"},
                     "kind": "naive", "scores": {"roc_auc": 0.6612, "log_loss": 0.3544}},
                    {"name": {"ja": "夜だけ送る", "en": "evening sends only"},
                     "kind": "rule", "scores": {"roc_auc": 0.7250, "log_loss": 0.3412}}]},
    "retrain": "matsuri handoff alpha --submission 12 --out DIR",
}


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return build_company(tmp_path_factory.mktemp("kpi-company"))


@pytest.fixture(scope="module")
def sheets(company, tmp_path_factory):
    """Every theme's KPI sheet, written once."""
    out = tmp_path_factory.mktemp("kpi")
    con = connect(company.warehouse)
    try:
        return {tid: kpi.sheet(con, spec, out / tid) for tid, spec in theme_spec.all_themes().items()}
    finally:
        con.close()


PLAUSIBLE = {"rate": (0.0, 1.0), "count": (0.0, float("inf")), "yen": (1.0, 1e7), "days": (0.0, 400.0)}


@pytest.mark.parametrize("theme_id", sorted(theme_spec.all_themes()))
def test_does_every_kpi_of_every_theme_give_plausible_weekly_values(sheets, theme_id):
    spec, sheet = theme_spec.get(theme_id), sheets[theme_id]
    assert spec.kpis, f"{theme_id} declares no [[kpi]]"
    table = pd.read_csv(sheet.csv, parse_dates=["week"])
    assert list(table.columns) == ["kpi", "week", "value"]
    for k in spec.kpis:
        rows = table[table["kpi"] == k.name]
        assert len(rows) >= 10, f"{k.name}: only {len(rows)} weeks"
        assert (rows["week"].dt.weekday == 0).all()               # each week is its Monday
        assert rows["week"].is_monotonic_increasing and rows["week"].is_unique
        low, high = PLAUSIBLE[k.unit]
        assert rows["value"].between(low, high).all(), f"{k.name}: {rows['value'].describe()}"
        if k.unit == "count":
            assert (rows["value"] == rows["value"].round()).all()
        latest = sheet.latest[k.name]
        assert latest.week == rows["week"].iloc[-1].date()
        assert latest.value == pytest.approx(rows["value"].iloc[-1])
        assert latest.shown == k.show(latest.value)
    sql = sheet.sql.read_text(encoding="utf-8")
    for k in spec.kpis:
        assert f"-- {k.name}: {k.title['ja']} / {k.title['en']}" in sql
        assert k.sql.strip() in sql
    assert sheet.png.read_bytes()[:8] == PNG and sheet.png.stat().st_size > 10_000


def test_is_the_weekly_open_rate_what_pandas_computes(company, sheets):
    with duckdb.connect(str(company.warehouse), read_only=True) as con:
        deliveries = con.sql("SELECT delivered_at, opened_at FROM push_deliveries").df()
    at = deliveries["delivered_at"]
    monday = at.dt.normalize() - pd.to_timedelta(at.dt.weekday, unit="D")
    expected = deliveries["opened_at"].notna().groupby(monday).mean()
    expected = expected[expected.index < expected.index.max()]   # the week in progress left out
    table = pd.read_csv(sheets["push-open-rate"].csv, parse_dates=["week"])
    got = table[table["kpi"] == "weekly_open_rate"].set_index("week")["value"]
    assert list(got.index) == list(expected.index)
    assert got.to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-9)
    overall = deliveries["opened_at"].notna().mean()
    assert 0.05 < overall < 0.3                                    # about one in seven is opened


@pytest.fixture
def push_folder(tmp_path):
    folder = tmp_path / "push-open-rate"
    shutil.copytree(ROOT / "templates" / "push-open-rate", folder)
    return folder


@pytest.mark.parametrize(("change", "named"), [
    (('unit = "rate"', 'unit = "rate"\ngoal = 0.2'),
     "`kpi[0].goal` is not a setting matsuri knows"),
    (('unit = "rate"', 'units = "rate"'), "`kpi[0].unit` is missing"),
    (('title = { ja = "週ごとの開封率", en = "Weekly open rate" }',
      'title = { en = "Weekly open rate" }'), "`kpi[0].title.ja` is missing"),
    (('unit = "rate"', 'unit = "percent"'), "`kpi[0].unit` must be one of rate, count, yen, days"),
    (('unit = "rate"', 'unit = "rates"'), "(did you mean rate?)"),
    (('name = "weekly_deliveries"', 'name = "weekly_open_rate"'), "`kpi` names a KPI twice"),
    (('name = "weekly_open_rate"', 'name = "weekly open rate"'), "`kpi[0].name` must be"),
])
def test_is_a_bad_kpi_refused_with_its_key_named(push_folder, change, named):
    path = push_folder / "theme.toml"
    text = path.read_text(encoding="utf-8")
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(UsageError) as error:
        theme_spec.load(push_folder)
    assert named in str(error.value)
    assert str(path) in str(error.value)


def test_does_a_theme_without_kpis_still_load(push_folder):
    path = push_folder / "theme.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:text.index("[[kpi]]")], encoding="utf-8")
    assert theme_spec.load(push_folder).kpis == ()


@pytest.mark.parametrize(("sql", "said"), [
    ("SELECT week, value FROM no_such_table", "could not run"),
    ("SELECT DATE '2026-01-05' AS week, 1 AS value WHERE false", "returned no values"),
    ("SELECT DATE '2026-01-05' AS week", "without value"),
    ("SELECT delivered_at::DATE AS week, 1 AS value FROM push_deliveries GROUP BY 1",
     "one row per week"),
    ("CREATE TABLE kpi AS SELECT 1 AS value", "could not run"),
])
def test_does_a_failing_or_empty_kpi_name_itself_and_its_theme_toml(company, tmp_path, sql, said):
    spec = theme_spec.get("push-open-rate")
    broken = dataclasses.replace(spec, kpis=(theme_spec.KpiSpec(
        "broken_kpi", {"ja": "壊れた指標", "en": "Broken"}, "rate", sql),))
    con = connect(company.warehouse)
    try:
        with pytest.raises(UsageError) as error:
            kpi.sheet(con, broken, tmp_path)
    finally:
        con.close()
    assert "'broken_kpi'" in str(error.value) and said in str(error.value)
    assert str(spec.folder / "theme.toml") in str(error.value)
    assert not (tmp_path / kpi.CSV).exists()


def _card(tmp_path, component=COMPONENT, kpis=None):
    md, page = card.write(component, tmp_path, kpis)
    return md.read_text(encoding="utf-8"), page.read_text(encoding="utf-8")


def test_does_the_card_show_every_metric_against_every_baseline(tmp_path):
    md, page = _card(tmp_path)
    for heading in ("モデルカード", "目的", "担当と日付", "データと期間", "入力と特徴量", "評価",
                    "既知の限界", "再学習の方法", "呼び出し方", "Model card", "Purpose",
                    "Owner and dates", "Data and period", "Inputs and features", "How good it is",
                    "Known limits", "How to retrain", "How to call it"):
        assert re.search(rf"^#+ {re.escape(heading)}", md, re.M), heading
        assert f">{heading}" in page, heading
    assert md.index("## 目的") < md.index("## Purpose")               # Japanese first
    scores = [COMPONENT["metrics"]["model"]] + [b["scores"] for b in COMPONENT["metrics"]["baselines"]]
    for row in scores:
        for metric, value in row.items():
            shown = theme_spec.shown("push-open-rate", metric, value)
            assert shown in md and shown in page
    for b in COMPONENT["metrics"]["baselines"]:
        assert b["name"]["ja"] in md and b["name"]["en"] in md
    assert "beats it on every metric" in md                           # the naive baseline
    assert "beats it on some metrics only" in md                      # the rule: lower log loss only
    assert NOT_MEASURED in md and NOT_MEASURED in page
    assert "測定していません" in md
    for text in ("123,456", "2025-04-01", "b1c2", COMPONENT["retrain"], "POST /predict",
                 "GET /health", "papermill batch.ipynb", '"send_hour": 1', "monthly"):
        assert text in md, text
    assert "`past_open_rate`" in md and "The model has only seen" in md


def test_is_a_human_baseline_compared_when_given(tmp_path):
    component = copy.deepcopy(COMPONENT)
    component["metrics"]["baselines"].append(
        {"name": {"ja": "担当者の判断", "en": "the marketing team's picks"}, "kind": "human",
         "scores": {"roc_auc": 0.6}})
    md, _ = _card(tmp_path, component)
    assert NOT_MEASURED not in md
    assert "the marketing team's picks (people today): beats it on every metric" in md


def test_does_a_ranking_card_say_what_a_request_carries(tmp_path):
    component = copy.deepcopy(COMPONENT) | {
        "theme": "product-ordering", "kind": "ranking", "id": "user_id", "label": "",
        "inputs": [{"name": "user_id", "type": "integer", "nullable": False}], "features": [],
        "metrics": {"where": COMPONENT["metrics"]["where"], "model": {"ndcg@10": 0.31, "map@10": 0.2},
                    "baselines": [{"name": {"ja": "売れ筋", "en": "best sellers"}, "kind": "naive",
                                   "scores": {"ndcg@10": 0.25}}]}}
    md, _ = _card(tmp_path, component)
    assert "A request carries only `user_id`" in md and "Probabilities drift" not in md
    assert "retrain monthly" in md and "was not recorded" in md
    assert "best sellers (naive): beats it on every metric — `ndcg@10` 0.3100 vs 0.2500" in md
    assert '"rows": [\n    {\n      "user_id": 1' in md


def test_is_what_a_team_typed_escaped(tmp_path):
    md, page = _card(tmp_path)
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert not re.search(r"(?<!\\)</?[a-zA-Z][^>]*(?<!\\)>", md), "the Markdown holds HTML"
    assert r"\<script\>" in md
    assert '<html lang="ja">' in page and '<meta charset="utf-8">' in page
    assert not re.search(r"<link|<script|src=\"http", page)


def test_does_the_card_link_the_kpi_sheet(tmp_path, sheets):
    sheet = sheets["push-open-rate"]
    out = sheet.csv.parent.parent                      # the sheet sits in a folder beside the card
    md, page = _card(out, kpis=sheet)
    folder = sheet.csv.parent.name
    assert f"({folder}/kpi.png)" in md and f"({folder}/kpi.csv)" in md
    assert "## KPI" in md and "週ごとの開封率" in md and "Weekly open rate" in md
    assert sheet.latest["weekly_open_rate"].shown in md
    assert "data:image/png;base64," in page and f'href="{folder}/kpi.csv"' in page


@pytest.mark.slow
@pytest.mark.browser
def test_does_the_card_fit_a_phone_and_a_wide_screen(tmp_path, sheets, browser):
    sheet = sheets["push-open-rate"]
    _, page_path = card.write(COMPONENT, sheet.csv.parent.parent, sheet)
    for width in (390, 1920):
        page = browser.new_page(viewport={"width": width, "height": 900})
        try:
            page.goto(page_path.as_uri())
            scroll, client = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert scroll <= client, f"{width}px: the page scrolls sideways ({scroll} > {client})"
            main = page.evaluate("document.querySelector('main').getBoundingClientRect().width")
            assert main <= min(width, 1000)
            assert page.evaluate("document.querySelector('img').naturalWidth") > 0
        finally:
            page.close()
