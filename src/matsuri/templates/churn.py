"""churn: which users, active when the year ended, stop using the app in the month after?

Rows are users active at the cutoff (the end of the fiscal year): half with their outcome
(`churn_training_users`, to learn from), half to predict (`holdout_churn_users`). Everything a
feature may use happened before the user's `cutoff_at`: app events (how often, whether use is
falling, how long since the last one), pushes received and whether the user ever opened one,
the plan and how long ago they signed up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from matsuri.errors import UsageError
from matsuri.templates import extras, loaded
from matsuri.templates.contract import ThemeTables

NEEDS = ThemeTables(__name__)  # the tables and columns it reads: the theme's data contract

LOAD_SQL = """\
-- One row per user active at the cutoff: the training users (churned = true/false) and the
-- holdout users to predict (churned = NULL), with what the warehouse shows BEFORE each cutoff.
WITH people AS (
    SELECT user_id, cutoff_at, churned FROM churn_training_users
    UNION ALL
    SELECT user_id, cutoff_at, NULL AS churned FROM holdout_churn_users
), activity AS (
    SELECT p.user_id,
           count(*) FILTER (WHERE e.event_at >= p.cutoff_at - INTERVAL 14 DAY) AS events_14d,
           count(*) FILTER (WHERE e.event_at >= p.cutoff_at - INTERVAL 28 DAY) AS events_28d,
           count(*) FILTER (WHERE e.event_at >= p.cutoff_at - INTERVAL 56 DAY
                              AND e.event_at <  p.cutoff_at - INTERVAL 14 DAY) AS events_15_56d,
           date_diff('day', max(e.event_at), any_value(p.cutoff_at)) AS days_since_last_event
    FROM people p
    JOIN events e ON e.user_id = p.user_id AND e.event_at < p.cutoff_at
    GROUP BY p.user_id
), pushes AS (
    -- every push delivered before the cutoff; opens are known for push_deliveries only
    SELECT p.user_id,
           count(*) FILTER (WHERE d.delivered_at >= p.cutoff_at - INTERVAL 28 DAY) AS pushes_28d,
           count(*) AS pushes_ever,
           count(*) FILTER (WHERE d.opened_at < p.cutoff_at) AS pushes_opened
    FROM people p
    JOIN (SELECT user_id, delivered_at, opened_at FROM push_deliveries
          UNION ALL
          SELECT user_id, delivered_at, NULL AS opened_at FROM holdout_push_deliveries) d
      ON d.user_id = p.user_id AND d.delivered_at < p.cutoff_at
    GROUP BY p.user_id
)
SELECT p.user_id, p.cutoff_at, p.churned, u.plan,
       date_diff('day', u.signup_at, p.cutoff_at) AS tenure_days,
       coalesce(a.events_14d, 0) AS events_14d,
       coalesce(a.events_28d, 0) AS events_28d,
       coalesce(a.events_15_56d, 0) AS events_15_56d,
       coalesce(a.days_since_last_event, date_diff('day', u.signup_at, p.cutoff_at)) AS days_since_last_event,
       coalesce(s.pushes_28d, 0) AS pushes_28d,
       coalesce(s.pushes_ever, 0) AS pushes_ever,
       coalesce(s.pushes_opened, 0) AS pushes_opened
