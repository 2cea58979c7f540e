"""Do fingerprints and comparisons say how an answer differs, and only that?"""

from __future__ import annotations

import datetime as dt
import decimal
import math

import numpy as np
import pandas as pd
import pytest

from matsuri.checks.compare import as_table, compare
from matsuri.checks.fingerprint import NULL, canonical, fingerprint
from matsuri.checks.key_file import ExerciseKey, LessonKey
from matsuri.checks.outcomes import Incorrect, NotAttempted

ANSWER = pd.DataFrame({
    "category": ["book", "wearable", "supplement"],
    "revenue_yen": [12000, 98000, 45000],
    "share": [0.0774193548, 0.6322580645, 0.2903225806],
}).sort_values("revenue_yen", ascending=False, ignore_index=True)


def key_for(frame: pd.DataFrame, order_by=(), places=4) -> ExerciseKey:
    columns = [c.lower() for c in frame.columns]
    fp = fingerprint(frame, columns, list(order_by), places, "q1")
    return ExerciseKey("q1", "q1_result", {"en": "t"}, columns, fp.rows, places, list(order_by),
                       fp.column_hashes, fp.row_hash, fp.order_hash, {"en": ["h"]})


def outcome(frame, key) -> str:
    with pytest.raises(Incorrect) as caught:
        compare(key, frame, "en")
    return caught.value.message


@pytest.mark.parametrize(("a", "b"), [
    (1617, 1617.0),
    (np.int64(3), 3.00001),
    (decimal.Decimal("2.50"), 2.5),
    (pd.Timestamp("2025-04-01"), dt.date(2025, 4, 1)),
    (None, float("nan")),
    (pd.NaT, None),
    (pd.NA, None),
    (-0.0, 0.0),
    (np.True_, True),
])
def test_are_equal_values_written_the_same_way(a, b):
    assert canonical(a, 4) == canonical(b, 4)


def test_do_different_values_stay_different():
    assert canonical(1.2345, 4) != canonical(1.2346, 4)
    assert canonical("1", 4) != canonical(1, 4)
    assert canonical(pd.Timestamp("2025-04-01 09:00"), 4) != canonical(dt.date(2025, 4, 1), 4)
    assert canonical(0, 4) != NULL and canonical(False, 4) != canonical(0, 4)


def test_does_the_same_table_pass_in_any_row_and_column_order():
    key = key_for(ANSWER)
    compare(key, ANSWER.iloc[::-1][["share", "category", "revenue_yen"]], "en")
    compare(key, ANSWER.rename(columns=str.upper), "en")


def test_does_a_required_order_count_but_not_among_ties():
    key = key_for(ANSWER, order_by=["revenue_yen"])
    assert "different order" in outcome(ANSWER.iloc[::-1], key)
    tied = pd.DataFrame({"n": [3, 3, 1], "name": ["a", "b", "c"]})
    compare(key_for(tied, order_by=["n"]), tied.iloc[[1, 0, 2]], "en")


def test_are_column_problems_named():
    key = key_for(ANSWER)
    assert "missing the column(s) `share`" in outcome(ANSWER.drop(columns="share"), key)
    extra = ANSWER.assign(n=1)
    assert "does not ask for: `n`" in outcome(extra, key)
    twice = pd.concat([ANSWER, ANSWER[["share"]]], axis=1)
    assert "more than one column named `share`" in outcome(twice, key)


def test_are_row_count_values_and_pairing_told_apart():
    key = key_for(ANSWER)
    assert "has 2 row(s); the answer has 3" in outcome(ANSWER.head(2), key)
    wrong = ANSWER.assign(revenue_yen=ANSWER.revenue_yen + 1)
    assert "column(s) `revenue_yen` differ" in outcome(wrong, key)
    shuffled = ANSWER.assign(share=ANSWER.share.iloc[::-1].to_numpy())
    assert "paired up into rows differently" in outcome(shuffled, key)


def test_is_rounding_noise_ignored_but_a_real_difference_not():
    key = key_for(ANSWER)
    compare(key, ANSWER.assign(share=ANSWER.share + 1e-9), "en")
    assert "`share`" in outcome(ANSWER.assign(share=ANSWER.share.round(2)), key)


def test_does_no_message_reveal_the_expected_values():
    key = key_for(ANSWER)
    wrong = ANSWER.assign(revenue_yen=[1, 2, 3], category=["x", "y", "z"])
    text = outcome(wrong, key)
    assert not any(str(v) in text for v in [98000, 45000, 12000, "wearable", "supplement"])
    stored = LessonKey("c", "l", "en", False, "sig", [key]).to_json()
    assert not any(str(v) in stored for v in [98000, 45000, 12000, "wearable", "0.632"])


def test_is_anything_but_a_table_explained():
    with pytest.raises(NotAttempted):
        as_table(None, "q1_result", "en")
    with pytest.raises(Incorrect, match="holds a number"):
        as_table(42, "q1_result", "en")
    with pytest.raises(Incorrect, match="holds text"):
        as_table("Connected: duckdb", "q1_result", "en")


def test_does_an_empty_answer_compare_by_shape():
    empty = pd.DataFrame({"a": pd.Series([], dtype="int64")})
    compare(key_for(empty), empty.copy(), "en")
    assert not math.isnan(len(empty))
