"""Do the starters run end to end in a real kernel, write what the hackathon scores, and beat
their naive baselines on the hidden holdout?"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from matsuri.metrics import keyword_hits, log_loss, ranking_scores, roc_auc
from matsuri.theme_spec import all_themes

from .conftest import renamed_copy, run_starter
from .test_honest_verdict import said

THEMES = list(all_themes())  # every theme folder of templates/

# One worker per theme for the tiny runs, so each starter runs once and both tests read it.

# what each theme predicts: the holdout table and its id column, as its spec says
HOLDOUT = {t.id: (t.holdout_table, t.id_column) for t in all_themes().values()}


def holdout_ids(warehouse, theme) -> set:
    table, column = HOLDOUT[theme]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {r[0] for r in con.execute(f"SELECT {column} FROM {table}").fetchall()}


def assert_valid_submission(folder, theme, warehouse) -> None:
    """The submission contract, checked independently of the code that wrote it."""
    predictions = pd.read_csv(folder / "predictions.csv")
    ids = holdout_ids(warehouse, theme)
    if theme == "product-ordering":
        assert list(predictions.columns) == ["user_id", "product_id", "rank"]
        assert set(predictions["user_id"]) == ids
        assert not predictions.duplicated(["user_id", "product_id"]).any()
        ranks = predictions.groupby("user_id")["rank"].apply(sorted)
        assert all(r == list(range(1, 11)) for r in ranks), "every user gets ranks 1..10"
        with duckdb.connect(str(warehouse), read_only=True) as con:
            products = {r[0] for r in con.execute("SELECT product_id FROM products").fetchall()}
        assert set(predictions["product_id"]) <= products
        return
    id_column = HOLDOUT[theme][1]
    assert list(predictions.columns) == [id_column, "probability"]
    assert len(predictions) == len(ids) and set(predictions[id_column]) == ids
    assert predictions["probability"].between(0, 1).all()
    if theme == "call-keywords":
        keywords = pd.read_csv(folder / "keywords.csv")
        assert list(keywords.columns) == ["rank", "keyword"]
        assert 1 <= len(keywords) <= 20 and list(keywords["rank"]) == list(range(1, len(keywords) + 1))


@pytest.mark.parametrize("theme", THEMES)
def test_starter_writes_a_valid_submission_and_a_verdict(theme, tiny_starter, tiny_company):
    run = tiny_starter(theme)
    assert_valid_submission(run.submission, theme, tiny_company.warehouse)
    assert_valid_submission(run.baseline, theme, tiny_company.warehouse)
    assert len(said(run.text())) == 1, "one verdict: wins, not enough data to tell, or loses"
    assert run.images() >= 1, "the comparison chart is drawn"


@pytest.mark.parametrize("theme", THEMES)
def test_the_hackathon_runner_accepts_and_scores_the_starters_files(theme, tiny_starter, tiny_company):
    """The contract between templates and runner, checked with the runner's own reader and scorer."""
    from matsuri.hackathon.scoring import ScoringJob, score_folder

    run = tiny_starter(theme)
    for folder in (run.submission, run.baseline):
        job = ScoringJob(folder, theme, public_share=0.5, seed=1, max_bytes=50_000_000,
                         warehouse=tiny_company.warehouse, labels=tiny_company.labels)
        scores = score_folder(job)
        assert set(scores) == {"public", "private"}
        assert all(np.isfinite(v) for part in scores.values() for v in part.values()), scores


@pytest.mark.parametrize("theme", THEMES)
def test_starter_runs_unchanged_on_renamed_tables_and_columns(theme, tiny_starter, tiny_company, tmp_path):
    """Same data under other names, named in the parameters: the same predictions come out."""
    copy, table_names, column_names = renamed_copy(tiny_company.warehouse, tmp_path / "acme", theme)
    renamed = run_starter(theme, copy, tmp_path / "run", table_names=table_names, column_names=column_names)
    original = tiny_starter(theme)
    keys = ["user_id", "rank"] if theme == "product-ordering" else [HOLDOUT[theme][1]]
    pd.testing.assert_frame_equal(renamed.read().sort_values(keys, ignore_index=True),
                                  original.read().sort_values(keys, ignore_index=True))