FROM people p
JOIN users u USING (user_id)
LEFT JOIN activity a USING (user_id)
LEFT JOIN pushes s USING (user_id)
ORDER BY p.user_id
"""

# What LOAD_SQL returns: the model reads these by name. A column added to the query (in the
# starter's SQL cell) is an extra feature the model reads too (extra_columns, make_model).
COLUMNS = ["user_id", "cutoff_at", "churned", "plan", "tenure_days", "events_14d", "events_28d",
           "events_15_56d", "days_since_last_event", "pushes_28d", "pushes_ever", "pushes_opened"]

RECENT_DAYS, EARLIER_DAYS = 14, 42  # the last two weeks, against the six weeks before them
NUMERIC = ["fall", "recent_events", "month_events", "days_quiet", "pushes_28d", "unopened_pushes",
           "never_opened", "tenure"]
CATEGORICAL = ["plan"]

# The segments a demo offers: (Japanese label, English label) -> rule on the loaded rows.
TRENDS = {
    "steady": ("横ばい・増加", "steady or rising"),
    "falling": ("やや減少", "fell, by less than half"),
    "halved": ("半減以下", "fell by half or more"),
}
PUSH_GROUPS = {
    "unopened": ("未開封の通知が届いている", "gets pushes, never opened one"),
    "opener": ("通知を開いたことがある", "has opened a push before"),
    "none": ("直近28日は通知なし", "no push in the last 28 days"),
}


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["churned"].notna()].astype({"churned": bool})


def to_predict(frame: pd.DataFrame) -> pd.DataFrame:
    """The holdout users (churned = NULL); stops if there are none, or a user_id twice."""
    return loaded.holdout_rows(frame, "churned", __name__)


def fall(frame: pd.DataFrame) -> pd.Series:
    """Halvings of two-weekly activity: the last 14 days against the 42 before them (0 when steady
    or rising, 1 when it fell by half, 2 to a quarter…)."""
    before = frame["events_15_56d"] / (EARLIER_DAYS / RECENT_DAYS)  # events per two weeks, earlier
    return np.log2((before + 1) / (frame["events_14d"] + 1)).clip(lower=0).rename("fall")


def extra_columns(frame: pd.DataFrame) -> dict[str, str]:
    """The columns a participant added to LOAD_SQL, each with its kind (number, category, text, time)."""
    return extras.found(frame, COLUMNS, needed=COLUMNS, taken=NUMERIC + CATEGORICAL)


def add_features(frame: pd.DataFrame, extra=()) -> pd.DataFrame:
    """The columns the model reads, derived from the loaded ones (first step of the pipeline), and
    the extra columns as they are."""
    never = (frame["pushes_opened"] == 0).astype(float)
    features = pd.DataFrame({
        "fall": fall(frame),
        "recent_events": np.log1p(frame["events_14d"]),
        "month_events": np.log1p(frame["events_28d"]),
        "days_quiet": frame["days_since_last_event"].astype(float),
        "pushes_28d": frame["pushes_28d"].astype(float),
        "unopened_pushes": frame["pushes_28d"] * never,        # pushes to someone who never opens them
        "never_opened": never,
        "tenure": np.log1p(frame["tenure_days"].clip(lower=0)),
        "plan": frame["plan"].astype(str),
    }, index=frame.index)
    return pd.concat([features, frame[list(extra)]], axis=1) if extra else features


def make_model(kind: str = "logistic", strength: float = 1.0, seed: int = 0,
               extra: dict[str, str] | None = None):
    """The ML baseline: features above, then a logistic regression (its weights read as reasons),
    or `kind="boosting"`, a gradient-boosted tree ensemble on the same features.
    extra: {column: kind} of columns added to the query (extra_columns), read as columns.py says."""
    extra = dict(extra or {})
    if kind == "logistic":
        columns = make_column_transformer(
            (StandardScaler(), NUMERIC), (OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            *([(extras.encoder(extra), list(extra))] if extra else []))
        learner = LogisticRegression(C=strength, max_iter=1000)
    elif kind == "boosting":
        columns = make_column_transformer(
            ("passthrough", NUMERIC),
            (OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), CATEGORICAL),
            *([(extras.encoder(extra, dense=True), list(extra))] if extra else []))
        learner = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=15,
                                                 min_samples_leaf=40, random_state=seed)
    else:
        raise UsageError(f"Unknown model kind '{kind}': use \"logistic\" or \"boosting\".")
    features = FunctionTransformer(add_features, kw_args={"extra": list(extra)} if extra else None)
    return make_pipeline(features, columns, learner)


# Rules a product manager might write before looking at any model: the baselines to beat.
RULES = {
    "quiet_14d": "no app event in the last 14 days",
    "halved": "activity fell by half or more (the last 14 days against the 42 before)",
}


class ActivityRule(ClassifierMixin, BaseEstimator):
    """The rule baseline: flag the users the rule names; each flagged (and each unflagged) user
    gets the churn rate of such users in training. Learns nothing beyond those two rates."""

    def __init__(self, rule: str = "quiet_14d"):
        self.rule = rule

    def flags(self, frame: pd.DataFrame) -> np.ndarray:
        if self.rule == "quiet_14d":
            return (frame["events_14d"] == 0).to_numpy()
        if self.rule == "halved":
            return (fall(frame) >= 1).to_numpy()
        raise UsageError(f"Unknown rule '{self.rule}'; rules: {', '.join(RULES)}.")

    def fit(self, frame: pd.DataFrame, churned) -> ActivityRule:
        churned, flagged = np.asarray(churned, dtype=float), self.flags(frame)
        overall = float(churned.mean())
        self.rates_ = {flag: float(churned[flagged == flag].mean()) if (flagged == flag).any() else overall
                       for flag in (False, True)}
        self.classes_ = np.array([False, True])
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = np.where(self.flags(frame), self.rates_[True], self.rates_[False])
        return np.column_stack([1 - p, p])


def validation_split(known: pd.DataFrame, share: float = 0.25, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training users set aside at random, churned and stayed alike (stratified).

    Random, not by time, because the holdout is cut the same way: a random half of the same
    users at the same cutoff. The holdout's answers are never read here."""
    from sklearn.model_selection import train_test_split

    if not 0 < share < 1:
        raise UsageError(f"validation_share must be between 0 and 1 (it is {share}); 0.25 is usual.")
    counts = known["churned"].value_counts()
    aside = known["churned"].groupby(known["churned"]).size().mul(share).round()  # per outcome
    if len(known) < 40 or len(counts) < 2 or counts.min() < 10 or aside.min() < 2:
        churned, stayed = counts.get(True, 0), counts.get(False, 0)
        raise UsageError(
            f"There are too few training users to validate on: {len(known)} in churn_training_users "
            f"({churned} churned, {stayed} stayed), and validation_share = {share} keeps "
            f"{round(len(known) * share)} of them aside. Validation needs at least 40 training users "
            "with 10 of each outcome: export more users into churn_training_users (a longer period, "
            "or every active user), or raise validation_share in the parameters cell if only the "
            "validation users are too few.",
            ja=f"検証に使う学習ユーザーが少なすぎます。churn_training_users に {len(known)} 人"
               f"（離脱 {churned} 人、継続 {stayed} 人）で、validation_share = {share} では {round(len(known) * share)} 人を"
               "検証に取り分けます。検証には、学習ユーザーが 40 人以上、それぞれの結果が 10 人以上必要です。"
               "churn_training_users にもっと多くのユーザーを書き出すか（より長い期間、またはアクティブな全ユーザー）、"
               "検証のユーザーだけが少ない場合はパラメータのセルで validation_share を大きくしてください。")
    train, valid = train_test_split(known, test_size=share, random_state=seed, stratify=known["churned"])
    return train.sort_index(), valid.sort_index()


