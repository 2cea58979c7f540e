"""The model builder without a browser: every theme's query, the four models, the verdict, the
plain messages for bad choices, and the saved notebook repeating the run under papermill."""

from __future__ import annotations

from dataclasses import replace

import nbformat
import numpy as np
import pandas as pd
import pytest

from matsuri import theme_spec
from matsuri.builder import notebook, run
from matsuri.builder.recipe import Recipe
from matsuri.builder.verdict import Result
from matsuri.errors import UsageError
from matsuri.templates import columns
from matsuri.templates.bootstrap import Interval
from matsuri.templates.tables import open_warehouse

THEMES = sorted(t for t, spec in theme_spec.all_themes().items() if spec.builder)


@pytest.fixture(scope="module")
def con(tiny_company):
    connection = open_warehouse(str(tiny_company.warehouse))
    yield connection
    connection.close()


def started(con, theme: str, **changes) -> tuple[Recipe, run.Data]:
    """The theme's starting recipe with its ticked features typed, as the app starts."""
    recipe = Recipe.start(theme)
    data = run.load(con, recipe)
    recipe.features = {name: data.candidates[name] for name in recipe.features}
    for key, value in changes.items():
        setattr(recipe, key, value)
    return recipe, run.load(con, recipe)


def test_every_theme_offers_the_builder():
    assert THEMES == sorted(theme_spec.all_themes())


@pytest.mark.parametrize("theme", THEMES)
def test_each_theme_builds_validates_and_writes_a_file_the_hackathon_accepts(con, theme, tmp_path):
    recipe, data = started(con, theme, model="logistic")
    spec = theme_spec.get(theme)
    assert set(recipe.features) <= set(data.candidates)
    assert spec.id_column not in data.candidates and spec.builder.label not in data.candidates
    result = run.validate(data)
    assert set(result.values) == {"baseline", "logistic"}
    assert all(np.isfinite(v) for v in result.values.values())
    assert result.valid_rows > 0 and result.train_rows > result.valid_rows
    written = run.write(data, tmp_path, con)  # the kit's own submission checks ran on it
    frame = pd.read_csv(written)
    ids = con.execute(f"SELECT DISTINCT {spec.id_column} FROM {spec.holdout_table}").df()[spec.id_column]
    assert set(frame[spec.id_column]) == set(ids)


def test_a_model_learns_real_signal_on_churn(con):
    result = run.validate(started(con, "churn", model="logistic")[1])
    assert result.values["logistic"] > result.values["baseline"] > 0.5
    assert result.wins and "Submit logistic regression" in result.sentence("en")


def test_a_column_added_in_sql_becomes_a_feature_with_its_kind(con):
    recipe = Recipe.start("churn")
    recipe.sql = recipe.sql.replace("u.plan, u.age_band,", "u.plan, u.age_band, u.channel, u.signup_at,")
    data = run.load(con, recipe)
    assert data.candidates["channel"] == "category" and data.candidates["signup_at"] == "time"
    recipe.features = {"channel": "category", "signup_at": "time", "events_14d": "number"}
    result = run.validate(run.load(con, recipe))
    assert np.isfinite(result.values["logistic"])


def test_column_kinds_are_read_from_the_values():
    frame = pd.DataFrame({
        "n": [1, 2, 3, 4], "flag": [True, False, True, False], "plan": ["free", "premium", "free", "free"],
        "title": ["{name}さん、今日の歩数を確認しましょう"] * 4, "at": pd.to_datetime(["2026-01-01"] * 4)})
    assert columns.kinds(frame) == {"n": "number", "flag": "number", "plan": "category", "title": "text",
                                    "at": "time"}


@pytest.mark.parametrize("change, expected_en, expected_ja", [
    (dict(sql="SELEC user_id FROM users"), "The query could not run", "クエリを実行できませんでした"),
    (dict(sql="SELECT user_id, churned FROM churn_training_users"), "must keep these columns", "列が必要です"),
])
def test_a_broken_query_gets_a_plain_message(con, change, expected_en, expected_ja):
    recipe = Recipe.start("churn")
    for key, value in change.items():
        setattr(recipe, key, value)
    with pytest.raises(UsageError) as caught:
        run.load(con, recipe)
    assert expected_en in str(caught.value) and expected_ja in caught.value.text("ja")
    assert "Traceback" not in str(caught.value)


def test_a_query_returning_no_rows_says_so(con):
    recipe = Recipe.start("churn")
    recipe.sql = recipe.sql.replace("ORDER BY p.user_id", "WHERE false ORDER BY p.user_id")
    with pytest.raises(UsageError, match="returned no rows") as caught:
        run.load(con, recipe)
    assert "0 行" in caught.value.text("ja")


def test_a_feature_with_one_value_is_refused_by_name(con):
    recipe = Recipe.start("churn")
    recipe.sql = recipe.sql.replace("u.plan, u.age_band,", "u.plan, u.age_band, 1 AS everyone,")
    recipe.features = {"everyone": "number", "events_14d": "number"}
    with pytest.raises(UsageError, match="'everyone' has the same value") as caught:
        run.validate(run.load(con, recipe))
    assert "すべての行で同じ値" in caught.value.text("ja")


def test_a_text_column_used_as_a_number_is_refused_by_name(con):
    recipe, _ = started(con, "push-open-rate")
    recipe.features = {"title": "number", "send_hour": "number"}
    with pytest.raises(UsageError, match="'title' holds words") as caught:
        run.validate(run.load(con, recipe))
    assert "数値としては使えません" in caught.value.text("ja")


