"""The three hackathon themes: what a submission holds, how it is checked and how it is scored.

A registry (`get_theme`) rather than if-chains: each theme is one small class declaring its files,
its metrics and how to load its answer key from the organiser store. Reading and checking files is
shared (`matsuri.hackathon.predictions`); metrics come from `matsuri.metrics`. Heavy libraries are
imported where they are used, so reading settings or a leaderboard stays quick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from matsuri.errors import UsageError

if TYPE_CHECKING:  # numpy and pandas load only when something is checked or scored
    import numpy as np
    import pandas as pd


@dataclass
class AnswerKey:
    """Everything needed to check and score one theme; loaded once per process, never shown."""

    ids: np.ndarray                  # sorted ids of the rows to predict
    labels: pd.DataFrame             # the truth, keyed by the theme's id column
    extra: dict = field(default_factory=dict)


class Theme:
    id: str = ""
    title: str = ""
    holdout_table: str = ""          # the learners' table listing what to predict
    id_column: str = ""
    metrics: dict[str, bool] = {}    # metric -> higher is better
    default_metric: str = ""
    optional_files: tuple[str, ...] = ()

    def load_key(self, warehouse, labels) -> AnswerKey:
        raise NotImplementedError

    def read(self, folder: Path, key: AnswerKey, max_bytes: int) -> dict[str, pd.DataFrame]:
        """Read and check the submission folder; raise InvalidSubmission with a plain message."""
        raise NotImplementedError

    def score(self, tables: dict[str, pd.DataFrame], key: AnswerKey, rows: np.ndarray) -> dict[str, float]:
        """Metrics on the subset of ids in `rows` (a boolean mask over key.ids)."""
        raise NotImplementedError


class _Probabilities(Theme):
    """Themes whose predictions are one probability per holdout row."""

    label_table = ""
    label_column = ""

    def load_key(self, warehouse, labels) -> AnswerKey:
        import numpy as np

        ids = warehouse.execute(f"SELECT {self.id_column} FROM {self.holdout_table} ORDER BY 1").fetchnumpy()
        truth = labels.execute(
            f"SELECT {self.id_column}, {self.label_column} FROM {self.label_table} ORDER BY 1"
        ).df()
        return AnswerKey(ids[self.id_column].astype(np.int64), truth)

    def read(self, folder, key, max_bytes):
        from matsuri.hackathon import predictions as pr

        table = pr.read_table(folder / "predictions.csv", {self.id_column: "id", "probability": "float"}, max_bytes)
        order = pr.check_ids(table, self.id_column, key.ids, "predictions.csv", self.holdout_table)
        pr.check_probabilities(table, "probability", "predictions.csv")
        return {"predictions": table.iloc[order].reset_index(drop=True)}  # in key.ids order

    def _aligned(self, tables, key, rows):
        predicted = tables["predictions"]["probability"].to_numpy()
        truth = key.labels[self.label_column].to_numpy(dtype=bool)
        return truth[rows], predicted[rows]


class PushOpenRate(_Probabilities):
    id = "push-open-rate"
    title = "Push notification open rate"
    holdout_table = "holdout_push_deliveries"
    id_column = "delivery_id"
    label_table = "push_open_labels"
    label_column = "opened"
    metrics = {"roc_auc": True, "log_loss": False}
    default_metric = "roc_auc"

    def score(self, tables, key, rows):
        from matsuri import metrics

        truth, predicted = self._aligned(tables, key, rows)
        return {"roc_auc": metrics.roc_auc(truth, predicted), "log_loss": metrics.log_loss(truth, predicted)}


class CallKeywords(_Probabilities):
    id = "call-keywords"
    title = "Sales-call keywords"
    holdout_table = "holdout_sales_calls"
    id_column = "call_id"
    label_table = "call_outcome_labels"
    label_column = "won"
    metrics = {"roc_auc": True, "keyword_hits": True}
    default_metric = "roc_auc"
    optional_files = ("keywords.csv",)

    def load_key(self, warehouse, labels):
        key = super().load_key(warehouse, labels)
        planted = labels.execute(
            "SELECT DISTINCT keyword FROM planted_keywords WHERE kind <> 'decoy' ORDER BY 1"
        ).fetchall()
        key.extra["planted"] = [row[0] for row in planted]
        return key

    def read(self, folder, key, max_bytes):
        from matsuri.hackathon import predictions as pr

        tables = super().read(folder, key, max_bytes)
        if (folder / "keywords.csv").exists():
            tables["keywords"] = pr.read_keywords(folder / "keywords.csv", max_bytes)
        return tables

    def score(self, tables, key, rows):
        from matsuri import metrics

        truth, predicted = self._aligned(tables, key, rows)
        words = tables["keywords"]["keyword"].tolist() if "keywords" in tables else []
        return {
            "roc_auc": metrics.roc_auc(truth, predicted),
            "keyword_hits": float(len(metrics.keyword_hits(words, key.extra["planted"]))),
        }


class ProductOrdering(Theme):
    id = "product-ordering"
    title = "Product ordering"
    holdout_table = "holdout_ordering_users"
    id_column = "user_id"
    metrics = {"ndcg@10": True, "map@10": True}
    default_metric = "ndcg@10"
    k = 10

    def load_key(self, warehouse, labels):
        import numpy as np

        users = warehouse.execute("SELECT user_id FROM holdout_ordering_users ORDER BY 1").fetchnumpy()
        products = warehouse.execute("SELECT product_id FROM products ORDER BY 1").fetchnumpy()
        truth = labels.execute("SELECT user_id, product_id FROM ordering_labels ORDER BY 1, 2").df()
        return AnswerKey(
            users["user_id"].astype(np.int64), truth,
            {"products": products["product_id"].astype(np.int64)},
        )

    def read(self, folder, key, max_bytes):
        from matsuri.hackathon import predictions as pr

        table = pr.read_table(
            folder / "predictions.csv", {"user_id": "id", "product_id": "id", "rank": "id"}, max_bytes
        )
        pr.check_ranking(table, key.ids, key.extra["products"], self.k)
        return {"predictions": table}

    def score(self, tables, key, rows):
        from matsuri import metrics

        chosen = key.ids[rows]
        ranked = tables["predictions"]
        relevant = key.labels[key.labels["user_id"].isin(chosen)]
        return metrics.ranking_scores(ranked[ranked["user_id"].isin(chosen)], relevant, k=self.k)


THEMES: dict[str, Theme] = {t.id: t for t in (PushOpenRate(), CallKeywords(), ProductOrdering())}


def get_theme(theme_id: str) -> Theme:
    try:
        return THEMES[theme_id]
    except KeyError:
        raise UsageError(f"Unknown theme '{theme_id}'. Choose one of: {', '.join(THEMES)}.") from None
