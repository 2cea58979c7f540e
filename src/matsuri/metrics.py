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
    """Area under the ROC curve, as the rank statistic (Mann-Whitney U, ties counted half): one
    sort, no per-call validation overhead, so scoring 1,000 files stays cheap."""
    truth, score = _array(labels, bool), _array(scores, float)
    positives = int(truth.sum())
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("Only one class present in y_true. ROC AUC score is not defined in that case.")
    ranked, hits = _sorted_with_labels(score, truth)
    starts = np.r_[0, np.flatnonzero(ranked[1:] != ranked[:-1]) + 1]   # groups of tied scores
    ends = np.r_[starts[1:], len(ranked)]
    # twice the rank sum of the positives, in whole numbers (1-based ranks, ties averaged): exact
    twice = int(np.dot(starts + ends + 1, np.add.reduceat(hits, starts)))
    return (twice / 2 - positives * (positives + 1) / 2) / (positives * negatives)


def _sorted_with_labels(score: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The scores in increasing order, each with its label (0 or 1); tied scores stay together, in
    no particular order. Scores that are all zero or more (probabilities) sort as one array of
    whole numbers holding the score's bits and the label, much faster than an argsort."""
    score = score + 0.0  # -0.0 becomes 0.0: equal scores have equal bits
    if len(score) and score.min() >= 0:  # NaN fails this test too
        packed = np.sort((score.view(np.uint64) << np.uint64(1)) | truth.astype(np.uint64))
        return packed >> np.uint64(1), (packed & np.uint64(1)).astype(np.int64)
    order = np.argsort(score)
    return score[order], truth[order].astype(np.int64)


def log_loss(labels: Iterable[bool], probabilities: Iterable[float]) -> float:
    """Mean negative log-likelihood, probabilities clipped to [1e-6, 1 - 1e-6]."""
    truth = _array(labels, bool)
    p = np.clip(_array(probabilities, float), 1e-6, 1 - 1e-6)
    if len(truth) != len(p):
        raise ValueError(f"{len(truth)} labels but {len(p)} probabilities")
    return float(-np.mean(np.where(truth, np.log(p), np.log1p(-p))))


def pr_auc(labels: Iterable[bool], scores: Iterable[float]) -> float:
    """Average precision: the area under the precision-recall curve (rare positives), as a sum
    of precision times the recall gained at each distinct score, highest first."""
    truth, score = _array(labels, bool), _array(scores, float)
    positives = int(truth.sum())
    if positives == 0:
        return 0.0
    order = np.argsort(-score)
    ranked, hits = score[order], truth[order].astype(np.int64)
    ends = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), len(ranked) - 1]  # last row of each tie
    found = np.cumsum(hits)[ends]
    precision = found / (ends + 1)
    gained = np.diff(np.r_[0, found]) / positives
    return float(np.dot(gained, precision))


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
    """Mean NDCG@k and MAP@k over the users in `relevant` (each user's: `ranking_scores_by_user`)."""
    by_user = ranking_scores_by_user(ranked, relevant, k, id, item)
    if by_user.empty:
        return {f"ndcg@{k}": 0.0, f"map@{k}": 0.0}
    return {name: float(np.mean(by_user[name].to_numpy())) for name in by_user.columns}


def ranking_scores_by_user(ranked: pd.DataFrame, relevant: pd.DataFrame, k: int = 10,
                           id: str = "user_id", item: str = "product_id") -> pd.DataFrame:
    """NDCG@k and MAP@k of each user in `relevant` (indexed by `id`, in order of first appearance).

    ranked: user_id, product_id, rank (1 = first); relevant: user_id, product_id (bought later);
    other column names with `id` and `item`.
    A user with no prediction scores 0; predictions for users without labels are ignored.
    Each user's first k predictions by rank (ties in file order) count; a repeated relevant
    product counts each time. Computed for all users at once: one row per prediction.
    """
    # ids and items of any type become small integer codes; a (user, item) pair is one int64
    users_r, items_r = relevant[id].to_numpy(), relevant[item].to_numpy()
    users_p, items_p = ranked[id].to_numpy(), ranked[item].to_numpy()
    user_codes, user_values = pd.factorize(np.concatenate([users_r, users_p]))
    item_codes, item_values = pd.factorize(np.concatenate([items_r, items_p]))
    width = max(len(item_values), 1)
    truth = np.unique(user_codes[:len(users_r)].astype(np.int64) * width + item_codes[:len(items_r)])
    users, bought = np.unique(truth // width, return_counts=True)  # users with labels: the mean is over them
    if len(users) == 0:
        return pd.DataFrame({f"ndcg@{k}": [], f"map@{k}": []})
    user_p = user_codes[len(users_r):]
    rank = ranked["rank"].to_numpy()
    keep = (rank <= k) & np.isin(user_p, users)
    user_p, rank = user_p[keep], rank[keep]
    pair_p = user_p.astype(np.int64) * width + item_codes[len(items_r):][keep]
    order = np.lexsort((rank, user_p))                              # by user, then rank, ties in file order
    ndcg, ap = list_scores(np.searchsorted(users, user_p[order]), np.isin(pair_p[order], truth), bought, k)
    user_ids = pd.Index(user_values[users], name=id)
    return pd.DataFrame({f"ndcg@{k}": ndcg, f"map@{k}": ap}, index=user_ids)


def list_scores(user: np.ndarray, hit: np.ndarray, bought: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """NDCG@k and MAP@k of each user from the rows of their lists: `user` numbers the users 0 to
    len(bought) - 1 and the rows come by user, then in list order (only each list's first k
    count); `hit` says whether the row's item is relevant; `bought` is how many relevant items
    each user has (at least one). The one computation behind `ranking_scores_by_user` and the
    leaderboard's scorer."""
    first = np.r_[True, user[1:] != user[:-1]]
    position = np.arange(len(user)) - np.maximum.accumulate(np.where(first, np.arange(len(user)), 0))
    within = position < k
    user, hit, position = user[within], hit[within].astype(float), position[within]
    wanted = np.minimum(bought, k)  # how many hits a perfect list has
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.array([discounts[:n].sum() for n in range(k + 1)])[wanted]
    ndcg = np.bincount(user, hit * discounts[position], minlength=len(bought)) / ideal
    found = np.cumsum(hit)
    found -= (found - hit)[np.arange(len(hit)) - position]  # hits so far within the user's list
    ap = np.bincount(user, hit * found / (position + 1), minlength=len(bought)) / wanted
    return ndcg, ap


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
