"""One builder run: load the query, keep validation rows aside like the holdout, fit, compare with
the baseline, then fit on every labelled row and write the theme's prediction files.

Every step is deterministic for a given warehouse and recipe (the seed fixes the random split and
the boosted trees), so the saved notebook repeats the builder's figures and files exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from matsuri import metrics, theme_spec
from matsuri.builder import models
from matsuri.builder.recipe import Recipe
from matsuri.builder.verdict import Result
from matsuri.errors import UsageError
from matsuri.templates import bootstrap, columns
from matsuri.templates.evaluation import time_split

Progress = Callable[[str], None]


@dataclass
class Data:
    """The query's rows, split into those with a known outcome and those to predict."""

    recipe: Recipe
    spec: theme_spec.ThemeSpec
    labelled: pd.DataFrame
    to_predict: pd.DataFrame
    candidates: dict[str, str]     # columns that may be ticked, with their kinds

    @property
    def item(self) -> str:
        return ranking_file(self.spec).item if ranking_file(self.spec) else ""


def ranking_file(spec: theme_spec.ThemeSpec):
    return next((f for f in spec.files if f.kind == "ranking" and f.required), None)


def load(con, recipe: Recipe) -> Data:
    """Run the recipe's query and check that it still has what the builder needs."""
    from matsuri.templates.tables import read

    recipe.check()
    spec = theme_spec.get(recipe.theme)
    builder = spec.builder
    try:
        frame = read(con, recipe.sql)
    except UsageError as error:
        detail = str(error).removeprefix("The query could not run: ")
        raise UsageError(str(error), ja=f"クエリを実行できませんでした: {detail}") from None
    item = ranking_file(spec).item if ranking_file(spec) else ""
    needed = {spec.id_column: "the id of each row", builder.label: "the outcome (NULL on rows to predict)"}
    if item:
        needed[item] = "the product on each row"
    needed[builder.baseline] = "the baseline's score (every run is compared with it)"
    if builder.time:
        needed[builder.time] = "the time that orders rows"
    if builder.group:
        needed[builder.group] = "what keeps rows together"
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise UsageError(
            f"The query must keep these columns: {'; '.join(f'{n} ({needed[n]})' for n in missing)}. Add them "
            "back to the SELECT (or press \"Reset query\" to start again from the original).",
            ja=f"クエリには次の列が必要です: {', '.join(missing)}。SELECT に戻してください"
               "（「元のクエリに戻す」で最初からやり直せます）。")
    if frame.empty:
        raise UsageError("The query returned no rows. Check its WHERE conditions and joins.",
                         ja="クエリの結果が 0 行でした。WHERE の条件や JOIN を確かめてください。")
    labels = frame[builder.label]
    try:
        known = labels.notna()
        outcome = labels[known].astype(bool)
    except (TypeError, ValueError):
        example = labels.dropna().iloc[0]
        raise UsageError(f"'{builder.label}' must be true or false (NULL on the rows to predict); it holds "
                         f"values like {example!r}.",
                         ja=f"'{builder.label}' は true か false（予測する行は NULL）でなければなりません。"
                            f"今は {example!r} のような値です。") from None
    labelled = frame[known].assign(**{builder.label: outcome})
    to_predict = frame[~known]
    if labelled.empty:
        raise UsageError(f"No row has a known outcome ('{builder.label}' is NULL everywhere), so there is "
                         "nothing to learn from. Check the query's first part.",
                         ja=f"結果が分かっている行がありません（'{builder.label}' がすべて NULL）。"
                            "学ぶものがないので、クエリの前半を確かめてください。")
    if to_predict.empty:
        raise UsageError(f"No row is left to predict (rows to predict have '{builder.label}' NULL). Keep the "
                         "holdout rows in the query.",
                         ja=f"予測する行が残っていません（予測する行は '{builder.label}' が NULL です）。"
                            "ホールドアウトの行をクエリに残してください。")
    skip = {spec.id_column, builder.label, builder.group, item} - {""}
    return Data(recipe, spec, labelled, to_predict, columns.kinds(frame, exclude=skip))


