"""What the theme libraries check on the rows a starter loaded, before anything is trained.

A company's tables may hold what the festival warehouse never does: an empty or duplicated holdout,
customers left empty (a guest order), text ids ('U-000123'). The data contract checks the tables
when they open (`matsuri.templates.contract`); this checks the rows the load query returned, which a
participant's SQL may have changed. The libraries keep ids as they come (whole numbers or text) and,
here, stop early on a holdout that cannot be predicted, naming its table, or say what they do with
rows that have no customer. (The hackathon refuses a broken holdout table the same way when it
scores: `matsuri.hackathon.themes.holdout_ids`.)
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from matsuri import theme_spec
from matsuri.errors import UsageError


class DataWarning(UserWarning):
    """Something in the data the template works around (and says so), e.g. orders without a customer."""


def holdout_rows(frame: pd.DataFrame, label: str, library: str) -> pd.DataFrame:
    """The loaded rows without a label: the holdout's, to predict. Refuses, before any training,
    a holdout the load query returned no rows of, and one with an id missing or listed twice."""
    spec = theme_spec.for_library(library)
    rows = frame[frame[label].isna()]
    check_holdout(rows[spec.id_column], spec.holdout_table, spec.id_column)
    return rows


def check_holdout(ids: pd.Series, table: str, column: str) -> None:
    """The holdout's ids as a starter loaded them: some, each once, none empty. A repeat may come
    from the table or from the load query (a JOIN matching several rows): the message says both."""
    from matsuri.hackathon.predictions import examples

    if len(ids) == 0:
        raise UsageError(
            f"The load query returned no rows of the holdout table {table}: there is nothing to "
            f"predict. Check that {table} has rows (the ones to predict, one per {column}) and that "
            "the query keeps them, then run again.",
            ja=f"読み込みのクエリが、ホールドアウトの表 {table} の行を 1 行も返しませんでした。予測するものが"
               f"ありません。{table} に予測する行（{column} ごとに 1 行）があること、クエリがその行を残している"
               "ことを確かめて、もう一度実行してください。")
    missing = int(ids.isna().sum())
    if missing:
        raise UsageError(
            f"The holdout table {table} has {missing:,} rows without a {column} (NULL) among the rows "
            f"to predict: every row to predict needs one. Fix the export (or leave those rows out) "
            "and run again.",
            ja=f"ホールドアウトの表 {table} の予測する行のうち {missing:,} 行で {column} が空（NULL）です。予測する"
               f"行にはすべて {column} が必要です。書き出しを直して（またはその行を除いて）、もう一度実行してください。")
    counts = ids.value_counts()
    repeated = sorted(counts.index[counts.to_numpy() > 1])
    if repeated:
        shown = examples(repeated)
        raise UsageError(
            f"The holdout table {table} has {len(repeated):,} duplicate {column} values ({shown}) "
            f"among the rows to predict: each {column} must appear once. Fix the export or "
            f"deduplicate it; if {table} itself lists each once, the load query repeats them (a JOIN "
            f"that matches several rows): make it return one row per {column}.",
            ja=f"ホールドアウトの表 {table} の予測する行に、重複した {column} が {len(repeated):,} 件あります"
               f"（{shown}）。{column} は 1 回ずつしか現れてはいけません。書き出しを直すか重複を除いてください。"
               f"{table} 自体では 1 回ずつなら、読み込みのクエリが行を増やしています（複数の行に合う JOIN）。"
               f"{column} ごとに 1 行を返すようにしてください。")


def without_customer(values: pd.Series) -> np.ndarray:
    """Rows whose customer (user_id) is empty, e.g. a guest order."""
    return values.isna().to_numpy()


def codes(values: pd.Series) -> np.ndarray:
    """One small integer per id (whole number or text), in the ids' own order; every empty id gets
    a code of its own (an unknown customer shares nothing with anyone)."""
    found, _ = pd.factorize(values, sort=True, use_na_sentinel=True)
    found = found.astype(np.int64)
    empty = found < 0
    found[empty] = found.max(initial=-1) + 1 + np.arange(int(empty.sum()))
    return found


def say(message: str, ja: str) -> None:
    """A note the notebook shows once (bilingual), for what the template works around."""
    warnings.warn(f"{ja}\n{message}", DataWarning, stacklevel=3)