def test_a_broken_rule_is_refused_before_any_training(con):
    recipe, data = started(con, "churn", model="rule", rule="CASE WHEN no_such_column > 3 THEN 1 END")
    with pytest.raises(UsageError, match="The rule could not run") as caught:
        run.validate(data)
    assert "ルールを実行できませんでした" in caught.value.text("ja")


def test_when_the_rule_is_better_the_verdict_says_submit_the_rule(con):
    """A weak model (one feature) against a strong rule written in SQL."""
    recipe, data = started(con, "churn", model="logistic", features={"age_band": "category"},
                           rule="CASE WHEN events_14d = 0 THEN 2 WHEN events_14d < events_15_56d / 3 THEN 1 ELSE 0 END")
    result = run.validate(data)
    assert list(result.values) == ["baseline", "rule", "logistic"]
    assert result.values["rule"] > result.values["logistic"]
    # 75 validation users on tiny: the interval of the difference includes zero, so it cannot tell,
    # and the rule stays the one to submit
    assert not result.wins and result.unclear and result.interval.contains_zero()
    assert "Not enough data to tell" in result.sentence("en") and "submit a rule (SQL)" in result.sentence("en")
    assert "ルール（SQL）を提出しましょう" in result.sentence("ja")


def test_verdict_sentences_follow_the_figures():
    def result(chosen, **values):
        return Result(chosen, "roc_auc", True, values, 100, 20, 5, 20)

    assert "does not beat the baseline" in result("boosting", baseline=0.7, boosting=0.6).sentence()
    assert "beats the naive baseline" in result("boosting", baseline=0.6, boosting=0.7).sentence()
    assert "This is the baseline" in result("baseline", baseline=0.6).sentence()
    assert "ルール（SQL）はベースライン" in result("rule", baseline=0.6, rule=0.65).sentence("ja")
    lower = Result("logistic", "log_loss", False, {"baseline": 0.5, "logistic": 0.4}, 100, 20, 5, 20)
    assert lower.wins
    assert "ML does not beat the rule here" in result("logistic", baseline=0.6, rule=0.7, logistic=0.65).sentence()
    sure, unsure = Interval(0.02, 0.18), Interval(-0.05, 0.25)
    assert "beats the naive baseline" in replace(result("boosting", baseline=0.6, boosting=0.7), interval=sure).sentence()
    unclear = replace(result("boosting", baseline=0.6, boosting=0.7), interval=unsure)
    assert not unclear.wins and "Not enough data to tell" in unclear.sentence() and "submit the naive baseline" in unclear.sentence()
    assert "データが足りず判断できません" in unclear.sentence("ja") and "-0.0500〜+0.2500" in unclear.sentence("ja")
    flipped = replace(lower, interval=Interval(-0.05, 0.25))   # of the gain; shown as logistic − baseline
    assert "-0.2500 to +0.0500" in flipped.sentence()


@pytest.mark.parametrize("theme, model", [("churn", "boosting"), ("push-open-rate", "rule")])
def test_the_saved_notebook_repeats_the_figures_and_the_file(con, tiny_company, theme, model, tmp_path, monkeypatch):
    import papermill

    rule = {"churn": "", "push-open-rate": "CASE WHEN send_hour BETWEEN 18 AND 21 THEN 1 ELSE 0 END"}[theme]
    recipe, data = started(con, theme, model=model, rule=rule)
    result = run.validate(data)
    direct = run.write(data, tmp_path / "direct", con)
    saved = notebook.save(recipe, tmp_path / "builder-model.ipynb", "ja")
    assert "parameters" in nbformat.read(saved, as_version=4).cells[1].metadata["tags"]
    monkeypatch.setenv("MATSURI_WAREHOUSE", str(tiny_company.warehouse))
    papermill.execute_notebook(saved, tmp_path / "ran.ipynb", parameters={"output_dir": str(tmp_path / "nb")},
                               cwd=tmp_path, progress_bar=False, kernel_name="python3")
    shown = _figures(tmp_path / "ran.ipynb")
    assert shown == result.figures()
    assert (tmp_path / "nb" / direct.name).read_bytes() == direct.read_bytes()


def _figures(path) -> dict[str, str]:
    import re

    nb = nbformat.read(path, as_version=4)
    html = "".join(out.get("data", {}).get("text/html", "") for cell in nb.cells for out in cell.get("outputs", []))
    return dict(re.findall(r"data-method='(\w+)'>([\d.]+)<", html))


def test_thresholds_build_a_rule_one_condition_at_a_time(con):
    from matsuri.builder.models import with_threshold

    rule = with_threshold("", "events_14d", "<=", "0")
    rule = with_threshold(rule, "plan", "=", "free")
    assert rule == "CASE WHEN events_14d <= 0 AND plan = 'free' THEN 1 ELSE 0 END"
    assert with_threshold("events_14d < 2", "tenure_days", ">", 30) == "CASE WHEN tenure_days > 30 THEN 1 ELSE 0 END"
    with pytest.raises(UsageError, match="not a column name"):
        with_threshold("", "x; DROP TABLE users", ">", 1)
    recipe, data = started(con, "churn", model="rule", rule=rule)
    assert run.validate(data).values["rule"] > 0.5