# --- On the `small` company, the ML baseline must beat the naive one on the hidden holdout -------
# (Labels are read here, in the test, from the organiser store; the starters never see them.)

def labels(company, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(company.labels), read_only=True) as con:
        return con.execute(sql).df()


def on_the_holdout(run, truth: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The model's and the baseline's probabilities joined to the truth (keyed by its first column),
    each covering every holdout row."""
    key = truth.columns[0]
    model = truth.merge(run.read(), on=key)
    base = truth.merge(run.read(baseline=True), on=key)
    assert len(model) == len(truth) == len(base)
    return model, base


@pytest.mark.slow
def test_push_model_beats_each_users_past_open_rate_on_the_holdout(small_company, tmp_path):
    run = run_starter("push-open-rate", small_company.warehouse, tmp_path)
    truth = labels(small_company, "SELECT delivery_id, opened FROM push_open_labels")
    model, base = on_the_holdout(run, truth)
    model_auc, base_auc = roc_auc(model["opened"], model["probability"]), roc_auc(base["opened"], base["probability"])
    assert model_auc >= base_auc + 0.05, (model_auc, base_auc)
    assert log_loss(model["opened"], model["probability"]) < log_loss(base["opened"], base["probability"])


@pytest.mark.slow
def test_call_model_finds_planted_keywords_and_beats_the_hand_written_list(small_company, tmp_path):
    run = run_starter("call-keywords", small_company.warehouse, tmp_path)
    truth = labels(small_company, "SELECT call_id, won FROM call_outcome_labels")
    planted = labels(small_company, "SELECT keyword, kind FROM planted_keywords")
    model = truth.merge(run.read(), on="call_id")
    hand = truth.merge(run.read(baseline=True), on="call_id")
    assert roc_auc(model["won"], model["probability"]) > roc_auc(hand["won"], hand["probability"])
    found = keyword_hits(run.read("keywords.csv")["keyword"], planted.loc[planted["kind"] != "decoy", "keyword"])
    assert len(found) >= 5, found
    decoys = keyword_hits(run.read("keywords.csv")["keyword"].head(10), planted.loc[planted["kind"] == "decoy", "keyword"])
    assert decoys == [], f"decoy words (no real effect) ranked among the top 10: {decoys}"


@pytest.mark.slow
def test_ordering_model_beats_popularity_by_a_fifth_on_the_holdout(small_company, tmp_path):
    run = run_starter("product-ordering", small_company.warehouse, tmp_path)
    truth = labels(small_company, "SELECT user_id, product_id FROM ordering_labels")
    model, popular = ranking_scores(run.read(), truth), ranking_scores(run.read(baseline=True), truth)
    assert model["ndcg@10"] >= 1.2 * popular["ndcg@10"], (model, popular)
    assert model["map@10"] > popular["map@10"]
    assert np.isfinite(run.seconds)


@pytest.mark.slow
def test_churn_model_beats_the_no_recent_activity_rule_by_a_tenth_on_the_holdout(small_company, tmp_path):
    """The rule (no app event in the last 14 days) reaches about 0.63 ROC AUC on small; the
    starter's logistic regression about 0.81. Margin required: 0.10."""
    run = run_starter("churn", small_company.warehouse, tmp_path)
    truth = labels(small_company, "SELECT user_id, churned FROM churn_labels")
    model, rule = on_the_holdout(run, truth)
    model_auc, rule_auc = roc_auc(model["churned"], model["probability"]), roc_auc(rule["churned"], rule["probability"])
    assert model_auc >= rule_auc + 0.10, (model_auc, rule_auc)
    assert said(run.text()) == {"wins"}, "on small the validation verdict agrees with the holdout"
