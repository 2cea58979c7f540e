"""ml-101 lesson 5, exercises 8 and 9: does the model beat sql-101's targeting rule at the same reach?

The lesson writes sql-101 lesson 7's rule again ("send only to users who opened a push in October
or November 2025") and compares it with the model on the model's validation deliveries, the model
sending as many as the rule. Here the reference answer's numbers are recomputed from the warehouse
in SQL, at two seeds, and every statement the explanation makes about them is checked.
"""

from __future__ import annotations

import re
import tomllib

import nbformat
import pytest

from conftest import ROOT, build_company
from matsuri.grading import course as courses
from matsuri.grading.python_reference import reference_answers
from matsuri.warehouse.query import connect

LESSON = "05-metrics-for-the-business"
ML101 = ROOT / "courses" / "ml-101"
SQL101_Q7 = ROOT / "courses" / "sql-101" / "source" / "07-push-open-rates" / "07-push-open-rates.ipynb"

ENGAGED = ("SELECT DISTINCT user_id FROM push_deliveries "
           "WHERE opened_at >= '2025-10-01' AND opened_at < '2025-12-01'")
VALIDATION = ("SELECT d.user_id, d.opened_at FROM push_deliveries d JOIN push_notifications n USING (push_id) "
              "WHERE n.sent_at >= TIMESTAMP '2025-12-01'")


def cell(path, cell_id: str) -> str:
    return next(c.source for c in nbformat.read(path, as_version=4).cells if c.get("id") == cell_id)


def engaged_users(source: str) -> str:
    """The `engaged` step of a query, in one line: the rule's list of users."""
    found = re.search(r"engaged AS \((?:\s*--[^\n]*)?\s*(SELECT DISTINCT user_id.*?'2025-12-01')\s*\)", source, re.S)
    assert found, source
    return " ".join(found.group(1).split())


def test_the_lesson_writes_the_very_rule_of_sql101_lesson_7():
    rule = engaged_users(cell(ML101 / "source" / LESSON / f"{LESSON}.ipynb", "example-rule"))
    assert rule == engaged_users(cell(SQL101_Q7, "q7-sql")) == ENGAGED
    prose = cell(ML101 / "source" / LESSON / f"{LESSON}.ipynb", "teach-rule-en")
    assert "SQL 101, lesson 7" in prose


@pytest.fixture(scope="module")
def builds(tiny_company, tmp_path_factory):
    other = build_company(tmp_path_factory.mktemp("company-seed-11"), seed=11)
    lesson = courses.load("ml-101").lesson(LESSON)
    return {f"seed {built.seed}": (built.warehouse, reference_answers(lesson, built.warehouse))
            for built in (tiny_company, other)}


def test_the_rule_and_the_model_are_measured_on_the_validation_deliveries_at_the_same_reach(builds):
    for seed, (warehouse, answers) in builds.items():
        same_deliveries_same_reach(seed, warehouse, answers)


def test_the_explanation_says_what_the_data_shows(builds):
    """'the model's are opened clearly more often than the rule's, and the rule does little better
    than sending to everyone: its lift stays close to 1, while the model's is well above.'"""
    spec = tomllib.loads((ML101 / "exercises" / f"{LESSON}.toml").read_text(encoding="utf-8"))
    q8 = next(e for e in spec["exercise"] if e["name"] == "q8")
    assert "its lift stays close to 1" in q8["explanation"]["en"]
    assert "リフトは1に近いまま" in q8["explanation"]["ja"]
    for seed, (_, answers) in builds.items():
        explanation_holds(seed, answers)


@pytest.mark.slow
def test_at_small_scale_too(tmp_path):
    """Events run on `small` by default: the same checks there, at another seed."""
    built = build_company(tmp_path / "company", scale="small", seed=42)
    answers = reference_answers(courses.load("ml-101").lesson(LESSON), built.warehouse)
    same_deliveries_same_reach("small seed 42", built.warehouse, answers)
    explanation_holds("small seed 42", answers)


def same_deliveries_same_reach(seed, warehouse, answers):
    """The reference answer against the warehouse: the rule's deliveries and open rates in SQL,
    the model sending as many, the lift and the chart made of the same numbers."""
    table = answers["q8_answer"].set_index("targeting")
    with connect(warehouse) as con:
        n_all, rate_all, n_rule, rate_rule = con.execute(f"""
            WITH engaged AS ({ENGAGED}), validation AS ({VALIDATION})
            SELECT count(*), avg((opened_at IS NOT NULL)::INT),
                   count(*) FILTER (WHERE user_id IN (SELECT user_id FROM engaged)),
                   avg((opened_at IS NOT NULL)::INT) FILTER (WHERE user_id IN (SELECT user_id FROM engaged))
            FROM validation""").fetchone()
    assert 0 < n_rule < n_all, seed
    assert table.loc["everyone", "n_sent"] == n_all, seed
    assert table.loc["sql_rule", "n_sent"] == n_rule, seed
    assert table.loc["model", "n_sent"] == n_rule, f"{seed}: the model sends as many as the rule"
    assert table.loc["everyone", "open_rate"] == pytest.approx(rate_all), seed
    assert table.loc["sql_rule", "open_rate"] == pytest.approx(rate_rule), seed
    opened_by_model = table.loc["model", "open_rate"] * n_rule
    assert opened_by_model == pytest.approx(round(opened_by_model)), seed
    assert list(table["lift"]) == pytest.approx(list(table["open_rate"] / rate_all)), seed
    chart = answers["q9_answer"]
    assert chart.attrs["figure"]["kind"] == "bar"
    assert dict(zip(chart["label"], chart["value"], strict=True)) == pytest.approx(table["open_rate"].to_dict())


def explanation_holds(seed, answers):
    """The statements of exercise 8's explanation, on this build's numbers."""
    table = answers["q8_answer"].set_index("targeting")
    assert table.loc["model", "open_rate"] >= 1.25 * table.loc["sql_rule", "open_rate"], seed
    assert 0.8 <= table.loc["sql_rule", "lift"] <= 1.3, seed
    assert table.loc["model", "lift"] >= 1.4, seed
