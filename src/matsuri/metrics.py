"""Metrics shared by the templates, the leaderboard and the tests: one definition of each, and
the registry theme specs choose from (`METRICS`: what each reads, which way is better, how shown)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice

import numpy as np
import pandas as pd


def _array(values, dtype) -> np.ndarray:
    """Arrays and Series as they are (no round trip through a list); other iterables listed."""
    if not hasattr(values, "__len__"):
        values = list(values)
    return np.asarray(values, dtype=dtype)


def roc_auc(labels: Iterable[bool], scores: Iterable[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(_array(labels, bool), _array(scores, float)))


def log_loss(labels: Iterable[bool], probabilities: Iterable[float]) -> float:
    from sklearn.metrics import log_loss as sk_log_loss

    p = np.clip(_array(probabilities, float), 1e-6, 1 - 1e-6)
    return float(sk_log_loss(_array(labels, bool), p, labels=[False, True]))


def pr_auc(labels: Iterable[bool], scores: Iterable[float]) -> float:
    """Average precision: the area under the precision-recall curve (rare positives)."""
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(_array(labels, bool), _array(scores, float)))


def top_decile_lift(labels: Iterable[bool], scores: Iterable[float]) -> float:
    """How many times the overall rate the 10 % with the highest scores reach (1 = no better)."""
    truth, score = _array(labels, bool), _array(scores, float)
    if not truth.any():
        return 0.0
    top = np.argsort(-score, kind="stable")[: max(1, len(score) // 10)]
    return float(truth[top].mean() / truth.mean())


def rmse(truth: Iterable[float], predicted: Iterable[float]) -> float:
    return float(np.sqrt(np.mean((_array(truth, float) - _array(predicted, float)) ** 2)))


def mae(truth: Iterable[float], predicted: Iterable[float]) -> float:
    return float(np.mean(np.abs(_array(truth, float) - _array(predicted, float))))


def ranking_scores(ranked: pd.DataFrame, relevant: pd.DataFrame, k: int = 10,
                   id: str = "user_id", item: str = "product_id") -> dict[str, float]:
    """Mean NDCG@k and MAP@k over the users in `relevant`.

    ranked: user_id, product_id, rank (1 = first); relevant: user_id, product_id (bought later);
    other column names with `id` and `item`.
    A user with no prediction scores 0; predictions for users without labels are ignored.
    Each user's first k predictions by rank (ties in file order) count; a repeated relevant
    product counts each time. Computed for all users at once: one row per prediction.
    """
    ranked = ranked.rename(columns={id: "user_id", item: "product_id"})
    relevant = relevant.rename(columns={id: "user_id", item: "product_id"})
    truth = relevant[["user_id", "product_id"]].drop_duplicates()
    bought = truth.groupby("user_id").size()  # users with labels, sorted: the mean is over them
    if bought.empty:
        return {f"ndcg@{k}": 0.0, f"map@{k}": 0.0}
    users = bought.index
    top = ranked.loc[ranked["rank"] <= k, ["user_id", "product_id", "rank"]]
    top = top[users.get_indexer(top["user_id"]) >= 0].sort_values(["user_id", "rank"], kind="stable")
    position = top.groupby("user_id", sort=False).cumcount().to_numpy()  # 0 = first
    top, position = top[position < k], position[position < k]
    hit = top.merge(truth.assign(hit=1.0), on=["user_id", "product_id"], how="left")["hit"]
    hit = hit.fillna(0.0).to_numpy()
    user = users.get_indexer(top["user_id"])
    wanted = np.minimum(bought.to_numpy(), k)  # how many hits a perfect list has
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.array([discounts[:n].sum() for n in range(k + 1)])[wanted]
    ndcg = np.bincount(user, hit * discounts[position], minlength=len(users)) / ideal
    found = np.cumsum(hit)
    found -= (found - hit)[np.arange(len(hit)) - position]  # hits so far within the user's list
    ap = np.bincount(user, hit * found / (position + 1), minlength=len(users)) / wanted
    return {f"ndcg@{k}": float(np.mean(ndcg)), f"map@{k}": float(np.mean(ap))}


def normalise_keyword(word: str) -> str:
    return unicodedata.normalize("NFKC", str(word)).strip().lower()


def keyword_hits(team_keywords: Iterable[str], planted: Iterable[str], top: int = 20) -> list[str]:
    """Planted keywords found among a team's first `top` keywords (equal to, or contained in, one)."""
    team = [normalise_keyword(w) for w in islice(team_keywords, top) if str(w).strip()]
    return [p for p in planted if any(normalise_keyword(p) in w for w in team)]


@dataclass(frozen=True)
class Metric:
    reads: str                 # the kind of prediction file (theme_spec.KINDS)
    higher_is_better: bool
    format: str                # how a value is shown unless the theme spec says otherwise
    compute: Callable | None   # (truth, predicted) for probability and value files


# The metrics a theme spec can choose; "@k" takes the k of the theme's ranking file.
METRICS: dict[str, Metric] = {
    "roc_auc": Metric("probability", True, "{:.4f}", roc_auc),
    "pr_auc": Metric("probability", True, "{:.4f}", pr_auc),
    "log_loss": Metric("probability", False, "{:.4f}", log_loss),
    "top_decile_lift": Metric("probability", True, "{:.2f}", top_decile_lift),
    "ndcg@k": Metric("ranking", True, "{:.4f}", None),      # ranking_scores
    "map@k": Metric("ranking", True, "{:.4f}", None),       # ranking_scores
    "keyword_hits": Metric("keywords", True, "{:.0f}", None),  # keyword_hits, counted
    "rmse": Metric("value", False, "{:.4f}", rmse),
    "mae": Metric("value", False, "{:.4f}", mae),
}
