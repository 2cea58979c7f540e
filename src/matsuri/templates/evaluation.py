"""Honest evaluation: a validation split cut by time, like the holdout, and a plain verdict.

The hackathon's holdout is the most recent slice of time, so we validate the same way: train on the
past, score on the most recent labelled rows. The holdout labels are never read here.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matsuri.errors import UsageError
from matsuri.language import DEFAULT, LANGUAGES, configured, say
from matsuri.templates import bootstrap
from matsuri.templates.bootstrap import Interval


@dataclass
class Split:
    train: pd.DataFrame
    valid: pd.DataFrame
    starts_at: pd.Timestamp  # first moment of the validation period


def time_split(frame: pd.DataFrame, time_column: str, share: float = 0.2, by: str | None = None) -> Split:
    """The last `share` of rows (or of groups `by`, e.g. whole pushes) by time become validation."""
    if not 0 < share < 1:
        raise UsageError(f"validation_share must be between 0 and 1 (it is {share}); 0.2 is usual.")
    times = frame.groupby(by)[time_column].min() if by else frame[time_column]
    times = times.sort_values(ignore_index=True)
    cut = int(len(times) * (1 - share))
    if len(times) < 10 or cut in (0, len(times)):
        raise UsageError(
            f"Only {len(times)} {'groups' if by else 'rows'} with labels: too few to keep "
            f"{share:.0%} aside for validation. Use more data (a bigger warehouse or a longer period)."
        )
    starts = pd.Timestamp(times.iloc[cut])
    first = frame.groupby(by)[time_column].transform("min") if by else frame[time_column]
    later = (first >= starts).to_numpy()
    return Split(frame[~later], frame[later], starts)


# The verdict's words (`matsuri.language`): the starter's language is MATSURI_LANG, else Japanese.
TEXT: dict[str, dict[str, str]] = {
    "metric": {"ja": "指標", "en": "metric"},
    "baseline": {"ja": "ベースライン", "en": "baseline"},
    "model": {"ja": "ML モデル", "en": "ML model"},
    "gain": {"ja": "差（改善）", "en": "gain"},
    "interval": {"ja": "{level:.0%} 信頼区間", "en": "{level:.0%} interval"},
    "better": {"ja": "優れている方", "en": "better"},
    "unclear": {"ja": "判断できない", "en": "can't tell"},
    "where": {"ja": "検証データ", "en": "the validation split"},
    "rows": {"ja": "{rows:,} 行", "en": "{rows:,} rows"},
    "positives": {"ja": "うち結果が「はい」は {positives:,} 行", "en": "{positives:,} with outcome yes"},
    "group": {"ja": "グループ", "en": "group"},
    "groups": {"ja": "{unit} ごとにまとめて再抽出、{groups:,} 件", "en": "resampled by whole {unit}, {groups:,} of them"},
    "sample": {"ja": "（{parts}）", "en": " ({parts})"},
    "no_range": {"ja": "（結果ごとの行が少なすぎて区間を出せません）",
                 "en": " (too few rows of each outcome for an interval)"},
    "range": {"ja": "（{level:.0%} 信頼区間 {low:+.3f}〜{high:+.3f}）", "en": " ({level:.0%} interval {low:+.3f} to {high:+.3f})"},
    "wins": {"ja": "ML モデルは {metric} でベースラインに勝っています。{where}{sample}で {model:.3f} 対 {baseline:.3f}、"
                   "差は {gain:+.3f}{interval}です。",
             "en": "The ML model beats the baseline on {metric}: {model:.3f} against {baseline:.3f}, "
                   "{gain:+.3f}{interval} on {where}{sample}."},
    "unclear_sentence": {
        "ja": "ML モデルが {metric} でベースラインに勝っているかは、データが足りず判断できません。{where}{sample}で "
              "{model:.3f} 対 {baseline:.3f}、差は {gain:+.3f}{interval}です。区間が 0 をまたいでいるので、この差は"
              "偶然かもしれません。データを増やすか期間を長くすれば分かります。それまでは、ベースラインを提出するのが"
              "誠実な選択です。",
        "en": "Not enough data to tell whether the ML model beats the baseline on {metric}: {model:.3f} against "
              "{baseline:.3f}, {gain:+.3f}{interval} on {where}{sample}. The interval includes zero, so the "
              "difference could be chance; more data or a longer period would tell. Until then the honest choice "
              "is to submit the baseline."},
    "loses": {"ja": "ML モデルは {metric} でベースラインに勝っていません。{where}{sample}で {model:.3f} 対 "
                    "{baseline:.3f}、差は {gain:+.3f}{interval}です。予測は書き出しますが、検証データで勝つモデルが"
                    "できるまでは、ベースラインを提出するのが誠実な選択です。",
              "en": "The ML model does NOT beat the baseline on {metric}: {model:.3f} against {baseline:.3f}, "
                    "{gain:+.3f}{interval} on {where}{sample}. Its predictions are still written, but the honest "
                    "choice is to submit the baseline until a model wins on validation."},
}
SEPARATOR = {"ja": "。", "en": "; "}



@dataclass(frozen=True)
class Comparison:
    """One metric, measured the same way for the baseline and for the model.

    Built with `Comparison.measure`, it also knows the sample (rows, positives, groups) and a paired
    bootstrap interval of the gain; then a gain whose interval includes zero is not a win.
    """

    metric: str
    baseline: float
    model: float
    higher_is_better: bool = True
    rows: int | None = None            # validation rows measured
    positives: int | None = None       # of which with outcome yes (binary outcomes)
    groups: int | None = None          # whole groups resampled together (users, pushes)
    unit: str = ""                     # what a group is (the groups' column name)
    interval: Interval | None = None   # of the gain: positive means the model is better

    @classmethod
    def measure(cls, metric: str, metric_fn: Callable, y_true, baseline_pred, model_pred,
                higher_is_better: bool = True, groups=None, resamples: int = bootstrap.RESAMPLES,
                level: float = bootstrap.LEVEL, seed: int = bootstrap.SEED) -> Comparison:
        """`metric_fn(y_true, predictions)` for both, with the sample size and a paired bootstrap
        interval of the gain; `groups` (one label per row, e.g. user ids) resamples whole groups,
        which is right when a group's rows are not independent. A metric that is a mean of values
        measured per row (per customer) is `bootstrap.average` of those values, with y_true None."""
        truth = np.zeros(len(model_pred)) if y_true is None else np.asarray(y_true)
        binary = y_true is not None and (truth.dtype == bool or set(np.unique(truth).tolist()) <= {0, 1})
        interval = bootstrap.gain_interval(metric_fn, truth, baseline_pred, model_pred, higher_is_better,
                                           groups, resamples, level, seed)
        return cls(metric, float(metric_fn(truth, np.asarray(baseline_pred))),
                   float(metric_fn(truth, np.asarray(model_pred))), higher_is_better, len(truth),
                   int(truth.astype(bool).sum()) if binary else None,
                   None if groups is None else int(pd.Series(np.asarray(groups)).nunique(dropna=False)),
                   str(getattr(groups, "name", None) or ""), interval)

    @property
    def gain(self) -> float:
        """How much better the model is (positive) or worse (negative), whatever the direction."""
        diff = self.model - self.baseline
        return diff if self.higher_is_better else -diff

    @property
    def outcome(self) -> str:
        """What the verdict says: "wins", "loses", or "unclear" when the interval of the gain holds zero."""
        if self.interval is not None and self.interval.contains_zero():
            return "unclear"
        return "wins" if self.gain > 0 else "loses"

    @property
    def model_wins(self) -> bool:
        return self.outcome == "wins"

    def interval_text(self, lang: str) -> str:
        """The interval of the gain in parentheses, or nothing without one."""
        i = self.interval
        if i is None:
            return ""
        return say(TEXT, "range", lang, level=i.level, low=i.low, high=i.high) if i.known() else say(TEXT, "no_range", lang)

    def sample_text(self, lang: str) -> str:
        """How many rows (positives, groups) were measured, in parentheses, or nothing if unknown."""
        counts = []
        if self.rows is not None:
            counts.append(say(TEXT, "rows", lang, rows=self.rows))
        if self.positives is not None:
            counts.append(say(TEXT, "positives", lang, positives=self.positives))
        parts = "、".join(counts) if lang == "ja" else ", ".join(counts)
        if self.groups is not None:
            grouped = say(TEXT, "groups", lang, unit=self.unit or say(TEXT, "group", lang), groups=self.groups)
            parts = SEPARATOR[lang].join(filter(None, [parts, grouped]))
        return say(TEXT, "sample", lang, parts=parts) if parts else ""


class Verdict:
    """Metrics side by side and one plain sentence: does the model beat the baseline, does it not,
    or is there not enough data to tell? In `lang` (default: MATSURI_LANG, else Japanese)."""

    def __init__(self, comparisons: list[Comparison], where: str = "", lang: str | None = None,
                 where_ja: str = ""):
        if not comparisons:
            raise ValueError("a verdict needs at least one metric")
        self.comparisons, self.lang = comparisons, lang
        self.where = {"en": where or TEXT["where"]["en"], "ja": where_ja or TEXT["where"]["ja"]}

    @property
    def primary(self) -> Comparison:
        return self.comparisons[0]

    @property
    def model_wins(self) -> bool:
        return self.primary.model_wins

    def _lang(self, lang: str | None) -> str:
        lang = lang or self.lang or configured()
        return lang if lang in LANGUAGES else DEFAULT

    def table(self, lang: str | None = None) -> pd.DataFrame:
        lang = self._lang(lang)
        word = {key: say(TEXT, key, lang) for key in ("baseline", "model", "gain", "better", "unclear")}
        better = {"wins": word["model"], "loses": word["baseline"], "unclear": word["unclear"]}
        rows = []
        for c in self.comparisons:
            row = {word["baseline"]: round(c.baseline, 4), word["model"]: round(c.model, 4),
                   word["gain"]: round(c.gain, 4)}
            if any(x.interval for x in self.comparisons):
                level = next(x.interval.level for x in self.comparisons if x.interval)
                row[say(TEXT, "interval", lang, level=level)] = (
                    f"{c.interval.low:+.4f} … {c.interval.high:+.4f}" if c.interval and c.interval.known() else "")
            rows.append({say(TEXT, "metric", lang): c.metric, **row, word["better"]: better[c.outcome]})
        return pd.DataFrame(rows).set_index(say(TEXT, "metric", lang))

    def sentence(self, lang: str | None = None) -> str:
        lang, c = self._lang(lang), self.primary
        key = {"wins": "wins", "loses": "loses", "unclear": "unclear_sentence"}[c.outcome]
        return say(TEXT, key, lang, metric=c.metric, model=c.model, baseline=c.baseline, gain=c.gain,
                   where=self.where[lang], interval=c.interval_text(lang), sample=c.sample_text(lang))

    def __str__(self) -> str:
        return f"{self.table().to_string()}\n\n{self.sentence()}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        mark, colour = {"wins": ("✅", "#1a7f37"), "unclear": ("❔", "#8a6d00"),
                        "loses": ("⚠️", "#b35900")}[self.primary.outcome]
        return (f"{self.table().to_html()}"
                f"<p style='color:{colour};font-weight:bold'>{mark} {html.escape(self.sentence())}</p>")
