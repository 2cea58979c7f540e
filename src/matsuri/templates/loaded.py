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
    """The holdout's ids as a starter loaded them: some, each once, none empty. The same check as
    the hackathon's on the table (`themes.holdout_ids`), worded for rows a load query returned."""
    from matsuri.hackathon.themes import holdout_ids

    values = ids.to_numpy(dtype=object, na_value=None) if ids.isna().any() else ids.to_numpy()
    holdout_ids(values, table, column, by_query=True)


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
