"""What kind of feature each column of a query's result is, and how a model reads each kind.

A learner who adds a column to a template's SQL should see it used without writing Python, so
columns are typed from their values (DuckDB's types arrive as pandas dtypes):

    number      integers, decimals, true/false          missing → the median, then scaled
    category    short text with repeating values         one column per value (rare ones pooled)
    text        longer text (titles, transcripts)        Japanese words, weighted by TF-IDF
    time        dates and timestamps                     hour, weekday and month, as numbers

Ids, labels and the columns a template reads by name are left out by the caller (`exclude`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from matsuri.errors import UsageError

KINDS = ("number", "category", "text", "time")
KIND_NAMES = {  # shown to learners
    "number": {"ja": "数値", "en": "number"},
    "category": {"ja": "カテゴリ", "en": "category"},
    "text": {"ja": "テキスト", "en": "text"},
    "time": {"ja": "日時", "en": "time"},
}
TEXT_MIN_LENGTH = 20      # a string column whose values are this long on average is text
CATEGORY_MAX_SHARE = 0.5  # ... or whose distinct values exceed this share of rows (and 50 values)
TEXT_DIMENSIONS = 30      # dense models read text through this many SVD components
RARE = 0.01               # category values rarer than this share are pooled into one


def kind_of(values: pd.Series) -> str:
    """number, category, text or time, from the values themselves."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "time"
    present = values.dropna().astype(str)
    if present.empty:
        return "category"
    distinct = present.nunique()
    long = present.str.len().mean() >= TEXT_MIN_LENGTH
    varied = distinct > 50 and distinct > CATEGORY_MAX_SHARE * len(present)
    return "text" if long or varied else "category"


def kinds(frame: pd.DataFrame, exclude: Iterable[str] = ()) -> dict[str, str]:
    """Every column not excluded, with its kind, in the query's order."""
    skip = set(exclude)
    return {c: kind_of(frame[c]) for c in frame.columns if c not in skip}


def extra(frame: pd.DataFrame, known: Iterable[str]) -> dict[str, str]:
    """The columns a learner added to a template's query (not among `known`), with their kinds."""
    return kinds(frame, exclude=known)


def check(frame: pd.DataFrame, chosen: Mapping[str, str]) -> None:
    """Refuse, in plain words, a feature the model cannot learn from, naming the column."""
    for column, kind in chosen.items():
        if column not in frame.columns:
            raise UsageError(f"The query no longer returns the column '{column}'. Run the query again "
                             "and tick the features it returns.",
                             ja=f"クエリの結果に列 '{column}' がありません。クエリを実行し直して、"
                                "結果にある列から特徴量を選んでください。")
        if kind not in KINDS:
            raise UsageError(f"'{column}' is marked as '{kind}'; a feature is one of {', '.join(KINDS)}.")
        values = frame[column]
        if kind == "number" and not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            example = values.dropna().astype(str).head(1).tolist()
            shown = example[0] if example else ""
            raise UsageError(
                f"'{column}' holds words (for example '{shown}'), not numbers, so it cannot be used as "
                "a number. Mark it as a category or as text, or turn it into a number in the SQL (for "
                "example with CAST or length()).",
                ja=f"'{column}' には数値ではなく文字（例: '{shown}'）が入っているので、数値としては使えません。"
                   "カテゴリかテキストとして選ぶか、SQL で数値に変えてください（CAST や length() など）。")
        if kind == "time" and not pd.api.types.is_datetime64_any_dtype(values):
            raise UsageError(f"'{column}' is not a date or time. Mark it as a number or category, or "
                             "CAST it to TIMESTAMP in the SQL.",
                             ja=f"'{column}' は日時ではありません。数値かカテゴリとして選ぶか、SQL で "
                                "TIMESTAMP に CAST してください。")
        if values.nunique(dropna=False) <= 1:
            shown = values.iloc[0] if len(values) else "nothing"
            raise UsageError(
                f"'{column}' has the same value ({shown}) in every row, so it cannot tell one row from "
                "another. Leave it out, or change the SQL so that it varies.",
                ja=f"'{column}' はすべての行で同じ値（{shown}）なので、行の違いを見分ける手がかりになりません。"
                   "この列は使わないか、値が変わるように SQL を変えてください。")


def encoder(chosen: Mapping[str, str], tokenizer=None, dense: bool = False) -> ColumnTransformer:
    """One step that turns the chosen columns into numbers a model can read, kind by kind.

    dense: for learners that need a dense matrix (gradient boosting): text is then summarised
    into a few dozen dimensions (truncated SVD) instead of one column per word."""
    parts = []
    for column, kind in chosen.items():
        if kind == "number":
            parts.append((column, make_pipeline(FunctionTransformer(_as_float),
                                                SimpleImputer(strategy="median", keep_empty_features=True),
                                                StandardScaler()), [column]))
        elif kind == "category":
            parts.append((column, make_pipeline(FunctionTransformer(_as_text),
                                                OneHotEncoder(handle_unknown="infrequent_if_exist",
                                                              min_frequency=RARE)), [column]))
        elif kind == "text":
            words = TfidfVectorizer(tokenizer=tokenizer or _words, lowercase=False, token_pattern=None,
                                    min_df=3, max_features=2000)
            parts.append((column, make_pipeline(FunctionTransformer(_one_text), words,
                                                *([TruncatedSVD(TEXT_DIMENSIONS, random_state=0)] if dense else [])),
                          [column]))
        elif kind == "time":
            parts.append((column, make_pipeline(FunctionTransformer(_time_parts),
                                                SimpleImputer(strategy="median", keep_empty_features=True),
                                                StandardScaler()), [column]))
        else:
            raise UsageError(f"'{column}' is marked as '{kind}'; a feature is one of {', '.join(KINDS)}.")
    if not parts:
        raise UsageError("No feature is ticked: choose at least one column for the model to learn from.",
                         ja="特徴量が 1 つも選ばれていません。モデルが学ぶ列を 1 つ以上選んでください。")
    return ColumnTransformer(parts, sparse_threshold=0 if dense else 0.3)


def _as_float(values):
    return pd.DataFrame(values).astype("float64")


def _one_text(values):
    """The text column as plain strings (missing text is empty), what the vectoriser reads."""
    return pd.DataFrame(values).iloc[:, 0].fillna("").astype(str)


def _as_text(values):
    return pd.DataFrame(values).astype(str)


def _time_parts(values):
    """Hour, weekday and month: what a date says that a model can use (the date itself repeats never)."""
    times = pd.to_datetime(pd.DataFrame(values).iloc[:, 0])
    return np.column_stack([times.dt.hour, times.dt.dayofweek, times.dt.month]).astype("float64")


def _words(text: str) -> list[str]:
    """Japanese content words (a plain function, so a saved model can name it)."""
    return list(_cached_words(text))


@lru_cache(maxsize=65536)
def _cached_words(text: str) -> tuple[str, ...]:
    """Cached because titles repeat across thousands of rows."""
    from matsuri.templates import japanese

    return tuple(japanese.words(text))
