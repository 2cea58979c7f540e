"""The four kinds of model the builder offers. Each gives every row a score (higher = likelier);
they are fitted on training rows only and compared on the same validation rows."""

from __future__ import annotations

import re
from collections.abc import Mapping

import duckdb
import numpy as np
import pandas as pd

from matsuri.errors import UsageError
from matsuri.templates import columns

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
THRESHOLDS = re.compile(r"CASE WHEN (.+) THEN 1 ELSE 0 END", re.DOTALL)  # what with_threshold writes
TITLES = {
    "baseline": {"ja": "ベースライン（単純な予測）", "en": "the naive baseline"},
    "rule": {"ja": "ルール（SQL）", "en": "a rule (SQL)"},
    "logistic": {"ja": "ロジスティック回帰", "en": "logistic regression"},
    "boosting": {"ja": "勾配ブースティング", "en": "gradient boosting"},
}
LEARNED = ("logistic", "boosting")


class ColumnScore:
    """The naive baseline: a column the query computes (a past rate, a count, a rule of thumb)."""

    def __init__(self, column: str):
        self.column = column

    def fit(self, frame: pd.DataFrame, labels) -> ColumnScore:
        self.fill_ = float(pd.to_numeric(frame[self.column], errors="coerce").median())
        return self

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        values = pd.to_numeric(frame[self.column], errors="coerce").astype("float64")
        return values.fillna(self.fill_ if np.isfinite(self.fill_) else 0.0).to_numpy()


class RuleScore:
    """A rule written as a SQL expression over the query's columns: true/false or a number.
    NULL counts as 0 (the rule says nothing about that row)."""

    def __init__(self, expression: str):
        self.expression = expression.strip().rstrip(";")

    def fit(self, frame: pd.DataFrame, labels) -> RuleScore:
        self.score(frame.head(50))  # a broken rule fails here, before any training
        return self

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        rows = frame.reset_index(drop=True)
        con = duckdb.connect()
        try:
            con.register("rows", rows)
            found = con.execute(f"SELECT TRY_CAST(({self.expression}) AS DOUBLE) FROM rows").fetchnumpy()
        except duckdb.Error as error:
            message = str(error).splitlines()[0]
            raise UsageError(f"The rule could not run: {message}. Write one SQL expression over the "
                             "query's columns, for example CASE WHEN send_hour >= 18 THEN 1 ELSE 0 END.",
                             ja=f"ルールを実行できませんでした: {message}。クエリの列を使った SQL の式を 1 つ"
                                "書いてください（例: CASE WHEN send_hour >= 18 THEN 1 ELSE 0 END）。") from None
        finally:
            con.close()
        values = next(iter(found.values()))
        return np.nan_to_num(np.ma.filled(values.astype("float64"), np.nan), nan=0.0)


OPERATORS = (">=", ">", "<=", "<", "=", "<>")


def with_threshold(rule: str, column: str, operator: str, value) -> str:
    """Add one threshold to a rule: `CASE WHEN a >= 3 AND b = 'x' THEN 1 ELSE 0 END` grows by one
    condition (AND); any other rule text is replaced by a rule with this threshold alone."""
    if operator not in OPERATORS:
        raise UsageError(f"Unknown comparison '{operator}': use one of {' '.join(OPERATORS)}.")
    if not IDENTIFIER.fullmatch(column):
        raise UsageError(f"'{column}' is not a column name.")
    text = str(value).strip()
    try:
        float(text)
        literal = text
    except ValueError:
        literal = "'" + text.replace("'", "''") + "'"
    condition = f"{column} {operator} {literal}"
    found = THRESHOLDS.fullmatch(rule.strip())
    conditions = f"{found.group(1)} AND {condition}" if found else condition
    return f"CASE WHEN {conditions} THEN 1 ELSE 0 END"


class Learned:
    """A scikit-learn pipeline: the ticked columns, read by kind, then the learner."""

    def __init__(self, kind: str, features: Mapping[str, str], seed: int):
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        if kind == "logistic":
            learner = LogisticRegression(max_iter=2000)
            encode = columns.encoder(features)
        else:
            learner = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=seed)
            encode = columns.encoder(features, dense=True)
        self.features = dict(features)
        self.pipeline = make_pipeline(encode, learner)

    def fit(self, frame: pd.DataFrame, labels) -> Learned:
        labels = np.asarray(labels, dtype=bool)
        if labels.all() or not labels.any():
            raise UsageError("Every training row has the same outcome, so there is nothing to learn. "
                             "Change the query so that both outcomes appear.",
                             ja="学習用の行の結果がすべて同じなので、学ぶものがありません。"
                                "両方の結果が出るようにクエリを変えてください。")
        self.pipeline.fit(frame[list(self.features)], labels)
        return self

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return self.pipeline.predict_proba(frame[list(self.features)])[:, 1]


def make(name: str, recipe, baseline_column: str):
    """A fresh, unfitted model of this kind, from the recipe's choices."""
    if name == "baseline":
        return ColumnScore(baseline_column)
    if name == "rule":
        return RuleScore(recipe.rule)
    if name in LEARNED:
        return Learned(name, recipe.features, recipe.seed)
    raise UsageError(f"Unknown model '{name}': choose one of {', '.join(TITLES)}.")
