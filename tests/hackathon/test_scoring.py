"""Are scores right, split deterministically between public and private, and the same every time?"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matsuri import metrics
from matsuri.hackathon import scoring
from matsuri.hackathon.submissions import rescore, scoring_job, submit
from support.hackathon_kit import (
    add_team,
    call_predictions,
    ordering_predictions,
    push_predictions,
    state_snapshot,
    write_csv,
)


def test_public_split_is_deterministic_order_free_and_near_its_share():
    """Does the same (theme, seed, share) always pick the same ids, whatever their order?"""
    ids = np.arange(100_000, 160_000, dtype=np.int64)
    mask = scoring.public_mask(ids, "push-open-rate", 11, 0.3)
    shuffled = np.random.default_rng(0).permutation(ids)
    again = scoring.public_mask(shuffled, "push-open-rate", 11, 0.3)
    assert set(shuffled[again]) == set(ids[mask])
    assert abs(mask.mean() - 0.3) < 0.01
    other_seed = scoring.public_mask(ids, "push-open-rate", 12, 0.3)
    other_theme = scoring.public_mask(ids, "call-keywords", 11, 0.3)
    assert 0.2 < (mask & other_seed).mean() / mask.mean() < 0.4  # independent draws overlap ≈ share
    assert (mask != other_theme).any()


def test_perfect_and_uninformative_predictions_score_as_they_should(make_event, public_company, tmp_path):
    """Do perfect predictions score 1.0 on both parts, and constant ones 0.5 AUC?"""
    event = make_event()
    cases = {
        "push-open-rate": push_predictions(public_company, perfect=True),
        "call-keywords": call_predictions(public_company, perfect=True),
        "product-ordering": ordering_predictions(public_company, perfect=True),
    }
    for theme, frame in cases.items():
        folder = tmp_path / theme
        write_csv(frame, folder / "predictions.csv")
        scores = scoring.score_folder(scoring_job(event, theme, folder))
        metric = event.settings.theme(theme).metric
        assert scores["public"][metric] == pytest.approx(1.0)
        assert scores["private"][metric] == pytest.approx(1.0)
    constant = tmp_path / "constant"
    write_csv(call_predictions(public_company), constant / "predictions.csv")
    scores = scoring.score_folder(scoring_job(event, "call-keywords", constant))
    assert scores["public"]["roc_auc"] == 0.5 and scores["private"]["roc_auc"] == 0.5


def test_scores_match_the_shared_metrics_on_each_part(make_event, public_company, tmp_path):
    """Is the public score exactly roc_auc/log_loss of the labels in the public rows?"""
    event = make_event()
    frame = push_predictions(public_company, seed=3)
    write_csv(frame, tmp_path / "p" / "predictions.csv")
    scores = scoring.score_folder(scoring_job(event, "push-open-rate", tmp_path / "p"))
    truth = public_company.query("SELECT delivery_id, opened FROM push_open_labels", labels=True)
    joined = frame.merge(truth, on="delivery_id").sort_values("delivery_id")
    public = scoring.public_mask(joined["delivery_id"].to_numpy(), "push-open-rate", 11, 0.3)
    for part, rows in (("public", public), ("private", ~public)):
        assert scores[part]["roc_auc"] == pytest.approx(
            metrics.roc_auc(joined["opened"][rows], joined["probability"][rows]))
        assert scores[part]["log_loss"] == pytest.approx(
            metrics.log_loss(joined["opened"][rows], joined["probability"][rows]))


def test_ranking_scores_of_each_part_are_the_shared_metric_on_its_users(make_event, public_company, tmp_path):
    """Is each part's NDCG/MAP exactly ranking_scores of that part's lists and labels, with good
    and poor lists mixed, some cut short, in any order?"""
    event = make_event()
    good, poor = ordering_predictions(public_company, perfect=True), ordering_predictions(public_company)
    frame = pd.concat([good[good["user_id"] % 2 == 0], poor[poor["user_id"] % 2 == 1]])
    frame = frame[(frame["rank"] <= 4) | (frame["user_id"] % 3 > 0)].sample(frac=1, random_state=4)
    write_csv(frame, tmp_path / "o" / "predictions.csv")
    scores = scoring.score_folder(scoring_job(event, "product-ordering", tmp_path / "o"))
    truth = public_company.query("SELECT user_id, product_id FROM ordering_labels ORDER BY 1, 2", labels=True)
    ids = np.sort(frame["user_id"].unique())
    public = set(ids[scoring.public_mask(ids, "product-ordering", 11, 0.3)])
    for part, side in (("public", True), ("private", False)):
        mine = frame[frame["user_id"].isin(public) == side]
        assert scores[part] == metrics.ranking_scores(mine, truth[truth["user_id"].isin(public) == side])
        assert 0 < scores[part]["ndcg@10"] < 1


def test_keyword_hits_count_planted_words_not_decoys(make_event, public_company, tmp_path):
    """Are planted keywords counted (NFKC, containment) while decoys are not?"""
    event = make_event()
    folder = tmp_path / "k"
    write_csv(call_predictions(public_company), folder / "predictions.csv")
    words = ["見積もりの依頼", "ｔｒｉａｌ", "稟議", "資料", "セキュリティ", "予算"]  # 3 planted, 2 decoys
    write_csv(pd.DataFrame({"rank": range(1, 7), "keyword": words}), folder / "keywords.csv")
    scores = scoring.score_folder(scoring_job(event, "call-keywords", folder))
    assert scores["public"]["keyword_hits"] == scores["private"]["keyword_hits"] == 3.0


def test_rescoring_changes_nothing_and_parallel_equals_sequential(make_event, public_company, tmp_path):
    """Is scoring idempotent: scoring everything again leaves the store exactly as it was?"""
    event = make_event()
    for i, (theme, frame) in enumerate([
        ("push-open-rate", push_predictions(public_company, seed=1)),
        ("push-open-rate", push_predictions(public_company, seed=2)),
        ("call-keywords", call_predictions(public_company, perfect=True)),
        ("product-ordering", ordering_predictions(public_company)),
        ("product-ordering", ordering_predictions(public_company, perfect=True)),
    ]):
        team = f"t{i}"
        add_team(event, team, theme)
        submit(event, team, write_csv(frame, tmp_path / f"{team}.csv"))
    before = state_snapshot(event)
    assert rescore(event, workers=1, progress=False) == 5
    assert state_snapshot(event) == before
    assert rescore(event, workers=2, progress=False) == 5
    assert state_snapshot(event) == before


def test_score_many_reports_bad_files_without_stopping(make_event, public_company, tmp_path):
    """Does one unreadable file in a batch come back as its error while the rest are scored?"""
    event = make_event()
    jobs = []
    for i in range(6):
        folder = tmp_path / f"s{i}"
        frame = push_predictions(public_company, seed=i)
        write_csv(frame.iloc[1:] if i == 3 else frame, folder / "predictions.csv")
        jobs.append(scoring_job(event, "push-open-rate", folder))
    results = scoring.score_many(jobs, workers=2, progress=False)
    assert [isinstance(r, Exception) for r in results] == [False, False, False, True, False, False]
    assert "missing 1 of the" in str(results[3])
    assert results[0] == scoring.score_folder(jobs[0])
