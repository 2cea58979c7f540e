"""Do the shared metrics give the textbook numbers, whatever the shape of their inputs?"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from matsuri.metrics import keyword_hits, log_loss, ranking_scores, roc_auc


def reference_ranking(ranked: pd.DataFrame, relevant: pd.DataFrame, k: int) -> dict[str, float]:
    """NDCG@k and MAP@k one user at a time, written to be read rather than to be fast."""
    ndcg, ap = [], []
    for user in sorted(set(relevant["user_id"])):
        bought = set(relevant.loc[relevant["user_id"] == user, "product_id"])
        mine = [(rank, i, product) for i, (u, product, rank)
                in enumerate(ranked[["user_id", "product_id", "rank"]].itertuples(index=False))
                if u == user and rank <= k]
        listed = [product for _, _, product in sorted(mine)][:k]  # by rank, ties in file order
        wanted = min(len(bought), k)
        dcg = sum(1 / math.log2(i + 2) for i, p in enumerate(listed) if p in bought)
        ndcg.append(dcg / sum(1 / math.log2(i + 2) for i in range(wanted)))
        found, precision = 0, 0.0
        for i, p in enumerate(listed):
            if p in bought:
                found += 1
                precision += found / (i + 1)
        ap.append(precision / wanted)
    return {f"ndcg@{k}": float(np.mean(ndcg)) if ndcg else 0.0, f"map@{k}": float(np.mean(ap)) if ap else 0.0}


def random_case(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Small ids so that ties, repeats, ranks past k and users on one side only all happen."""
    users, products = int(rng.integers(1, 20)), int(rng.integers(1, 25))
    n, m = int(rng.integers(0, 250)), int(rng.integers(0, 150))
    ranked = pd.DataFrame({"user_id": rng.integers(0, users, n), "product_id": rng.integers(0, products, n),
                           "rank": rng.integers(0, 14, n)})
    relevant = pd.DataFrame({"user_id": rng.integers(0, users + 4, m), "product_id": rng.integers(0, products, m)})
    return ranked, relevant, int(rng.integers(1, 12))


def test_ranking_scores_equal_a_plain_per_user_computation():
    """On 300 random cases (ties, repeats, short lists, users without predictions or labels)?"""
    rng = np.random.default_rng(2026)
    for _ in range(300):
        ranked, relevant, k = random_case(rng)
        got, want = ranking_scores(ranked, relevant, k), reference_ranking(ranked, relevant, k)
        assert got.keys() == want.keys()
        assert all(abs(got[m] - want[m]) < 1e-12 for m in want), (got, want)


def test_ranking_scores_on_cases_worked_by_hand():
    """Perfect lists score 1, a user without predictions 0, and a hit at rank 2 its discount?"""
    relevant = pd.DataFrame({"user_id": [1, 1, 2], "product_id": [10, 11, 20]})
    perfect = pd.DataFrame({"user_id": [1, 1, 2], "product_id": [11, 10, 20], "rank": [1, 2, 1]})
    assert ranking_scores(perfect, relevant) == {"ndcg@10": 1.0, "map@10": 1.0}
    second = pd.DataFrame({"user_id": [2, 2, 3], "product_id": [5, 20, 20], "rank": [1, 2, 1]})
    scores = ranking_scores(second, relevant)  # user 1: nothing; user 3 has no labels
    assert scores["ndcg@10"] == pytest.approx((0 + 1 / math.log2(3)) / 2)
    assert scores["map@10"] == pytest.approx((0 + 1 / 2) / 2)
    assert ranking_scores(second, relevant.iloc[:0]) == {"ndcg@10": 0.0, "map@10": 0.0}


def test_probability_metrics_take_lists_series_arrays_and_generators_alike():
    """Is roc_auc/log_loss the same number whatever container holds the values?"""
    rng = np.random.default_rng(3)
    y, p = rng.random(200) < 0.3, rng.random(200)
    for metric in (roc_auc, log_loss):
        expected = metric(list(y), list(p))
        assert metric(y, p) == expected
        assert metric(pd.Series(y, index=range(5, 205)), pd.Series(p)) == expected
        assert metric((v for v in y), (v for v in p)) == expected


def test_roc_auc_equals_scikit_learn_on_probabilities_and_on_any_scores():
    """Ties, -0.0 and 0.0, exact 0 and 1, and scores below zero (the other way of sorting) alike?"""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(18)
    for case in range(200):
        n = int(rng.integers(2, 400))
        y = rng.random(n) < rng.random()
        y[:2] = [True, False]
        p = rng.random(n).round(int(rng.integers(1, 4)))
        p[rng.random(n) < 0.1] = -0.0
        p[rng.random(n) < 0.05] = 1.0
        scores = p if case % 2 else rng.normal(size=n).round(1)
        assert roc_auc(y, scores) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)


def test_keyword_hits_read_only_the_first_words():
    """Are planted words found inside the first `top` keywords only (NFKC, case-blind)?"""
    words = pd.Series(["ＴＲＩＡＬ plan", "予算", "稟議"])
    assert keyword_hits(words, ["trial", "稟議"], top=2) == ["trial"]
    assert keyword_hits(iter(words), ["trial", "稟議"]) == ["trial", "稟議"]
