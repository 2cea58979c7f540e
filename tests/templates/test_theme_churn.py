"""Does the churn theme's library see only what happened before the cutoff, and say why a user is at risk?"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from matsuri.errors import UsageError
from matsuri.templates import churn
from matsuri.templates.evaluation import Comparison, Verdict

CUTOFF = pd.Timestamp("2026-04-01")


def days(n: float) -> pd.Timestamp:
    return CUTOFF + pd.Timedelta(days=n)


@pytest.fixture
def warehouse(tmp_path):
    """Three users, each event and push placed around the cutoff by hand."""
    path = tmp_path / "toy.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE users (user_id BIGINT, signup_at TIMESTAMP, plan VARCHAR)")
        con.executemany("INSERT INTO users VALUES (?, ?, ?)",
                        [(1, days(-100), "free"), (2, days(-300), "premium"), (3, days(-20), "free")])
        con.execute("CREATE TABLE churn_training_users (user_id BIGINT, cutoff_at TIMESTAMP, churned BOOLEAN)")
        con.executemany("INSERT INTO churn_training_users VALUES (?, ?, ?)", [(1, CUTOFF, True), (2, CUTOFF, False)])
        con.execute("CREATE TABLE holdout_churn_users (user_id BIGINT, cutoff_at TIMESTAMP)")
        con.execute("INSERT INTO holdout_churn_users VALUES (3, ?)", [CUTOFF])
        con.execute("CREATE TABLE events (user_id BIGINT, event_at TIMESTAMP)")
        events = ([(1, days(-d)) for d in (20, 25, 30, 35, 40, 45)]   # user 1: busy before, then quiet
                  + [(1, days(-16)), (1, days(0)), (1, days(3))]      # … at and after the cutoff: unseen
                  + [(2, days(-d)) for d in (1, 2, 3, 20, 21)]        # user 2: steady
                  + [(3, days(-5))])
        con.executemany("INSERT INTO events VALUES (?, ?)", events)
        con.execute("CREATE TABLE push_deliveries (user_id BIGINT, delivered_at TIMESTAMP, opened_at TIMESTAMP)")
        con.executemany("INSERT INTO push_deliveries VALUES (?, ?, ?)", [
            (1, days(-90), None), (2, days(-90), days(-89)),
            (3, days(-10), days(2)),        # opened only after the cutoff: not known then
        ])
        con.execute("CREATE TABLE holdout_push_deliveries (user_id BIGINT, delivered_at TIMESTAMP)")
        con.executemany("INSERT INTO holdout_push_deliveries VALUES (?, ?)",
                        [(1, days(-3)), (1, days(-10)), (1, days(-40)), (1, days(1)), (2, days(-2))])
    return path


def load(path) -> pd.DataFrame:
    from matsuri.templates.tables import open_warehouse, read

    con = open_warehouse(str(path), churn.NEEDS)
    try:
        return read(con, churn.LOAD_SQL).set_index("user_id")
    finally:
        con.close()


def test_features_count_only_what_happened_before_the_cutoff(warehouse):
    rows = load(warehouse)
    one, two, three = rows.loc[1], rows.loc[2], rows.loc[3]
    assert (one["events_14d"], one["events_28d"], one["events_15_56d"]) == (0, 3, 7)
    assert one["days_since_last_event"] == 16, "the events at and after the cutoff are not seen"
    assert (one["pushes_28d"], one["pushes_ever"], one["pushes_opened"]) == (2, 4, 0)
    assert (two["events_14d"], two["pushes_28d"], two["pushes_opened"]) == (3, 1, 1)
    assert three["pushes_opened"] == 0, "an open after the cutoff is not known at the cutoff"
    assert three["tenure_days"] == 20 and pd.isna(three["churned"]) and bool(one["churned"])
    assert churn.labelled(rows.reset_index())["user_id"].tolist() == [1, 2]
    assert churn.to_predict(rows.reset_index())["user_id"].tolist() == [3]


def test_fall_counts_halvings_of_two_weekly_activity_and_never_a_rise():
    frame = pd.DataFrame({"events_14d": [5, 2, 0, 9], "events_15_56d": [15, 15, 21, 3]})
    # before: 5, 5, 7, 1 events per two weeks -> (5+1)/(5+1), (5+1)/(2+1), (7+1)/(0+1), rising
    assert churn.fall(frame).round(6).tolist() == [0.0, 1.0, 3.0, 0.0]
    assert churn.trend(frame).tolist() == ["steady", "halved", "halved", "steady"]


def synthetic(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Users whose churn depends on falling use, unopened pushes and the free plan, as planted."""
    rng = np.random.default_rng(seed)
    earlier = rng.poisson(12, n)
    recent = rng.binomial(earlier // 3 + 1, rng.uniform(0.1, 1.2, n).clip(max=1))
    pushes, opened = rng.poisson(1.5, n), rng.binomial(3, 0.3, n)
    plan = np.where(rng.random(n) < 0.3, "premium", "free")
    frame = pd.DataFrame({
        "user_id": np.arange(1, n + 1), "plan": plan, "tenure_days": rng.integers(30, 365, n),
        "events_14d": recent, "events_15_56d": earlier, "events_28d": recent + rng.poisson(3, n),
        "days_since_last_event": np.where(recent == 0, rng.integers(15, 28, n), rng.integers(0, 14, n)),
        "pushes_28d": pushes, "pushes_ever": pushes + opened, "pushes_opened": opened,
    })
    logit = -2 + 2.0 * churn.fall(frame) + 0.8 * pushes * (opened == 0) - 1.2 * (plan == "premium")
    return frame.assign(churned=rng.random(n) < 1 / (1 + np.exp(-logit)))


def test_the_model_beats_the_rule_and_names_the_planted_reasons():
    frame = synthetic()
    train, valid = churn.validation_split(frame, 0.25, seed=1)
    assert len(valid) == 750 and abs(valid["churned"].mean() - train["churned"].mean()) < 0.01
    rule = churn.ActivityRule().fit(train, train["churned"])
    model = churn.make_model().fit(train, train["churned"])
    from matsuri.metrics import roc_auc

    verdict = Verdict([Comparison("ROC AUC", roc_auc(valid["churned"], rule.predict_proba(valid)[:, 1]),
                                  roc_auc(valid["churned"], model.predict_proba(valid)[:, 1]))])
    assert verdict.model_wins and "勝っています" in verdict.sentence("ja")
    assert "勝っていません" in Verdict([Comparison("ROC AUC", 0.7, 0.6)]).sentence("ja")
    weights = churn.weights(model)
    assert weights["fall"] > 0 and weights["unopened_pushes"] > 0 and weights["plan_premium"] < 0
    reasons = churn.main_reasons(model, valid).join(valid[["pushes_28d", "pushes_opened"]])
    fatigued = reasons[(reasons["pushes_28d"] >= 4) & (reasons["pushes_opened"] == 0)]
    assert len(fatigued) and all("pushes" in keys for keys in fatigued["reason_keys"])
    assert fatigued["reasons"].str.contains("never opened one").all()
    assert churn.reason_counts(reasons).index[0] in churn.REASON_NAMES.values()


def test_the_rule_gives_each_side_its_training_churn_rate():
    frame = pd.DataFrame({"events_14d": [0, 0, 3, 4, 5], "events_15_56d": 6})
    rule = churn.ActivityRule().fit(frame, [True, False, False, False, True])
    assert rule.predict_proba(frame)[:, 1].tolist() == [0.5, 0.5, 1 / 3, 1 / 3, 1 / 3]
    with pytest.raises(UsageError, match="quiet_14d, halved"):
        churn.ActivityRule("quiet").fit(frame, [True] * 5)


def test_a_segment_chooses_by_plan_trend_and_pushes():
    frame = synthetic(200)
    groups = churn.segments(frame)
    chosen = churn.Segment(plan="free", trend="halved", pushes="unopened")
    mask = chosen.mask(frame)
    assert mask.equals(chosen.mask(groups)), "the loaded rows and their segments choose alike"
    picked = frame[mask]
    assert len(picked) and (picked["plan"] == "free").all() and (churn.fall(picked) >= 1).all()
    assert ((picked["pushes_28d"] > 0) & (picked["pushes_opened"] == 0)).all()
    assert churn.Segment().mask(frame).all()


def test_a_validation_split_needs_enough_users_of_each_kind():
    frame = synthetic(30)
    with pytest.raises(UsageError, match="too few"):
        churn.validation_split(frame)
    with pytest.raises(UsageError, match="between 0 and 1"):
        churn.validation_split(synthetic(), share=1.0)
