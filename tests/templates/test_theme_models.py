"""Do the baselines and models behave as their docstrings say, on data small enough to check by hand?"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matsuri.errors import UsageError
from matsuri.templates import calls, ordering, push
from matsuri.templates.evaluation import Comparison, Verdict, time_split

T0 = pd.Timestamp("2025-06-01 08:00")


def test_push_history_counts_only_earlier_labelled_deliveries():
    rows = pd.DataFrame({
        "delivery_id": [1, 2, 3, 4, 5],
        "user_id": [7, 7, 7, 7, 8],
        "delivered_at": [T0 + pd.Timedelta(days=d) for d in (0, 1, 2, 3, 0)],
        "opened": pd.array([True, False, True, None, True], dtype="boolean"),
    })
    full = push.with_history(rows).set_index("delivery_id").sort_index()
    assert full["past_deliveries"].tolist() == [0, 1, 2, 3, 0]
    assert full["past_opens"].tolist() == [0, 1, 1, 2, 0], "a row never sees its own outcome"
    frozen = push.with_history(rows, known_until=T0 + pd.Timedelta(days=1)).set_index("delivery_id").sort_index()
    assert frozen["past_deliveries"].tolist() == [0, 1, 1, 1, 0], "history stops at known_until"
    assert frozen["past_opens"].tolist() == [0, 1, 1, 1, 0]


def test_push_features_read_the_title_like_a_person():
    frame = pd.DataFrame({
        "send_hour": [20], "weekday": [6], "category": ["campaign"], "target_segment": ["dormant"],
        "title": ["{name}さん、セール開催中🎉"], "personalized": [True], "past_deliveries": [3], "past_opens": [1],
    })
    features = push.add_features(frame).iloc[0]
    assert features["title_length"] == len("さん、セール開催中🎉"), "the name placeholder is not counted"
    assert features["has_emoji"] == 1 and features["weekend"] == 1
    assert features["campaign"] == "campaign × dormant"


@pytest.mark.parametrize("dtype", [object, "string[pyarrow]"])
def test_push_title_features_are_each_rows_own_when_worked_out_once_per_title(dtype):
    """Titles repeat (one push, thousands of users): each is read once, every row keeps its own."""
    titles = pd.Series(["{name}さん🎉", None, "新商品", "{name}さん🎉", "新商品", None], dtype=dtype,
                       index=[7, 3, 9, 1, 8, 2])
    frame = pd.DataFrame({"send_hour": 9, "weekday": 1, "category": "news", "target_segment": "all",
                          "title": titles, "personalized": True, "past_deliveries": 2, "past_opens": 1})
    features = push.add_features(frame)
    assert features.index.tolist() == [7, 3, 9, 1, 8, 2]
    assert features["title_length"].tolist() == [0 if pd.isna(t) else len(t.replace("{name}", "")) for t in titles]
    assert features["has_emoji"].tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]


def test_time_split_keeps_whole_groups_and_puts_the_latest_last():
    frame = pd.DataFrame({"push_id": np.repeat(np.arange(20), 3),
                          "at": np.repeat(pd.date_range("2025-01-01", periods=20, freq="D"), 3)})
    split = time_split(frame, "at", 0.25, by="push_id")
    assert set(split.train["push_id"]).isdisjoint(split.valid["push_id"])
    assert split.valid["push_id"].nunique() == 5 and split.train["at"].max() < split.valid["at"].min()
    with pytest.raises(UsageError, match="too few"):
        time_split(frame.head(9), "at", 0.2)
    with pytest.raises(UsageError, match="between 0 and 1"):
        time_split(frame, "at", 1.5)


def test_the_verdict_says_plainly_when_the_model_loses():
    lost = Verdict([Comparison("ROC AUC", baseline=0.61, model=0.58)], lang="en")
    assert not lost.model_wins and "does NOT beat the baseline" in lost.sentence()
    assert "submit the baseline" in lost.sentence() and "⚠️" in lost._repr_html_()
    won = Verdict([Comparison("log loss", baseline=0.42, model=0.39, higher_is_better=False)], lang="en")
    assert won.model_wins and "beats the baseline on log loss" in won.sentence()


def test_words_that_always_come_together_become_one_phrase_in_reading_order():
    docs = [["社内", "稟議", "回す", "資料"]] * 6 + [["資料"]] * 6 + [["社内", "稟議", "回す"]] * 3 + [["予算"]] * 4
    vec = calls.PhraseVectorizer(min_calls=3).fit(docs)
    names = list(vec.get_feature_names_out())
    assert "社内・稟議・回す" in names and "資料" in names and "予算" in names and len(names) == 3
    X = vec.transform([["稟議"], ["資料", "未知"]]).toarray()
    assert X[0, names.index("社内・稟議・回す")] == 1 and X[1].sum() == 1


def test_the_hand_written_list_adds_good_words_and_subtracts_bad_ones():
    frame = pd.DataFrame({"words": [["前向き", "資料"], ["検討"], []]})
    p = calls.KeywordRules().fit(frame).predict_proba(frame)[:, 1]
    assert p[0] > p[2] > p[1] and p[2] == 0.5


def orders_frame(rows):
    return pd.DataFrame(rows, columns=["user_id", "order_id", "ordered_at", "product_id"])


def test_what_comes_next_recommends_the_follower_with_its_reason():
    rows, order = [], 0
    for user in range(1, 31):  # everyone buys 1 (with the best seller 9), then 2
        for step, products in enumerate([(1, 9), (2,)]):
            order += 1
            rows += [(user, order, T0 + pd.Timedelta(days=step), p) for p in products]
    rows += [(99, 999, T0, 1), (100, 1000, T0, 9), (101, 1001, T0, 9)]
    purchases = orders_frame(rows)
    model = ordering.WhatComesNext().fit(purchases)
    top = model.recommend([99], purchases, k=3)
    assert top["product_id"].tolist()[0] == 2 and top["rank"].tolist() == [1, 2, 3]
    assert "《1》" in top["reason"].iloc[0] and "ordered this next" in top["reason"].iloc[0]
    named = ordering.name_products(top, pd.DataFrame({"product_id": [1, 2, 9], "name": ["A", "B", "C"], "category": "x"}))
    assert "「A」" in named["reason"].iloc[0]
    best = ordering.Popularity().fit(purchases).recommend([5, 6], k=2)
    assert best["product_id"].tolist() == [9, 1, 9, 1] and best["reason"].iloc[0].startswith("best seller #1")


def test_validation_mirrors_the_holdout_on_other_users():
    cut = T0 + pd.Timedelta(days=10)
    rows = [(u, u * 10 + i, T0 + pd.Timedelta(days=d), u) for u in range(1, 41) for i, d in enumerate((1, 12))]
    purchases = orders_frame(rows)
    holdout = pd.DataFrame({"user_id": [1, 2], "cutoff_at": cut})
    check = ordering.validation_split(purchases, holdout, window_days=28)
    assert check.cutoff == cut and not set(check.users["user_id"]) & {1, 2}
    assert len(check.users) == 38 and (check.history["ordered_at"] < cut).all()
    with pytest.raises(UsageError, match="Too few users"):
        ordering.validation_split(purchases[purchases["user_id"] < 5], holdout)