# --- Why: the model's reasons per user, and the segments a demo offers ---------------------------

AT_RISK = 0.5  # a risk from which a demo calls a user "at risk"
REASON_NAMES = {  # reason -> its short name in charts (Japanese, English)
    "activity": "利用の減少・空白 (activity)", "pushes": "届く通知 (pushes)",
    "plan": "プラン (plan)", "tenure": "登録からの日数 (tenure)",
}
REASONS = {  # model feature -> the reason it belongs to
    "fall": "activity", "recent_events": "activity", "month_events": "activity", "days_quiet": "activity",
    "pushes_28d": "pushes", "unopened_pushes": "pushes", "never_opened": "pushes",
    "tenure": "tenure", "plan": "plan",
}


def reason_effects(model, frame: pd.DataFrame, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per user and reason, how far it moves the log-odds of churning away from the average user
    of `reference` (default: `frame` itself). A logistic model's terms simply add up. A column
    added to the query is a reason of its own."""
    features, columns, regression = model[0], model[1], model[-1]
    if not isinstance(regression, LogisticRegression):
        raise UsageError("Reasons come from the logistic model: use make_model(\"logistic\").")
    X = _dense(columns.transform(features.transform(frame)))
    ref = X if reference is None else _dense(columns.transform(features.transform(reference)))
    terms = (X - ref.mean(axis=0)) * regression.coef_[0]
    named = extras.names_out(columns)  # (name, added column or None)
    groups = [column or REASONS.get(n, REASONS.get(n.split("_", 1)[0], n)) for n, column in named]
    return pd.DataFrame(terms, index=frame.index, columns=[n for n, _ in named]).T.groupby(groups).sum().T


def weights(model) -> pd.Series:
    """The logistic model's weight per feature (log-odds per standard deviation; per plan for the
    plan), strongest first: what raises (+) or lowers (−) the risk of churning."""
    columns, regression = model[1], model[-1]
    out = pd.Series(regression.coef_[0], index=[n for n, _ in extras.names_out(columns)], name="weight")
    return out.reindex(out.abs().sort_values(ascending=False).index)


def _dense(matrix) -> np.ndarray:
    return matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix, dtype=float)


def describe(row, reason: str) -> str:
    """One reason for one user, with the user's own numbers (Japanese / English)."""
    if reason == "activity":
        before = row["events_15_56d"] / (EARLIER_DAYS / RECENT_DAYS)
        if row["events_14d"] == 0:
            return (f"{row['days_since_last_event']:.0f} 日間アプリ利用なし / "
                    f"no app event for {row['days_since_last_event']:.0f} days")
        if row["events_14d"] < before:
            return (f"利用が減少: 直近14日 {row['events_14d']:.0f} 回（以前は2週間で {before:.1f} 回）/ "
                    f"activity fell: {_count(row['events_14d'], 'event')} in 14 days, {before:.1f} before")
        return (f"利用が少ない: 直近28日 {row['events_28d']:.0f} 回 / "
                f"little use: {_count(row['events_28d'], 'event')} in 28 days")
    if reason == "pushes":
        pushes = f"{_count(row['pushes_28d'], 'push', 'pushes')} in 28 days"
        if row["pushes_opened"] == 0 and row["pushes_28d"] > 0:
            return f"未開封の通知: 28日で {row['pushes_28d']:.0f} 件、開封は一度もなし / {pushes}, never opened one"
        return (f"通知: 28日で {row['pushes_28d']:.0f} 件（これまでの開封 {row['pushes_opened']:.0f} 回）/ "
                f"{pushes}, {row['pushes_opened']:.0f} opened before")
    if reason == "plan":
        return f"{row['plan']} プラン / {row['plan']} plan"
    if reason == "tenure":
        return f"登録から {row['tenure_days']:.0f} 日 / joined {row['tenure_days']:.0f} days ago"
    if reason in row:  # a column added to the query
        return f"{reason}: {row[reason]}"
    return reason


