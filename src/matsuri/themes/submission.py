"""Write predictions in the exact format the hackathon scores, and refuse anything else.

A submission is a folder with `predictions.csv` (and, for call-keywords, an optional
`keywords.csv`). Files are checked before writing and written atomically, so a failed run never
leaves a half-written submission behind.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from matsuri.errors import OutOfSpace, UsageError

PREDICTIONS = "predictions.csv"
KEYWORDS = "keywords.csv"
MAX_KEYWORDS = 20
TOP_K = 10


def write_probabilities(
    folder: str | Path, id_column: str, ids: Iterable, probabilities: Iterable[float], expected_ids: Iterable
) -> Path:
    """predictions.csv with `<id_column>,probability`: one row per id to predict, each in [0, 1]."""
    frame = pd.DataFrame({id_column: np.asarray(list(ids)), "probability": np.asarray(list(probabilities), float)})
    _same_ids(frame[id_column], expected_ids, id_column)
    bad = frame[~frame["probability"].between(0, 1)]  # NaN fails between() too
    if len(bad):
        raise UsageError(
            f"{len(bad)} probabilities are missing or outside 0..1 (for example {id_column} "
            f"{bad[id_column].iloc[0]}: {bad['probability'].iloc[0]}). Use predict_proba(...)[:, 1] "
            "and fill gaps (for example with the overall rate) before writing."
        )
    return _write(frame.sort_values(id_column), Path(folder) / PREDICTIONS)


def write_keywords(folder: str | Path, keywords: Iterable[str]) -> Path:
    """keywords.csv with `rank,keyword`: up to 20 words, rank 1 = strongest association."""
    words = [str(w).strip() for w in keywords]
    words = [w for w in dict.fromkeys(words) if w]  # keep order, drop blanks and repeats
    if not words:
        raise UsageError("No keywords to write: pass at least one word (up to 20, strongest first).")
    words = words[:MAX_KEYWORDS]
    frame = pd.DataFrame({"rank": np.arange(1, len(words) + 1), "keyword": words})
    return _write(frame, Path(folder) / KEYWORDS)


def write_rankings(folder: str | Path, rankings: pd.DataFrame, expected_users: Iterable) -> Path:
    """predictions.csv with `user_id,product_id,rank`: ranks 1..10 for every user, no repeats."""
    frame = rankings[["user_id", "product_id", "rank"]].astype({"user_id": "int64", "product_id": "int64"})
    _same_ids(pd.Series(frame["user_id"].unique()), expected_users, "user_id")
    repeated = frame[frame.duplicated(["user_id", "product_id"])]
    if len(repeated):
        row = repeated.iloc[0]
        raise UsageError(
            f"User {row['user_id']} is recommended product {row['product_id']} twice. Each user's "
            "list must name each product once; drop duplicates before ranking."
        )
    counts = frame.groupby("user_id")["rank"].agg(["min", "max", "count", "nunique"])
    wrong = counts[(counts["min"] != 1) | (counts["max"] != counts["count"]) | (counts["nunique"] != counts["count"])
                   | (counts["count"] > TOP_K)]
    if len(wrong):
        raise UsageError(
            f"The ranks of user {wrong.index[0]} are not 1, 2, 3, … (at most {TOP_K}) without gaps. "
            "Number each user's list from 1 in order of preference."
        )
    return _write(frame.sort_values(["user_id", "rank"]), Path(folder) / PREDICTIONS)


def _same_ids(ids: pd.Series, expected: Iterable, column: str) -> None:
    expected = pd.Index(np.asarray(list(expected))).unique()
    if ids.duplicated().any():
        raise UsageError(
            f"{column} {ids[ids.duplicated()].iloc[0]} appears more than once; write one row per {column}."
        )
    missing, unknown = expected.difference(ids), pd.Index(ids).difference(expected)
    if len(missing):
        raise UsageError(
            f"{len(missing)} of the {len(expected)} {column} values to predict have no prediction "
            f"(for example {', '.join(map(str, missing[:3]))}). Predict every row of the holdout table."
        )
    if len(unknown):
        raise UsageError(
            f"{len(unknown)} predictions are for {column} values that are not in the holdout table "
            f"(for example {', '.join(map(str, unknown[:3]))}). Predict the holdout rows only."
        )


def _write(frame: pd.DataFrame, path: Path) -> Path:
    """Write next to the target, then rename: readers see the old file or the new one, never half."""
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(partial, index=False, float_format="%.6g")
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise OutOfSpace(f"The disk is full: {path} could not be written. Free some space and run again.") from None
        raise UsageError(f"Could not write {path}: {error.strerror}. Check the output folder.") from None
    return path
