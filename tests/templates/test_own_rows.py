"""Do the theme libraries cope with what a company's rows hold once loaded: text ids, customers left
empty (guest orders), an unknown send time, a holdout they cannot predict? And do their messages
name the table, and the parameter that fixes a too-small validation?"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from matsuri.errors import UsageError
from matsuri.templates import calls, churn, loaded, ordering, push

T0 = pd.Timestamp("2025-06-01 08:00")


def purchases_frame(users, guests: int = 0) -> pd.DataFrame:
    """Every user buys 1 (with the best seller 9), then 2; `guests` guest orders buy 3 and 9."""
    rows, order = [], 0
    for user in users:
        for step, products in enumerate([(1, 9), (2,)]):
            order += 1
            rows += [(user, f"O{order:04d}", T0 + pd.Timedelta(days=step), f"SKU{p}") for p in products]
    for guest in range(guests):
        rows += [(None, f"G{guest:04d}", T0, "SKU3"), (None, f"G{guest:04d}", T0, "SKU9")]
    frame = pd.DataFrame(rows, columns=["user_id", "order_id", "ordered_at", "product_id"])
    return frame.astype({"user_id": "str"}) if isinstance(users[0], str) else frame


@pytest.mark.parametrize("library, label, table, column", [
    (push, "opened", "holdout_push_deliveries", "delivery_id"),
    (churn, "churned", "holdout_churn_users", "user_id"),
    (calls, "won", "holdout_sales_calls", "call_id"),
])
def test_the_rows_to_predict_must_exist_once_each(library, label, table, column):
    """Is a holdout id listed twice a problem of the data, named, rather than of the notebook?"""
    frame = pd.DataFrame({column: ["X-1", "X-2", "X-2", "X-3", "X-3", "X-4"],
                          label: pd.array([True, None, None, None, None, False], dtype="boolean")})
    with pytest.raises(UsageError, match=f"The holdout table {table} has 2 duplicate {column} values "
                                         r"\(for example X-2, X-3\) among the rows to predict: each .* must appear once"):
        library.to_predict(frame)
    assert library.to_predict(frame.drop_duplicates(column))[column].tolist() == ["X-2", "X-3"]
    with pytest.raises(UsageError, match=f"The load query returned no rows of the holdout table {table}") as empty:
        library.to_predict(frame[frame[label].notna()])
    assert table in empty.value.ja, "the Japanese text names the table too"
    blank = pd.DataFrame({column: pd.array([None, 7], dtype="Int64"), label: pd.array([None, None], dtype="boolean")})
    with pytest.raises(UsageError, match=f"{table} has 1 rows without a {column} .NULL."):
        library.to_predict(blank)


def test_an_empty_ordering_holdout_stops_with_the_tables_name():
    """No more `NaTType does not support strftime` from inside the kit's own message."""
    purchases = purchases_frame(list(range(1, 41)))
    nobody = pd.DataFrame({"user_id": pd.Series(dtype="int64"), "cutoff_at": pd.Series(dtype="datetime64[us]")})
    with pytest.raises(UsageError, match="no rows of the holdout table holdout_ordering_users"):
        ordering.validation_split(purchases, nobody)
    twice = pd.DataFrame({"user_id": [1, 1], "cutoff_at": T0})
    with pytest.raises(UsageError, match="holdout_ordering_users has 1 duplicate user_id"):
        ordering.validation_split(purchases, twice)
    undated = pd.DataFrame({"user_id": [1], "cutoff_at": pd.Series([pd.NaT], dtype="datetime64[us]")})
    with pytest.raises(UsageError, match="holdout_ordering_users has 1 users without a cutoff_at"):
        ordering.validation_split(purchases, undated)


