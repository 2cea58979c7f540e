"""push-open-rate: will this user open this push notification?

Rows are deliveries (one push to one user). What we may know before sending: when it goes out, its
category and target segment, its title, and the user's own history of opening pushes.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    SplineTransformer,
    StandardScaler,
)

from matsuri.templates import extras, loaded
from matsuri.templates.contract import ThemeTables

NEEDS = ThemeTables(__name__)  # the tables and columns it reads: the theme's data contract

LOAD_SQL = """\
-- One row per delivery: the labelled ones (opened = true/false) and the holdout rows to predict
-- (opened = NULL), each with what we knew about its push when it was sent.
WITH deliveries AS (
    SELECT delivery_id, push_id, user_id, delivered_at, opened_at IS NOT NULL AS opened
    FROM push_deliveries
    UNION ALL
    SELECT delivery_id, push_id, user_id, delivered_at, NULL AS opened
    FROM holdout_push_deliveries
)
SELECT d.delivery_id, d.push_id, d.user_id, d.delivered_at, d.opened,
       hour(p.sent_at)   AS send_hour,
       isodow(p.sent_at) AS weekday,          -- 1 = Monday … 7 = Sunday
       p.category, p.target_segment, p.title, p.personalized
FROM deliveries d
JOIN push_notifications p USING (push_id)
ORDER BY d.delivered_at, d.delivery_id
"""

# What LOAD_SQL returns: the model reads these by name. A column added to the query (in the
# starter's SQL cell) is an extra feature the model reads too (extra_columns, make_model).
COLUMNS = ["delivery_id", "push_id", "user_id", "delivered_at", "opened", "send_hour", "weekday",
           "category", "target_segment", "title", "personalized"]
HISTORY = ["past_deliveries", "past_opens"]  # added by with_history
FEATURES = ["send_hour", "campaign", "title_length", "has_emoji", "personalized", "weekend",
            "user_habit", "history_size"]  # made by add_features

PLACEHOLDER = re.compile(r"\{\w+\}")  # "{name}" is replaced by the user's name when sent
WEEKDAYS = {1: "Monday", 2: "Tuesday", 3: "Wednesday", 4: "Thursday", 5: "Friday", 6: "Saturday", 7: "Sunday"}
PRIOR_OPENS, PRIOR_DELIVERIES = 1, 7  # a new user is assumed to open about 1 push in 7


def with_history(rows: pd.DataFrame, known_until: pd.Timestamp | None = None) -> pd.DataFrame:
    """Add each user's past deliveries and opens: labelled rows before this one (and before known_until).

    known_until freezes history at a moment, the way it is frozen when the holdout period starts:
    no row ever sees its own label or a later one. Ids may be numbers or text; a delivery with no
    user_id has no history (it is nobody's).
    """
    user = loaded.codes(rows["user_id"])
    order = np.lexsort((loaded.codes(rows["delivery_id"]), rows["delivered_at"].to_numpy(), user))
    known = rows["opened"].notna().to_numpy()
    if known_until is not None:
        known = known & (rows["delivered_at"] < known_until).to_numpy()
    opened = rows["opened"].fillna(False).astype(bool).to_numpy() & known
    first = np.r_[True, user[order][1:] != user[order][:-1]]  # where each user's deliveries start
    start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))

    def before(flags: np.ndarray) -> np.ndarray:
        """How many earlier deliveries of the same user have the flag (a per-user running count)."""
        running = np.cumsum(flags[order]) - flags[order]
        out = np.empty(len(order), dtype=np.int64)
        out[order] = running - running[start]
        return out

    return rows.assign(past_deliveries=before(known.astype(np.int64)), past_opens=before(opened.astype(np.int64)))


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["opened"].notna()].astype({"opened": bool})


def to_predict(frame: pd.DataFrame) -> pd.DataFrame:
    """The holdout deliveries (opened = NULL); stops if there are none, or a delivery_id twice."""
    return loaded.holdout_rows(frame, "opened", __name__)


def title_length(titles: pd.Series) -> pd.Series:
    """Characters a reader sees (the {name} placeholder does not count)."""
    return titles.fillna("").str.replace(PLACEHOLDER, "", regex=True).str.len()


def has_emoji(title: str) -> bool:
    return any(unicodedata.category(ch) == "So" for ch in str(title))


def per_title(titles: pd.Series, feature) -> pd.Series:
    """`feature(titles)` worked out once per distinct title: a push goes out to thousands of users
    with one title, and the demo asks about 24 hours × 3,000 users of one draft at every change."""
    codes, distinct = pd.factorize(titles, use_na_sentinel=False)
    return feature(pd.Series(distinct, dtype=titles.dtype)).take(codes).set_axis(titles.index)


def extra_columns(frame: pd.DataFrame) -> dict[str, str]:
    """The columns a participant added to LOAD_SQL, each with its kind (number, category, text, time)."""
    return extras.found(frame, [*COLUMNS, *HISTORY], needed=COLUMNS, taken=FEATURES)


def add_features(frame: pd.DataFrame, extra=()) -> pd.DataFrame:
    """The columns the model reads, derived from the loaded ones (first step of the pipeline), and
    the extra columns as they are."""
    rate = (frame["past_opens"] + PRIOR_OPENS) / (frame["past_deliveries"] + PRIOR_DELIVERIES)
    features = pd.DataFrame({
        "send_hour": frame["send_hour"].astype(float).fillna(-1).astype(int),  # -1: send time unknown
        "campaign": frame["category"].astype(str) + " × " + frame["target_segment"].astype(str),
        "title_length": per_title(frame["title"], title_length),
        "has_emoji": per_title(frame["title"], lambda titles: titles.map(has_emoji).astype(float)),
        "personalized": frame["personalized"].astype(float).fillna(0.0),
        "weekend": (frame["weekday"].astype(float) >= 6).astype(float),   # unknown day: not a weekend
        "user_habit": np.log(rate / (1 - rate)),              # the user's own open rate, as log-odds
        "history_size": np.log1p(frame["past_deliveries"]),  # how much we know about the user
    }, index=frame.index)
    return pd.concat([features, frame[list(extra)]], axis=1) if extra else features


def make_model(strength: float = 1.0, extra: dict[str, str] | None = None):
    """The ML baseline: features above, then a logistic regression (fast, and its weights read well).
    extra: {column: kind} of columns added to the query (extra_columns), read as columns.py says."""
    extra = dict(extra or {})
    columns = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["send_hour", "campaign"]),
        (SplineTransformer(n_knots=4, degree=1, extrapolation="linear"), ["title_length"]),
        (StandardScaler(), ["has_emoji", "personalized", "weekend", "user_habit", "history_size"]),
        *([(extras.encoder(extra), list(extra))] if extra else []),
    )
    return make_pipeline(
        FunctionTransformer(add_features, kw_args={"extra": list(extra)} if extra else None), columns,
        LogisticRegression(C=strength, max_iter=1000),
    )


class HistoricalOpenRate(ClassifierMixin, BaseEstimator):
    """The naive baseline: the user's own past open rate, leaning on the segment's rate while the
    user's history is short. No learning beyond counting."""

    def __init__(self, weight: float = 5.0):
        self.weight = weight

    def fit(self, frame: pd.DataFrame, opened) -> HistoricalOpenRate:
        opened = pd.Series(np.asarray(opened, dtype=float), index=frame.index)
        self.overall_ = float(opened.mean())
        self.segment_rate_ = opened.groupby(frame["target_segment"].astype(str)).mean().to_dict()
        self.classes_ = np.array([False, True])
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        prior = frame["target_segment"].astype(str).map(self.segment_rate_).fillna(self.overall_)
        p = ((frame["past_opens"] + self.weight * prior) / (frame["past_deliveries"] + self.weight)).to_numpy(float)
        return np.column_stack([1 - p, p])


# --- For the demo: compose a notification and ask the model ------------------------------------

def audience(frame: pd.DataFrame, segment: str, size: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Users recently reached by pushes to this segment, with their full history up to now."""
    rows = labelled(frame)
    rows = rows[rows["target_segment"].astype(str) == segment]
    if rows.empty:
        rows = labelled(frame)
    last = rows.sort_values("delivered_at").groupby("user_id").tail(1)
    last = last.assign(past_deliveries=last["past_deliveries"] + 1,
                       past_opens=last["past_opens"] + last["opened"].astype(int))
    return last.sample(min(size, len(last)), random_state=seed)[["user_id", "past_deliveries", "past_opens"]]


def draft(users: pd.DataFrame, title: str, category: str, segment: str, hour: int, weekday: int) -> pd.DataFrame:
    """The composed notification, as if sent to each of these users."""
    return users.assign(
        send_hour=int(hour), weekday=int(weekday), category=category, target_segment=segment,
        title=title, personalized=bool(PLACEHOLDER.search(title)),
    )


def open_rate_by_hour(model, users: pd.DataFrame, title: str, category: str, segment: str,
                      weekday: int, hours_seen=None) -> pd.Series:
    """Predicted open rate of the draft for each send hour 0..23 (mean over the audience).

    An hour no past push was sent at is NaN when `hours_seen` is given: the model has learnt
    nothing about it and would only repeat its average (a judge would read "midnight works")."""
    rows = pd.concat([draft(users, title, category, segment, h, weekday) for h in range(24)], ignore_index=True)
    p = model.predict_proba(rows)[:, 1]
    rates = pd.Series(p, index=rows["send_hour"]).groupby(level=0).mean().rename("open rate")
    if hours_seen is not None:
        rates[~rates.index.isin(list(hours_seen))] = float("nan")
    return rates


# --- Hand-off (matsuri.handoff): how a trained model of this theme is served -------------------
HANDOFF = {
    "model": "model",                  # the starter's variables: the trained model, the baseline,
    "baseline": "baseline",
    "query": "load_sql",               # the query its SQL cell ran, and the columns it added
    "extra": "extra",
    "baseline_kind": "naive",
    "baseline_name": {"ja": "ユーザーの過去の開封率", "en": "the user's past open rate"},
    # what a request row carries: the push as it will be sent, and the user's history so far
    # (and any column the team's query added)
    "inputs": ["delivery_id", "send_hour", "weekday", "category", "target_segment", "title",
               "personalized", "past_deliveries", "past_opens"],
    "time": "delivered_at",            # a batch's date range filters on it
    "label": "opened",
}


def serving_rows(con, query: str | None = None) -> pd.DataFrame:
    """Every delivery a model can score, with the user's history as known when it was sent
    (`query`: the team's own load query, else LOAD_SQL)."""
    from matsuri.templates.tables import read

    return with_history(read(con, query or LOAD_SQL))
