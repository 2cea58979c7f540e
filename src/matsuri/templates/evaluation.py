"""Honest evaluation: a validation split cut by time, like the holdout, and a plain verdict.

The hackathon's holdout is the most recent slice of time, so we validate the same way: train on the
past, score on the most recent labelled rows. The holdout labels are never read here.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd

from matsuri.errors import UsageError


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


@dataclass(frozen=True)
class Comparison:
    """One metric, measured the same way for the baseline and for the model."""

    metric: str
    baseline: float
    model: float
    higher_is_better: bool = True

    @property
    def gain(self) -> float:
        """How much better the model is (positive) or worse (negative), whatever the direction."""
        diff = self.model - self.baseline
        return diff if self.higher_is_better else -diff

    @property
    def model_wins(self) -> bool:
        return self.gain > 0


class Verdict:
    """Metrics side by side and one plain sentence: does the model beat the baseline or not?"""

    def __init__(self, comparisons: list[Comparison], where: str = "the validation split"):
        if not comparisons:
            raise ValueError("a verdict needs at least one metric")
        self.comparisons, self.where = comparisons, where

    @property
    def primary(self) -> Comparison:
        return self.comparisons[0]

    @property
    def model_wins(self) -> bool:
        return self.primary.model_wins

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{"metric": c.metric, "baseline": round(c.baseline, 4), "ML model": round(c.model, 4),
              "better": "ML model" if c.model_wins else "baseline"} for c in self.comparisons]
        ).set_index("metric")

    def sentence(self) -> str:
        c = self.primary
        numbers = f"{c.model:.3f} against {c.baseline:.3f} on {self.where}"
        if c.model_wins:
            return f"The ML model beats the baseline on {c.metric}: {numbers} ({c.gain:+.3f})."
        return (
            f"The ML model does NOT beat the baseline on {c.metric}: {numbers}. "
            "Its predictions are still written, but the honest choice is to submit the baseline "
            "until a model wins on validation."
        )

    def __str__(self) -> str:
        return f"{self.table().to_string()}\n\n{self.sentence()}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        mark, colour = ("✅", "#1a7f37") if self.model_wins else ("⚠️", "#b35900")
        return (f"{self.table().to_html()}"
                f"<p style='color:{colour};font-weight:bold'>{mark} {html.escape(self.sentence())}</p>")
