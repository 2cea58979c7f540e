"""Do the writers produce exactly the hackathon's format, and refuse anything it would reject?"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matsuri.errors import UsageError
from matsuri.themes.submission import write_keywords, write_probabilities, write_rankings


def test_probabilities_are_written_one_row_per_id_sorted(tmp_path):
    path = write_probabilities(tmp_path / "sub", "delivery_id", [3, 1, 2], [0.3, 0.1, 0.2], [1, 2, 3])
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["delivery_id", "probability"]
    assert frame["delivery_id"].tolist() == [1, 2, 3] and frame["probability"].tolist() == [0.1, 0.2, 0.3]
    assert [p.name for p in path.parent.iterdir()] == ["predictions.csv"], "no partial file left behind"


@pytest.mark.parametrize("ids, probs, expected", [
    ([1, 2], [0.1, 0.2], "1 of the 3 delivery_id values to predict have no prediction"),
    ([1, 2, 3, 4], [0.1] * 4, "not in the holdout table"),
    ([1, 1, 2, 3], [0.1] * 4, "appears more than once"),
    ([1, 2, 3], [0.1, np.nan, 0.2], "missing or outside 0..1"),
    ([1, 2, 3], [0.1, 1.2, 0.2], "missing or outside 0..1"),
])
def test_bad_probabilities_are_refused_and_nothing_is_written(tmp_path, ids, probs, expected):
    with pytest.raises(UsageError, match=expected):
        write_probabilities(tmp_path / "sub", "delivery_id", ids, probs, [1, 2, 3])
    assert not (tmp_path / "sub" / "predictions.csv").exists()


def test_a_failed_write_keeps_the_previous_submission(tmp_path):
    first = write_probabilities(tmp_path, "call_id", [1, 2], [0.5, 0.5], [1, 2])
    with pytest.raises(UsageError):
        write_probabilities(tmp_path, "call_id", [1], [0.9], [1, 2])
    assert pd.read_csv(first)["probability"].tolist() == [0.5, 0.5]


def test_keywords_keep_order_drop_repeats_and_stop_at_twenty(tmp_path):
    words = ["見積もり", "稟議", "見積もり", " ", *[f"w{i}" for i in range(30)]]
    frame = pd.read_csv(write_keywords(tmp_path, words))
    assert frame["rank"].tolist() == list(range(1, 21))
    assert frame["keyword"].tolist()[:3] == ["見積もり", "稟議", "w0"]
    with pytest.raises(UsageError, match="No keywords"):
        write_keywords(tmp_path / "other", ["", " "])


def ranked(users, k=10, products=None):
    return pd.DataFrame([(u, (products or range(100, 100 + k))[r], r + 1) for u in users for r in range(k)],
                        columns=["user_id", "product_id", "rank"])


def test_rankings_are_written_per_user_in_rank_order(tmp_path):
    frame = pd.read_csv(write_rankings(tmp_path, ranked([2, 1]).sample(frac=1, random_state=0), [1, 2]))
    assert list(frame.columns) == ["user_id", "product_id", "rank"]
    assert frame["user_id"].tolist() == [1] * 10 + [2] * 10 and frame["rank"].tolist() == list(range(1, 11)) * 2


@pytest.mark.parametrize("frame, expected", [
    (ranked([1]), "have no prediction"),
    (ranked([1, 2], products=[100] * 10), "recommended product 100 twice"),
    (ranked([1, 2]).query("rank != 3"), "not 1, 2, 3"),
    (ranked([1, 2], k=11, products=list(range(11))), "at most 10"),
])
def test_bad_rankings_are_refused(tmp_path, frame, expected):
    with pytest.raises(UsageError, match=expected):
        write_rankings(tmp_path, frame, [1, 2])
