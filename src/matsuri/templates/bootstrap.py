"""A paired bootstrap interval for how much better one set of scores is than another on the same rows.

Each resample draws the validation rows (or whole groups of rows: a user's, a push's) with
replacement, and scores the baseline and the model on the SAME draw, so the interval is for their
difference, not for each alone. A resample is a vector of counts (how often each row was drawn), so
the metrics that `VECTORISED` knows are computed for a block of resamples at once with numpy; any
other `(truth, scores) -> float` metric is called once per resample on the rows drawn.

The seed is fixed: the same rows and scores give the same interval every time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matsuri import metrics

RESAMPLES = 1000
LEVEL = 0.95
SEED = 20
CELLS_PER_BLOCK = 2_000_000  # resamples × rows held in memory at once (16 MB of float64)
CELLS = 50_000_000           # resamples × rows at most (a few seconds a metric): big validations
MIN_RESAMPLES = 200          # get fewer resamples, never fewer than this (their intervals are narrow)

Metric = Callable[[np.ndarray, np.ndarray], float]
Scorer = Callable[[np.ndarray], np.ndarray]           # counts (resamples × rows) -> one value per resample
Resampled = Callable[[np.ndarray, np.ndarray], Scorer]  # truth, scores -> a scorer (sorted once)


@dataclass(frozen=True)
class Interval:
    """The middle `level` share of the resampled gains (positive: the model is better)."""

    low: float
    high: float
    level: float = LEVEL
    resamples: int = RESAMPLES

    def contains_zero(self) -> bool:
        """True also when there is no interval (NaN: too few resamples could be scored)."""
        return not (self.low > 0 or self.high < 0)

    def known(self) -> bool:
        return bool(np.isfinite(self.low) and np.isfinite(self.high))


def _tie_starts(ranked: np.ndarray) -> np.ndarray:
    return np.r_[0, np.flatnonzero(ranked[1:] != ranked[:-1]) + 1]


def _by_tie(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Columns of `values` summed within each group of tied scores (nothing to do without ties)."""
    return values if len(starts) == values.shape[1] else np.add.reduceat(values, starts, axis=1)


def weighted_roc_auc(truth: np.ndarray, scores: np.ndarray) -> Scorer:
    """`metrics.roc_auc` of each resample (a row of counts): the same rank statistic, ties half."""
    order = np.argsort(scores, kind="stable")                       # sorted once for every block
    starts, positive = _tie_starts(scores[order]), truth.astype(bool)[order]

    def score(counts: np.ndarray) -> np.ndarray:
        drawn = counts[:, order]
        pos = _by_tie(drawn * positive, starts)                     # positives per tied score
        neg = _by_tie(drawn, starts) - pos
        below = np.cumsum(neg, axis=1) - neg                        # negatives scored lower
        with np.errstate(invalid="ignore", divide="ignore"):
            return (pos * (below + neg / 2)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))

    return score