def split(data: Data) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validation rows cut the way the holdout is: the most recent ones, or a random share."""
    builder, recipe, rows = data.spec.builder, data.recipe, data.labelled
    if builder.split == "time":
        cut = time_split(rows, builder.time, recipe.validation_share, by=builder.group or None)
        return cut.train, cut.valid
    groups = rows[builder.group] if builder.group else pd.Series(rows.index, index=rows.index)
    unique = np.sort(groups.unique())
    if len(unique) < 20:
        raise UsageError(f"Only {len(unique)} labelled {'groups' if builder.group else 'rows'}: too few "
                         "to keep some aside for validation. Use a bigger warehouse.",
                         ja=f"結果が分かっている行（グループ）が {len(unique)} しかなく、検証用に取り分けるには"
                            "少なすぎます。もっと大きなデータを使ってください。")
    chosen = np.random.default_rng(recipe.seed).permutation(len(unique))[: int(len(unique) * recipe.validation_share)]
    valid = groups.isin(unique[chosen]).to_numpy()
    return rows[~valid], rows[valid]


def fitted(name: str, data: Data, train: pd.DataFrame):
    """A model of this kind fitted on `train`; scores of the baseline and the rule are turned into
    probabilities (a one-column logistic fit, order kept) when the theme scores probabilities."""
    model = models.make(name, data.recipe, data.spec.builder.baseline)
    labels = train[data.spec.builder.label].to_numpy(bool)
    model.fit(train, labels)
    if name in models.LEARNED or data.item:
        return model.score
    from sklearn.linear_model import LogisticRegression

    raw = model.score(train).reshape(-1, 1)
    if labels.all() or not labels.any():
        raise UsageError("Every training row has the same outcome, so there is nothing to compare.",
                         ja="学習用の行の結果がすべて同じなので、比べられません。両方の結果が出るようにクエリを変えてください。")
    scale = LogisticRegression().fit(raw, labels)
    return lambda frame: scale.predict_proba(model.score(frame).reshape(-1, 1))[:, 1]


def methods(recipe: Recipe) -> list[str]:
    """What a run compares: always the baseline, the rule when one is written, and the choice."""
    chosen = ["baseline"] + (["rule"] if recipe.rule.strip() else [])
    return chosen + ([recipe.model] if recipe.model not in chosen else [])


def validate(data: Data, progress: Progress = lambda step: None) -> Result:
    """Fit each method on the training rows and measure it on the validation rows."""
    recipe, spec = data.recipe, data.spec
    if recipe.model in models.LEARNED:
        columns.check(data.labelled, recipe.features)
    progress("split")
    train, valid = split(data)
    label = spec.builder.label
    values, scores = {}, {}
    for name in methods(recipe):
        progress(name)
        scores[name] = fitted(name, data, train)(valid)
        values[name] = measure(data, valid, scores[name])
    metric = spec.metrics[[m.name for m in spec.metrics].index(spec.leaderboard)]
    positives = int(valid[label].sum())
    result = Result(recipe.model, metric.name, metric.higher_is_better, values,
                    len(train), len(valid), positives,
                    valid[spec.builder.group].nunique() if spec.builder.group else len(valid), spec.builder.group)
    if result.chosen == "baseline":
        return result
    other = result.best_other()
    return replace(result, interval=gain_interval(data, valid, scores[other], scores[result.chosen],
                                                  metric.higher_is_better))


def gain_interval(data: Data, rows: pd.DataFrame, other: np.ndarray, chosen: np.ndarray,
                  higher_is_better: bool) -> bootstrap.Interval:
    """The bootstrap interval of the chosen model's gain over the other method on the same rows:
    whole groups (the theme's `group`) resampled together; a ranking theme resamples its ids."""
    spec, label = data.spec, data.spec.builder.label
    if data.item:
        file = ranking_file(spec)
        truth = rows.loc[rows[label], [spec.id_column, file.item]]
        each = [metrics.ranking_scores_by_user(ranked_lists(rows.assign(score=s), spec.id_column, file.item, file.k),
                                               truth, file.k, spec.id_column, file.item)[f"ndcg@{file.k}"]
                for s in (other, chosen)]
        return bootstrap.gain_interval(bootstrap.average, np.zeros(len(each[0])), *each, higher_is_better)
    groups = rows[spec.builder.group].to_numpy() if spec.builder.group else None
    return bootstrap.gain_interval(metrics.METRICS[spec.leaderboard].compute, rows[label].to_numpy(bool),
                                   other, chosen, higher_is_better, groups)


def measure(data: Data, rows: pd.DataFrame, scores: np.ndarray) -> float:
    """The theme's leaderboard metric on these rows."""
    spec, label = data.spec, data.spec.builder.label
    if data.item:
        file = ranking_file(spec)
        ranked = ranked_lists(rows.assign(score=scores), spec.id_column, file.item, file.k)
        truth = rows.loc[rows[label], [spec.id_column, file.item]]
        return metrics.ranking_scores(ranked, truth, file.k, spec.id_column, file.item)[f"ndcg@{file.k}"]
    metric = spec.leaderboard
    return float(metrics.METRICS[metric].compute(rows[label].to_numpy(bool), scores))


def ranked_lists(rows: pd.DataFrame, id_column: str, item: str, k: int) -> pd.DataFrame:
    """Each id's k best-scored items, ranked 1..k (ties broken by the item id)."""
    rows = rows.sort_values([id_column, "score", item], ascending=[True, False, True])
    rows = rows.drop_duplicates([id_column, item])
    rows = rows.assign(rank=rows.groupby(id_column).cumcount() + 1)
    return rows.loc[rows["rank"] <= k, [id_column, item, "rank"]].reset_index(drop=True)


def write(data: Data, output_dir: str | Path, con=None, progress: Progress = lambda step: None) -> Path:
    """Fit the chosen model on every labelled row and write the theme's prediction file."""
    from matsuri.templates import submission

    progress("final")
    spec, recipe = data.spec, data.recipe
    scores = fitted(recipe.model, data, data.labelled)(data.to_predict)
    if data.item:
        file = ranking_file(spec)
        rankings = ranked_lists(data.to_predict.assign(score=scores), spec.id_column, file.item, file.k)
        return submission.write_rankings(spec.id, output_dir, rankings, con)
    ids = data.to_predict[spec.id_column]
    return submission.write_probabilities(spec.id, output_dir, ids, np.clip(scores, 0, 1), con)