def test_too_few_users_to_validate_on_names_the_parameter_that_fixes_it():
    purchases = purchases_frame(list(range(1, 5)))
    holdout = pd.DataFrame({"user_id": [1], "cutoff_at": T0 + pd.Timedelta(hours=12)})
    with pytest.raises(UsageError, match="Too few users.*Raise window_days in the parameters cell") as few:
        ordering.validation_split(purchases, holdout, window_days=14)
    assert "window_days = 28" in str(few.value) and "window_days" in few.value.ja
    users = pd.DataFrame({"user_id": range(30), "churned": [True] * 5 + [False] * 25})
    with pytest.raises(UsageError, match="too few training users.*churn_training_users.*validation_share") as small:
        churn.validation_split(users, 0.25)
    assert "validation_share" in small.value.ja


def test_ordering_keeps_text_ids_and_says_what_it_does_with_guest_orders():
    users = [f"U-{i:06d}" for i in range(1, 31)]
    purchases = purchases_frame(users, guests=40)
    holdout = pd.DataFrame({"user_id": users[:2], "cutoff_at": T0 + pd.Timedelta(hours=12)})
    with pytest.warns(loaded.DataWarning, match="80 order lines .40 orders. have no user_id .guest orders."):
        check = ordering.validation_split(purchases, holdout, window_days=28, min_users=5)
    assert len(check.users) == 28 and check.users["user_id"].map(type).eq(str).all()
    best = ordering.Popularity().fit(purchases)
    assert best.buyers_.index[0] == "SKU9" and best.buyers_["SKU3"] == 40, "each guest order is a shopper"
    model = ordering.WhatComesNext().fit(purchases)
    top = model.recommend(["U-000001"], purchases[purchases["ordered_at"] == T0], k=3)
    assert top["product_id"].iloc[0] == "SKU2" and "《SKU1》" in top["reason"].iloc[0]
    products = pd.DataFrame({"product_id": ["SKU1", "SKU2", "SKU3", "SKU9"], "name": list("ABCD"), "category": "x"})
    assert "「A」" in ordering.name_products(top, products)["reason"].iloc[0]


def test_push_learns_with_unknown_users_and_send_times():
    """A delivery without user_id has no history; a NULL send time is an hour of its own."""
    rng = np.random.default_rng(0)
    n = 400
    rows = pd.DataFrame({
        "delivery_id": [f"D{i:08d}" for i in range(n)],
        "user_id": pd.Series([None if i % 10 == 0 else f"U-{i % 37:06d}" for i in range(n)], dtype="str"),
        "delivered_at": [T0 + pd.Timedelta(hours=i) for i in range(n)],
        "opened": pd.array(rng.random(n) < 0.3, dtype="boolean"),
        "send_hour": pd.array([None if i % 7 == 0 else i % 24 for i in range(n)], dtype="Int64"),
        "weekday": pd.array([None if i % 7 == 0 else 1 + i % 7 for i in range(n)], dtype="Int64"),
        "category": "campaign", "target_segment": rng.choice(["new", "dormant"], n),
        "title": "{name}さん、セール開催中", "personalized": pd.array([True, None] * (n // 2), dtype="boolean"),
    })
    full = push.with_history(rows)
    nobody = full[full["user_id"].isna()]
    assert (nobody["past_deliveries"] == 0).all(), "a delivery without a user has no history"
    assert full.loc[full["user_id"] == "U-000001", "past_deliveries"].tolist() == list(range(10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no pandas or scikit-learn complaint either
        model = push.make_model().fit(full, full["opened"].astype(bool))
    assert np.isfinite(model.predict_proba(full)[:, 1]).all()


def test_calls_score_a_pasted_transcript_whatever_the_rep_ids_are():
    frame = pd.DataFrame({
        "words": [["前向き", "導入"], ["検討", "高い"]] * 20, "duration_sec": np.arange(40) * 30 + 600,
        "rep_id": [f"R{i % 4:03d}" for i in range(40)], "won": [True, False] * 20,
    })
    model = calls.make_model().fit(frame, frame["won"])
    assert 0 < calls.win_probability(model, "前向きに導入を考えています") < 1