def _count(n, one: str, many: str | None = None) -> str:
    return f"{n:.0f} {one if n == 1 else many or one + 's'}"


def main_reasons(model, frame: pd.DataFrame, reference: pd.DataFrame | None = None, top: int = 2,
                 at_least: float = 0.1) -> pd.DataFrame:
    """Risk per user with the (up to `top`) reasons that raise it most, strongest first.

    Columns: user_id, risk, reasons (text), reason_keys (e.g. ["activity", "pushes"])."""
    effects = reason_effects(model, frame, reference)
    order = np.argsort(-effects.to_numpy(), axis=1, kind="stable")[:, :top]
    strongest = np.take_along_axis(effects.to_numpy(), order, axis=1)
    names = effects.columns.to_numpy()
    keys = [[str(names[j]) for j, v in zip(js, vs, strict=True) if v >= at_least]
            for js, vs in zip(order, strongest, strict=True)]
    texts = ["; ".join(describe(row, r) for r in mine) or "目立つ要因なし / no strong reason"
             for row, mine in zip(frame.to_dict("records"), keys, strict=True)]
    return pd.DataFrame({"user_id": frame["user_id"].to_numpy(), "risk": model.predict_proba(frame)[:, 1],
                         "reasons": texts, "reason_keys": keys}, index=frame.index)


def reason_counts(reasons: pd.DataFrame) -> pd.Series:
    """How many of these users (rows of `main_reasons`) have each reason among their main ones."""
    keys = reasons["reason_keys"].explode().dropna()
    return keys.value_counts().rename(index=REASON_NAMES).rename("users")


def trend(frame: pd.DataFrame) -> pd.Series:
    """Each user's activity trend: a key of TRENDS."""
    halvings = fall(frame)
    return pd.Series(np.select([halvings >= 1, halvings > 0], ["halved", "falling"], "steady"),
                     index=frame.index, name="trend")


def push_group(frame: pd.DataFrame) -> pd.Series:
    """Each user's push situation: a key of PUSH_GROUPS."""
    return pd.Series(np.select([frame["pushes_28d"] == 0, frame["pushes_opened"] == 0], ["none", "unopened"],
                               "opener"), index=frame.index, name="push_group")


def segments(frame: pd.DataFrame) -> pd.DataFrame:
    """Each user's plan, activity trend and push situation: what a Segment chooses from."""
    return pd.DataFrame({"plan": frame["plan"].astype(str), "trend": trend(frame),
                         "push_group": push_group(frame)}, index=frame.index)


@dataclass(frozen=True)
class Segment:
    """Which users to look at; None means any. Reads the columns of `segments`."""

    plan: str | None = None
    trend: str | None = None
    pushes: str | None = None

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        """Rows of `frame` (which has the columns of `segments`, or the loaded ones) in the segment."""
        groups = frame if {"plan", "trend", "push_group"} <= set(frame.columns) else segments(frame)
        keep = pd.Series(True, index=frame.index)
        for column, wanted in (("plan", self.plan), ("trend", self.trend), ("push_group", self.pushes)):
            if wanted:
                keep &= groups[column].astype(str) == wanted
        return keep


# --- Hand-off (matsuri.handoff): how a trained model of this theme is served -------------------
HANDOFF = {
    "model": "model",
    "baseline": "rule",
    "query": "load_sql",               # the query the starter's SQL cell ran, and the columns it added
    "extra": "extra",
    "baseline_kind": "rule",
    "baseline_name": {"ja": "直近14日間に利用がない人", "en": "no app event in the last 14 days"},
    "inputs": ["user_id", "plan", "tenure_days", "events_14d", "events_28d", "events_15_56d",
               "days_since_last_event", "pushes_28d", "pushes_ever", "pushes_opened"],
    "time": "cutoff_at",
    "label": "churned",
}


def serving_rows(con, query: str | None = None) -> pd.DataFrame:
    """Every user a model can score, with what the warehouse shows before their cutoff (`query`:
    the team's own load query, else LOAD_SQL)."""
    from matsuri.templates.tables import read

    return read(con, query or LOAD_SQL)
