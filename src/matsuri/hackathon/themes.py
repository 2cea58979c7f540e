"""Check and score a theme's submissions, as its spec (`templates/<id>/theme.toml`) says.

One class for every theme: the spec names the holdout, the files and their rules, and the metrics
(from `matsuri.metrics`). Reading and checking files is shared (`matsuri.hackathon.predictions`).
Heavy libraries are imported where they are used, so reading settings or a leaderboard stays quick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from matsuri import theme_spec
from matsuri.theme_spec import PredictionFile, ThemeSpec

if TYPE_CHECKING:  # numpy and pandas load only when something is checked or scored
    import numpy as np
    import pandas as pd


@dataclass
class AnswerKey:
    """Everything needed to check and score one theme; loaded once per process, never shown."""

    ids: np.ndarray                  # sorted ids of the rows to predict
    labels: pd.DataFrame | None      # the truth: the id column, then the label (or item) column
    extra: dict = field(default_factory=dict)   # per file: valid items, planted words; derived arrays

    def truth(self, dtype) -> np.ndarray:
        """The label column as numpy (bool or float), in ids order; made once per process."""
        if ("truth", dtype) not in self.extra:
            self.extra["truth", dtype] = self.labels.iloc[:, 1].to_numpy(dtype=dtype)
        return self.extra["truth", dtype]

    def lists(self, file: PredictionFile) -> Lists:
        """What scoring a ranking file needs from the labels, made once per process."""
        if ("lists", file.name) not in self.extra:
            self.extra["lists", file.name] = Lists.of(self, file)
        return self.extra["lists", file.name]


@dataclass(frozen=True)
class Lists:
    """The labels of a ranking theme as positions: ids as their place in the holdout's sorted ids,
    items as their place among the known items, so a file's lists are scored by lookups."""

    ids: pd.Index              # holdout id -> position
    items: pd.Index            # known item -> position
    labelled: np.ndarray       # positions of the ids with at least one relevant item, increasing
    number: np.ndarray         # per position: its index in `labelled`, or -1
    bought: np.ndarray         # per labelled id: how many distinct relevant items it has
    pairs: np.ndarray          # sorted position * len(items) + item position, relevant known items

    @classmethod
    def of(cls, key: AnswerKey, file: PredictionFile) -> Lists:
        import numpy as np
        import pandas as pd

        ids, items = pd.Index(key.ids), pd.Index(key.extra[file.name])
        at = ids.get_indexer(key.labels.iloc[:, 0].to_numpy())
        relevant = key.labels.iloc[:, 1].to_numpy()[at >= 0]
        at = at[at >= 0].astype(np.int64)
        codes, values = pd.factorize(relevant)  # items of any type, NULL as -1 (never bought)
        width = max(len(values), 1)
        distinct = np.unique(at[codes >= 0] * width + codes[codes >= 0])
        labelled, bought = np.unique(distinct // width, return_counts=True)
        number = np.full(len(ids), -1, dtype=np.int64)
        number[labelled] = np.arange(len(labelled))
        item_at = items.get_indexer(relevant)
        pairs = np.unique(at[item_at >= 0] * len(items) + item_at[item_at >= 0])
        return cls(ids, items, labelled, number, bought, pairs)

    def scores(self, table: pd.DataFrame, file: PredictionFile, id: str, parts: dict) -> dict:
        """NDCG@k and MAP@k of the file's lists, for each part (a boolean mask over the holdout's
        ids): the mean over the part's ids that have labels, 0 for a part with none."""
        import numpy as np

        from matsuri.metrics import list_scores

        at = self.ids.get_indexer(table[id].to_numpy())
        item_at = self.items.get_indexer(table[file.item].to_numpy())
        rank = table["rank"].to_numpy()
        who = np.where(at >= 0, self.number[at], -1)
        keep = np.flatnonzero((who >= 0) & (rank <= file.k))
        keep = keep[np.lexsort((rank[keep], who[keep]))]         # by id, then rank, ties in file order
        pair = at[keep].astype(np.int64) * len(self.items) + item_at[keep]
        found = np.searchsorted(self.pairs, pair)
        hit = (item_at[keep] >= 0) & (self.pairs[np.minimum(found, len(self.pairs) - 1)] == pair) \
            if len(self.pairs) else np.zeros(len(pair), dtype=bool)
        ndcg, ap = list_scores(who[keep], hit, self.bought, file.k)
        result = {}
        for part, rows in parts.items():
            chosen = rows[self.labelled]
            result[part] = {f"ndcg@{file.k}": float(np.mean(ndcg[chosen])) if chosen.any() else 0.0,
                            f"map@{file.k}": float(np.mean(ap[chosen])) if chosen.any() else 0.0}
        return result


class Theme:
    def __init__(self, spec: ThemeSpec):
        self.spec = spec
        self.id, self.id_column, self.holdout_table = spec.id, spec.id_column, spec.holdout_table
        self.title = spec.title["en"]
        self.metrics = {m.name: m.higher_is_better for m in spec.metrics}
        self.default_metric = spec.leaderboard

    def holdout(self, warehouse) -> AnswerKey:
        """What the learners' warehouse says a submission must cover: the ids to predict and, for a
        ranking, the items that exist. Enough to check a file; the participants' writers use it too.

        Ids keep the warehouse's type: whole numbers stay numbers, any other id ('D00013353') is
        text. A holdout table that is empty, or has an id missing or listed twice, is refused here,
        as a problem of the data (not of the notebook that predicts it)."""
        import numpy as np

        column = warehouse.execute(f"SELECT {self.id_column} FROM {self.holdout_table}").fetchnumpy()
        ids = holdout_ids(column[self.id_column], self.holdout_table, self.id_column)
        extra = {}
        for file in self.spec.files:
            if file.kind == "ranking":
                items = next(iter(warehouse.execute(file.items_sql).fetchnumpy().values()))
                extra[file.name] = np.unique(as_ids(np.ma.compressed(items) if np.ma.isMaskedArray(items) else items))
        return AnswerKey(ids, None, extra)

    def load_key(self, warehouse, labels) -> AnswerKey:
        """The holdout plus the truth from the organiser's labels store."""
        key = self.holdout(warehouse)
        truth = labels.execute(self.spec.labels_sql).df()
        truth = truth.rename(columns={truth.columns[0]: self.id_column})
        truth[self.id_column] = as_ids(truth[self.id_column].to_numpy())
        key.labels = truth.sort_values(list(truth.columns[:2]), ignore_index=True)
        if any(f.kind in ("probability", "value") for f in self.spec.files):
            _same_ids(key.labels[self.id_column].to_numpy(), key.ids, self.holdout_table, self.spec.labels_sql)
        for file in self.spec.files:
            if file.kind == "keywords" and file.planted_sql:
                key.extra[file.name] = [row[0] for row in labels.execute(file.planted_sql).fetchall()]
        return key

    def id_kind(self, values: np.ndarray) -> str:
        """How a prediction file's id column is read: whole numbers if the holdout's ids are, else text."""
        return "id" if values.dtype.kind in "iu" else "key"

    def read(self, folder: Path, key: AnswerKey, max_bytes: int) -> dict[str, pd.DataFrame]:
        """Read and check the submission folder; raise InvalidSubmission with a plain message.
        Tables come back by file name, one-row-per-id files in key.ids order."""
        from matsuri.hackathon.predictions import InvalidSubmission

        tables = {}
        for file in self.spec.files:
            path = folder / file.name
            if not path.exists():
                if file.required:
                    raise InvalidSubmission(
                        f"The submission has no {file.name}. A {self.id} submission needs "
                        f"{', '.join(f.name for f in self.spec.files if f.required)}; write it "
                        "with the starter's last cells and submit again.")
                continue
            tables[file.name] = self.read_file(path, file, key, max_bytes)
        return tables

    def read_file(self, path: Path, file: PredictionFile, key: AnswerKey, max_bytes: int):
        """Read one prediction file and check it against the holdout; one-row-per-id files come
        back in key.ids order."""
        from matsuri.hackathon import predictions as pr

        if file.kind == "keywords":
            return pr.read_keywords(path, max_bytes, top=file.k)
        ids = self.id_kind(key.ids)
        types = {"probability": {self.id_column: ids, "probability": "float"},
                 "value": {self.id_column: ids, "value": "float"},
                 "ranking": {self.id_column: ids, file.item: self.id_kind(key.extra.get(file.name, key.ids)),
                             "rank": "id"}}[file.kind]
        table = pr.read_table(path, types, max_bytes)
        if file.kind == "ranking":
            pr.check_ranking(table, file.name, self.id_column, file.item, key.ids,
                             key.extra[file.name], file.k, self.holdout_table)
            return table
        order = pr.check_ids(table, self.id_column, key.ids, file.name, self.holdout_table)
        (pr.check_probabilities if file.kind == "probability" else pr.check_values)(
            table, file.columns[1], file.name)
        return table if order is None else table.iloc[order].reset_index(drop=True)

    def score(self, tables: dict[str, pd.DataFrame], key: AnswerKey, rows: np.ndarray) -> dict[str, float]:
        """Every metric of the spec, on the subset of ids in `rows` (a boolean mask over key.ids)."""
        return self.score_parts(tables, key, {"rows": rows})["rows"]

    def score_parts(self, tables: dict[str, pd.DataFrame], key: AnswerKey,
                    parts: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
        """Every metric of the spec on each part ({part: boolean mask over key.ids}); what the
        parts share (a ranking file's lists) is worked out once."""
        import numpy as np

        from matsuri import metrics as registry

        files = {f.name: f for f in self.spec.files}
        found: dict[str, dict[str, float]] = {part: {} for part in parts}
        chosen: dict[tuple, tuple] = {}
        for metric in self.spec.metrics:
            file, entry = files[metric.file], registry.METRICS[metric.base]
            if file.kind in ("probability", "value"):
                truth = key.truth(bool if file.kind == "probability" else float)
                predicted = tables[file.name][file.columns[1]].to_numpy()
                for part, rows in parts.items():
                    if (file.name, part) not in chosen:  # the same rows for every metric of the file
                        at = np.flatnonzero(rows)  # taking by position is much quicker than by mask
                        chosen[file.name, part] = (truth[at], predicted[at])
                    found[part][metric.name] = entry.compute(*chosen[file.name, part])
            elif file.kind == "ranking":
                if metric.name not in found[next(iter(parts))]:  # one pass gives every ranking metric of the file
                    for part, scores in key.lists(file).scores(tables[file.name], file, self.id_column, parts).items():
                        found[part] |= scores
            else:  # keywords: a team's list, whatever the rows
                words = tables[file.name]["keyword"].tolist() if file.name in tables else []
                hits = float(len(registry.keyword_hits(words, key.extra.get(file.name, []), top=file.k)))
                for part in parts:
                    found[part][metric.name] = hits
        return {part: {m.name: found[part][m.name] for m in self.spec.metrics} for part in parts}


def as_ids(values) -> np.ndarray:
    """Ids as one numpy type: whole numbers as int64, anything else (text, UUIDs) as str objects."""
    import numpy as np

    values = np.ma.getdata(values) if np.ma.isMaskedArray(values) else np.asarray(values)
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    return np.array([v if isinstance(v, str) else str(v) for v in values], dtype=object)


def holdout_ids(values, table: str, column: str, by_query: bool = False) -> np.ndarray:
    """The holdout's ids, sorted; refuses, as a data problem, an empty table, a missing id or an id
    listed twice (each would otherwise surface later as the notebook's fault). `by_query`: the ids
    are the rows a starter's load query returned, which may have lost or repeated the table's."""
    import numpy as np

    from matsuri.errors import UsageError
    from matsuri.hackathon.predictions import examples

    if np.ma.isMaskedArray(values):  # DuckDB's fetchnumpy masks NULLs
        missing = int(np.ma.getmaskarray(values).sum())
    else:
        values = np.asarray(values)
        missing = int(sum(v is None or v != v for v in values)) if values.dtype.kind in "Of" else 0
    if len(values) == 0 and by_query:
        raise UsageError(
            f"The load query returned no rows of the holdout table {table}: there is nothing to "
            f"predict. Check that {table} has rows (the ones to predict, one per {column}) and that "
            "the query keeps them, then run again.",
            ja=f"読み込みのクエリが、ホールドアウトの表 {table} の行を 1 行も返しませんでした。予測するものが"
               f"ありません。{table} に予測する行（{column} ごとに 1 行）があること、クエリがその行を残している"
               "ことを確かめて、もう一度実行してください。")
    if len(values) == 0:
        raise UsageError(
            f"The holdout table {table} is empty: there is nothing to predict. Export the rows to "
            f"predict into {table} (one row per {column}) and run again.",
            ja=f"ホールドアウトの表 {table} が空です。予測する行がありません。予測する行を {table} に"
               f"書き出して（{column} ごとに 1 行）、もう一度実行してください。")
    if missing:
        raise UsageError(
            f"The holdout table {table} has {missing:,} rows without a {column} (NULL): every row to "
            f"predict needs one. Fix the export (or leave those rows out) and run again.",
            ja=f"ホールドアウトの表 {table} に {column} が空（NULL）の行が {missing:,} 行あります。予測する"
               f"行にはすべて {column} が必要です。書き出しを直して（またはその行を除いて）、もう一度実行してください。")
    ids = np.sort(as_ids(values))
    repeated = np.unique(ids[1:][ids[1:] == ids[:-1]])
    if len(repeated):
        shown = examples(repeated)
        query = (f" If {table} itself lists each once, the load query repeats them (a JOIN that matches "
                 f"several rows): make it return one row per {column}.", f"{table} 自体では 1 回ずつなら、"
                 f"読み込みのクエリが行を増やしています（複数の行に合う JOIN）。{column} ごとに 1 行を返すようにしてください。"
                 ) if by_query else ("", "")
        raise UsageError(
            f"The holdout table {table} has {len(repeated):,} duplicate {column} values ({shown})"
            f"{' among the rows to predict' if by_query else ''}: "
            f"each {column} must appear once. Fix the export or deduplicate it (SELECT DISTINCT), "
            f"then run again.{query[0]}",
            ja=f"ホールドアウトの表 {table} に、重複した {column} が {len(repeated):,} 件あります（{shown}）。"
               f"{column} は 1 回ずつしか現れてはいけません。書き出しを直すか重複を除いて（SELECT DISTINCT）、"
               f"もう一度実行してください。{query[1]}")
    return ids


def _same_ids(labelled: np.ndarray, ids: np.ndarray, table: str, labels_sql: str) -> None:
    """The organiser's labels cover exactly the holdout's ids (scores pair them up by position)."""
    import numpy as np

    from matsuri.errors import UsageError

    if len(labelled) == len(ids) and labelled.dtype.kind == ids.dtype.kind and np.array_equal(labelled, ids):
        return
    kinds = {"i": "whole-number", "u": "whole-number", "O": "text"}
    raise UsageError(
        f"The organiser labels ({labels_sql}) do not list the same ids as the holdout table {table}: "
        f"{len(labelled):,} labels ({kinds.get(labelled.dtype.kind, 'other')} ids) for {len(ids):,} "
        f"holdout rows ({kinds.get(ids.dtype.kind, 'other')} ids). Export the labels and the holdout "
        "from the same rows, with ids of the same type, before scoring.")


def all_themes() -> dict[str, Theme]:
    return {theme_id: Theme(spec) for theme_id, spec in theme_spec.all_themes().items()}


def get_theme(theme_id: str) -> Theme:
    return Theme(theme_spec.get(theme_id))