def weighted_pr_auc(truth: np.ndarray, scores: np.ndarray) -> Scorer:
    """`metrics.pr_auc` (average precision, highest score first) of each resample."""
    order = np.argsort(-scores, kind="stable")
    starts, positive = _tie_starts(scores[order]), truth.astype(bool)[order]

    def score(counts: np.ndarray) -> np.ndarray:
        drawn = counts[:, order]
        pos = _by_tie(drawn * positive, starts)
        seen = np.cumsum(_by_tie(drawn, starts), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(seen > 0, np.cumsum(pos, axis=1) / seen, 0.0)
            total = pos.sum(axis=1)
            return np.where(total > 0, (pos * precision).sum(axis=1) / total, 0.0)

    return score


def _weighted_mean(values: np.ndarray) -> Scorer:
    return lambda counts: counts @ values / counts.sum(axis=1)


def weighted_log_loss(truth: np.ndarray, scores: np.ndarray) -> Scorer:
    """`metrics.log_loss` of each resample: a weighted mean of each row's loss."""
    p = np.clip(scores, 1e-6, 1 - 1e-6)
    return _weighted_mean(-np.where(truth.astype(bool), np.log(p), np.log1p(-p)))


def average(truth, values) -> float:
    """The mean of values already measured for each row (each customer's NDCG, say): with it,
    `Comparison.measure` bootstraps any metric that is a mean over rows; `truth` is not read."""
    return float(np.mean(np.asarray(values, dtype=float)))


def weighted_average(truth: np.ndarray, values: np.ndarray) -> Scorer:
    return _weighted_mean(values)


# Metrics computed for a block of resamples at once; any other metric is called per resample.
VECTORISED: dict[Callable, Resampled] = {
    metrics.roc_auc: weighted_roc_auc,
    metrics.pr_auc: weighted_pr_auc,
    metrics.log_loss: weighted_log_loss,
    average: weighted_average,
}


def _one_by_one(metric: Metric) -> Resampled:
    def prepare(truth: np.ndarray, scores: np.ndarray) -> Scorer:
        def score(counts: np.ndarray) -> np.ndarray:
            values = np.empty(len(counts))
            rows = np.arange(counts.shape[1])
            for i, drawn in enumerate(counts.astype(np.int64)):
                picked = np.repeat(rows, drawn)
                try:
                    values[i] = metric(truth[picked], scores[picked])
                except (ValueError, ZeroDivisionError):   # e.g. a draw with one class only
                    values[i] = np.nan
            return values

        return score

    return prepare


def resampler(metric: Metric) -> Resampled:
    """The fast version of `metric` when there is one, else `metric` called on each resample."""
    return VECTORISED.get(metric) or _one_by_one(metric)


def draws(rows: int, groups=None, resamples: int = RESAMPLES, seed: int = SEED):
    """Blocks of resamples: integer arrays (resamples in the block × rows), how often each row is drawn.
    With `groups` (one label per row), whole groups are drawn, so a group's rows come together."""
    if groups is None:
        codes, units = np.arange(rows), rows
    else:
        codes, uniques = pd.factorize(np.asarray(groups), use_na_sentinel=False)
        units = len(uniques)
    rng = np.random.default_rng(seed)
    block = max(1, CELLS_PER_BLOCK // max(rows, 1))
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        picks = rng.integers(0, units, size=(size, units)) + units * np.arange(size)[:, None]
        counts = np.bincount(picks.ravel(), minlength=size * units).reshape(size, units)
        yield counts if groups is None else counts[:, codes]


def gain_interval(metric: Metric, truth, baseline, model, higher_is_better: bool = True, groups=None,
                  resamples: int = RESAMPLES, level: float = LEVEL, seed: int = SEED) -> Interval:
    """The `level` interval of the model's gain over the baseline (model − baseline, or baseline −
    model when lower is better), resampling rows (or whole `groups`) paired for both. Above
    CELLS / resamples rows, fewer resamples are drawn (at least MIN_RESAMPLES; `Interval.resamples`).
    NaN bounds (`known()` False; counted as including zero) when more than 1 resample in 10 cannot be
    scored, e.g. with one or two positives: then there is surely not enough data to tell."""
    truth = np.asarray(truth)
    baseline, model = np.asarray(baseline, dtype=float), np.asarray(model, dtype=float)
    if not len(truth) == len(baseline) == len(model) or (groups is not None and len(groups) != len(truth)):
        raise ValueError("the labels, both sets of scores and the groups must have one value per row")
    resamples = min(resamples, max(MIN_RESAMPLES, CELLS // max(len(truth), 1)))
    prepare = resampler(metric)
    score_model, score_baseline = prepare(truth, model), prepare(truth, baseline)
    gains = np.concatenate([score_model(counts) - score_baseline(counts)
                            for counts in draws(len(truth), groups, resamples, seed)])
    gains = gains[np.isfinite(gains)] * (1 if higher_is_better else -1)
    if len(gains) < 0.9 * resamples:
        return Interval(np.nan, np.nan, level, resamples)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(gains, [tail, 100 - tail])
    return Interval(float(low), float(high), level, resamples)
