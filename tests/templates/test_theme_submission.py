"""Do the notebooks' writers follow the theme's spec and refuse, with the organiser's own message,
exactly what `hackathon submit` would refuse? A toy theme (one file of every kind) and a tiny
warehouse stand in for a real event."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from matsuri import theme_spec
from matsuri.errors import InvalidSubmission, UsageError
from matsuri.templates.submission import (
    write_keywords,
    write_probabilities,
    write_rankings,
    write_values,
)

SPEC = '''
id = "toy"
[title]
ja = "おもちゃ"
en = "Toy"
[description]
ja = "試験用のテーマです。"
en = "A theme for tests."
[holdout]
table = "holdout_toy"
id = "user_id"
labels = "SELECT 1"
[[files]]
name = "predictions.csv"
kind = "probability"
[[files]]
name = "amounts.csv"
kind = "value"
required = false
[[files]]
name = "shelf.csv"
kind = "ranking"
required = false
item = "product_id"
items = "SELECT product_id FROM products"
k = 3
[[files]]
name = "words.csv"
kind = "keywords"
required = false
k = 4
[[metrics]]
name = "roc_auc"
leaderboard = true
'''


@pytest.fixture(autouse=True)
def toy_theme(tmp_path, monkeypatch):
    folder = tmp_path / "templates" / "toy"
    folder.mkdir(parents=True)
    (folder / "theme.toml").write_text(SPEC, encoding="utf-8")
    warehouse = tmp_path / "toy.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE holdout_toy AS SELECT range + 1 AS user_id FROM range(3)")
        con.execute("CREATE TABLE products AS SELECT range + 100 AS product_id FROM range(5)")
    monkeypatch.setenv(theme_spec.TEMPLATES_ENV, str(folder.parent))
    monkeypatch.setenv("MATSURI_WAREHOUSE", str(warehouse))


def test_probabilities_are_written_one_row_per_id_sorted(tmp_path):
    path = write_probabilities("toy", tmp_path / "sub", [3, 1, 2], [0.3, 0.1, 0.2])
    frame = pd.read_csv(path)
    assert path.name == "predictions.csv" and list(frame.columns) == ["user_id", "probability"]
    assert frame["user_id"].tolist() == [1, 2, 3] and frame["probability"].tolist() == [0.1, 0.2, 0.3]
    assert [p.name for p in path.parent.iterdir()] == ["predictions.csv"], "no scratch left behind"


@pytest.mark.parametrize(("ids", "probs", "expected"), [
    ([1, 2], [0.1, 0.2], "missing 1 of the 3 user_id values of holdout_toy"),
    ([1, 2, 3, 4], [0.1] * 4, "1 user_id value that are not in holdout_toy"),
    ([1, 1, 2, 3], [0.1] * 4, "lists 1 user_id value more than once"),
    ([1, 2, 3], [0.1, np.nan, 0.2], "line 3: probability is empty or NaN"),
    ([1, 2, 3], [0.1, 1.2, 0.2], "line 3: probability is 1.2, but a probability must be between 0 and 1"),
])
def test_bad_probabilities_get_the_submit_message_and_nothing_is_written(tmp_path, ids, probs, expected):
    with pytest.raises(InvalidSubmission, match=expected) as refused:
        write_probabilities("toy", tmp_path / "sub", ids, probs)
    assert str(refused.value).startswith("Nothing was written, because the hackathon would refuse")
    assert list((tmp_path / "sub").iterdir()) == []


def test_a_refused_write_keeps_the_previous_submission(tmp_path):
    first = write_probabilities("toy", tmp_path, [1, 2, 3], [0.5, 0.5, 0.5])
    with pytest.raises(InvalidSubmission):
        write_probabilities("toy", tmp_path, [1], [0.9])
    assert pd.read_csv(first)["probability"].tolist() == [0.5, 0.5, 0.5]


def test_the_holdout_comes_from_the_connection_given(tmp_path):
    """A company's renamed tables (open_warehouse's views) decide which ids are expected."""
    con = duckdb.connect()
    con.execute("CREATE TABLE holdout_toy AS SELECT range + 10 AS user_id FROM range(2)")
    con.execute("CREATE TABLE products AS SELECT 1 AS product_id")
    assert write_probabilities("toy", tmp_path, [10, 11], [0.2, 0.4], con).is_file()


def test_values_and_mismatched_lengths(tmp_path):
    assert pd.read_csv(write_values("toy", tmp_path, [1, 2, 3], [5, 0, 2.5]))["value"].tolist() == [5, 0, 2.5]
    with pytest.raises(UsageError, match="3 ids but 2 value values"):
        write_values("toy", tmp_path, [1, 2, 3], [1, 2])


def test_keywords_keep_order_drop_repeats_and_stop_at_the_specs_k(tmp_path):
    frame = pd.read_csv(write_keywords("toy", tmp_path, ["見積もり", "稟議", "見積もり", " ", "a", "b", "c"]))
    assert frame["rank"].tolist() == [1, 2, 3, 4] and frame["keyword"].tolist() == ["見積もり", "稟議", "a", "b"]
    with pytest.raises(UsageError, match="No keywords"):
        write_keywords("toy", tmp_path / "other", ["", " "])


def ranked(users, k=3, products=None):
    return pd.DataFrame([(u, (products or range(100, 100 + k))[r], r + 1) for u in users for r in range(k)],
                        columns=["user_id", "product_id", "rank"])


def test_rankings_are_written_per_user_in_rank_order(tmp_path):
    frame = pd.read_csv(write_rankings("toy", tmp_path, ranked([3, 2, 1]).sample(frac=1, random_state=0)))
    assert list(frame.columns) == ["user_id", "product_id", "rank"]
    assert frame["user_id"].tolist() == [1] * 3 + [2] * 3 + [3] * 3 and frame["rank"].tolist() == [1, 2, 3] * 3


@pytest.mark.parametrize(("frame", "expected"), [
    (ranked([1]), "no list for 2 of the 3 user_id values"),
    (ranked([1, 2, 3], products=[100] * 3), "names the same product_id more than once"),
    (ranked([1, 2, 3], k=4, products=list(range(100, 104))), "rank is 4, but ranks go from 1"),
    (ranked([1, 2, 3], products=[100, 101, 999]), "not found in the warehouse"),
    (ranked([1, 2, 3]).drop(columns="rank"), "have no column rank"),
])
def test_bad_rankings_are_refused(tmp_path, frame, expected):
    with pytest.raises((InvalidSubmission, UsageError), match=expected):
        write_rankings("toy", tmp_path, frame)


def test_an_unknown_theme_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(theme_spec.TEMPLATES_ENV, str(tmp_path / "nothing"))
    with pytest.raises(UsageError, match="Unknown theme 'toy'"):
        write_probabilities("toy", tmp_path, [1], [0.5])
