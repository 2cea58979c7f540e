"""Metrics shared by the templates, the leaderboard and the tests: one definition of each."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import numpy as np
import pandas as pd


def roc_auc(labels: Iterable[bool], scores: Iterable[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(list(labels), dtype=bool), np.asarray(list(scores), dtype=float)))


def log_loss(labels: Iterable[bool], probabilities: Iterable[float]) -> float:
    from sklearn.metrics import log_loss as sk_log_loss

    p = np.clip(np.asarray(list(probabilities), dtype=float), 1e-6, 1 - 1e-6)
    return float(sk_log_loss(np.asarray(list(labels), dtype=bool), p, labels=[False, True]))


def ranking_scores(ranked: pd.DataFrame, relevant: pd.DataFrame, k: int = 10) -> dict[str, float]:
    """Mean NDCG@k and MAP@k over the users in `relevant`.

    ranked: user_id, product_id, rank (1 = first); relevant: user_id, product_id (bought later).
    A user with no prediction scores 0; predictions for users without labels are ignored.
    """
    truth = relevant.groupby("user_id")["product_id"].agg(set)
    top = ranked[ranked["rank"] <= k].sort_values(["user_id", "rank"])
    lists = top.groupby("user_id")["product_id"].agg(list)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ndcg, ap = [], []
    for user, items in truth.items():  # one pass per user with labels
        predicted = lists.get(user, [])
        hits = np.array([p in items for p in predicted[:k]], dtype=float)
        ideal = discounts[: min(len(items), k)].sum()
        ndcg.append(float((hits * discounts[: len(hits)]).sum() / ideal))
        precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1) if len(hits) else np.array([])
        ap.append(float((precision_at * hits).sum() / min(len(items), k)))
    return {f"ndcg@{k}": float(np.mean(ndcg)) if ndcg else 0.0, f"map@{k}": float(np.mean(ap)) if ap else 0.0}


def normalise_keyword(word: str) -> str:
    return unicodedata.normalize("NFKC", str(word)).strip().lower()


def keyword_hits(team_keywords: Iterable[str], planted: Iterable[str], top: int = 20) -> list[str]:
    """Planted keywords found among a team's first `top` keywords (equal to, or contained in, one)."""
    team = [normalise_keyword(w) for w in list(team_keywords)[:top] if str(w).strip()]
    return [p for p in planted if any(normalise_keyword(p) in w for w in team)]
