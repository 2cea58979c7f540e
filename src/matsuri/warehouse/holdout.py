"""Hackathon holdouts: rows split off for each theme, their labels kept for organisers only.

- push-open-rate: every delivery of the last 20 % of pushes (by send time).
- call-keywords: the last 20 % of sales calls (by call time).
- product-ordering: half of the users who ordered both before and after the cutoff (28 days before
  the year ends); their orders after the cutoff are removed and become the labels.
- churn: half of the users active at the cutoff (the end of the year: the month after it is only in
  the organiser store, see `churn.py`); the other half show their outcome, to learn from.
The learners' warehouse keeps the rows to predict (holdout_* tables) without the labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matsuri.warehouse import churn
from matsuri.warehouse import timeline as tl

HOLDOUT_SHARE = 0.2
ORDERING_CUTOFF = tl.END - np.timedelta64(28, "D")
ORDERING_USER_SHARE = 0.5
CHURN_USER_SHARE = 0.5


@dataclass
class Split:
    learners: dict[str, pd.DataFrame]  # tables that go to the warehouse
    labels: dict[str, pd.DataFrame]    # tables that go to the organiser store


def split_push(pushes: pd.DataFrame, deliveries: pd.DataFrame) -> Split:
    first_held = pushes["push_id"].iloc[int(len(pushes) * (1 - HOLDOUT_SHARE))]
    held = deliveries["push_id"].to_numpy() >= first_held
    kept, out = deliveries[~held], deliveries[held]
    return Split(
        {"push_deliveries": kept, "holdout_push_deliveries": out.drop(columns="opened_at")},
        {"push_open_labels": pd.DataFrame({
            "delivery_id": out["delivery_id"].to_numpy(),
            "opened": out["opened_at"].notna().to_numpy(),
        })},
    )


def split_calls(calls: pd.DataFrame) -> Split:
    held = np.arange(len(calls)) >= int(len(calls) * (1 - HOLDOUT_SHARE))
    out = calls[held]
    return Split(
        {"sales_calls": calls[~held], "holdout_sales_calls": out.drop(columns="outcome")},
        {"call_outcome_labels": pd.DataFrame({
            "call_id": out["call_id"].to_numpy(),
            "won": (out["outcome"] == "won").to_numpy(),
        })},
    )


def split_orders(rng: np.random.Generator, orders: pd.DataFrame, items: pd.DataFrame) -> Split:
    after = orders["ordered_at"].to_numpy() >= ORDERING_CUTOFF
    users_before = np.unique(orders.loc[~after, "user_id"])
    users_after = np.unique(orders.loc[after, "user_id"])
    candidates = np.intersect1d(users_before, users_after)
    chosen = np.sort(rng.choice(candidates, size=int(len(candidates) * ORDERING_USER_SHARE), replace=False))
    removed = after & np.isin(orders["user_id"].to_numpy(), chosen)
    gone = orders[removed]
    gone_items = items[np.isin(items["order_id"].to_numpy(), gone["order_id"].to_numpy())]
    labels = (
        gone_items.merge(gone[["order_id", "user_id", "ordered_at"]], on="order_id")
        .groupby(["user_id", "product_id"], as_index=False)["ordered_at"].min()
        .rename(columns={"ordered_at": "first_bought_at"})
        .sort_values(["user_id", "first_bought_at", "product_id"], ignore_index=True)
    )
    return Split(
        {
            "orders": orders[~removed],
            "order_items": items[~np.isin(items["order_id"].to_numpy(), gone["order_id"].to_numpy())],
            "holdout_ordering_users": pd.DataFrame({
                "user_id": chosen.astype(np.int64),
                "cutoff_at": np.full(len(chosen), ORDERING_CUTOFF),
            }),
        },
        {"ordering_labels": labels[["user_id", "product_id", "first_bought_at"]]},
    )


def split_churn(rng: np.random.Generator, outcomes: pd.DataFrame) -> Split:
    """A random half of the active users to predict; the other half with their outcome to train on."""
    users = outcomes["user_id"].to_numpy()
    chosen = np.sort(rng.choice(users, size=int(len(users) * CHURN_USER_SHARE), replace=False))
    held = np.isin(users, chosen)
    cutoff = np.full(len(users), churn.CUTOFF)
    frame = pd.DataFrame({"user_id": users, "cutoff_at": cutoff, "churned": outcomes["churned"].to_numpy()})
    return Split(
        {
            "churn_training_users": frame[~held].reset_index(drop=True),
            "holdout_churn_users": frame.loc[held, ["user_id", "cutoff_at"]].reset_index(drop=True),
        },
        {"churn_labels": frame.loc[held, ["user_id", "churned"]].reset_index(drop=True)},
    )
