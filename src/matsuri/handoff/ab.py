"""A/B tests for a handed-off component: how many users to plan for, and what a result says.

The business judges a change by an A/B test, not by the leaderboard: `plan` says how many users
each group needs before the test starts, `read` turns the results CSV into a verdict in plain
Japanese or English. Both are pure functions; a command only parses options and prints.

A is the control (the current way), B the treatment (the change being judged). In a results file
the control is the group named by `control=`; else the one group named `A`, `control`, `対照` or
`対照群` (any case); else the first of the two names in sorted order. The other is the treatment.

The results CSV (UTF-8, with or without the BOM Excel's "CSV UTF-8" writes) has one of two shapes:

- one row per user: columns `group` and `converted` (1/0, true/false, yes/no, はい/いいえ);
- one row per group: columns `group`, `n` (or `users`, `trials`) and `successes` (or
  `conversions`, `converted`, `opens`); several rows of one group (one per day, say) are added up.

The difference is B's rate minus A's, with a Wald confidence interval and test (statsmodels).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from matsuri.errors import UsageError
from matsuri.handoff import results_file

Decision = Literal["adopt", "keep", "inconclusive"]

# what the outcome column counts, as the verdict names it: (Japanese, English)
METRICS = {"opens": ("開封率", "open rate"), "conversions": ("コンバージョン率", "conversion rate"),
           "converted": ("コンバージョン率", "conversion rate"), "successes": ("成功率", "success rate")}


class PlanError(UsageError, ValueError):
    """A plan input out of range: a ValueError to library callers, bad input (exit 2) to the CLI."""


# ---------------------------------------------------------------------------------------------
# numbers as people read them


def _pct(rate: float, decimals: int | None = None) -> str:
    """A rate as a percentage: "12", "12.5" (at most two decimals) or with fixed decimals."""
    if decimals is not None:
        return f"{rate * 100:.{decimals}f}"
    return f"{rate * 100:.2f}".rstrip("0").rstrip(".")


def _points(diff: float, decimals: int) -> str:
    """A difference in percentage points with its sign; one that rounds to zero shows no sign."""
    text = f"{diff * 100:+.{decimals}f}"
    return text[1:] if float(text) == 0 else text


def _decimals(low: float, high: float, *shown: float) -> int:
    """Enough decimals (1 to 3) that the interval's width shows and no nonzero number reads as 0."""
    width = (high - low) * 100
    decimals = 1 if width >= 1 or width == 0 else 2 if width >= 0.1 else 3
    values = (low, high, *shown)
    while decimals < 3 and any(v and float(f"{v * 100:.{decimals}f}") == 0 for v in values):
        decimals += 1
    return decimals


def _point_word(diff: float) -> str:
    return "point" if _pct(abs(diff)) == "1" else "points"


def _times(share: float) -> tuple[int, int]:
    """0.8 → (8, 10), 0.05 → (5, 100): a probability as "k times in m", which reads easily."""
    for out_of in (10, 100, 1000):
        k = share * out_of
        if abs(k - round(k)) < 1e-9:
            return round(k), out_of
    return round(share * 100), 100


def _times_en(k: int, out_of: int) -> str:
    return f"{k} {'time' if k == 1 else 'times'} in {out_of}"


def _p_value(p: float, lang: str) -> str:
    """The p-value as the sentence ends: "0.042 です", "0.001 未満です", "below 0.001"."""
    if lang == "ja":
        return f"{p:.3f} です" if p >= 0.001 else "0.001 未満です"
    return f"{p:.3f}" if p >= 0.001 else "below 0.001"


# ---------------------------------------------------------------------------------------------
# planning


@dataclass(frozen=True)
class Plan:
    """How many users each group needs to notice a change of `effect` from `baseline`."""

    baseline: float
    effect: float
    alpha: float
    power: float
    ratio: float
    per_group_a: int
    per_group_b: int
    total: int

    @property
    def target(self) -> float:
        return self.baseline + self.effect

    def text(self, lang: str = "ja") -> str:
        """A short paragraph a business reader understands without statistics."""
        return _plan_text(self, _lang(lang))

    def markdown(self, lang: str = "ja") -> str:
        """A section for a hand-off pack: the figures in a table, then the paragraph."""
        return _plan_markdown(self, _lang(lang))


def plan(baseline: float, effect: float, alpha: float = 0.05, power: float = 0.8,
         ratio: float = 1.0) -> Plan:
    """Users per group for a two-sided test of a rate moving from `baseline` by `effect`.

    `effect` is absolute (0.12 → 0.13 is 0.01); `ratio` is B's size over A's. Cohen's h and the
    normal power of statsmodels, rounded up, as most A/B calculators do.
    """
    _check_plan(baseline, effect, alpha, power, ratio)
    n_a = _solve_n(abs(_cohens_h(baseline + effect, baseline)), alpha, power, ratio)
    per_a, per_b = _round_up(n_a), _round_up(n_a * ratio)
    return Plan(baseline, effect, alpha, power, ratio, per_a, per_b, per_a + per_b)


def _check_plan(baseline: float, effect: float, alpha: float, power: float, ratio: float) -> None:
    """Refuse values the arithmetic would turn into nonsense, naming the value."""
    for name, value, hint in (("baseline", baseline, "the current rate, e.g. 0.12 for 12 %"),
                              ("alpha", alpha, "0.05 is usual"), ("power", power, "0.8 is usual")):
        if not 0 < value < 1:
            raise PlanError(f"{name} must be between 0 and 1 (it is {value}); {hint}.")
    if not effect or effect != effect:
        raise PlanError(f"effect must be a nonzero change of the rate (it is {effect}); "
                        "e.g. 0.01 to notice 12 % becoming 13 %.")
    if not 0 < baseline + effect < 1:
        raise PlanError(f"baseline + effect must stay between 0 and 1 (it is "
                        f"{baseline + effect:g} = {baseline} + {effect}); choose a smaller effect.")
    if not 0 < ratio < math.inf:
        raise PlanError(f"ratio (B's size over A's) must be a number above 0 (it is {ratio}); 1 is "
                        "usual.")


def _cohens_h(rate: float, baseline: float) -> float:
    from statsmodels.stats.proportion import proportion_effectsize

    return float(proportion_effectsize(rate, baseline))


def _solve_n(h: float, alpha: float, power: float, ratio: float) -> float:
    """Group A's size; very large effects, where the solver gives up, use the closed form."""
    from statsmodels.stats.power import NormalIndPower

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n = float(NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power,
                                               ratio=ratio, alternative="two-sided"))
    if math.isfinite(n) and n > 0:
        return n
    from scipy.stats import norm

    return ((norm.ppf(1 - alpha / 2) + norm.ppf(power)) / h) ** 2 * (1 + 1 / ratio)


def _round_up(n: float) -> int:
    """Up to a whole user, not letting float noise (3835.0000000001) add one."""
    return max(1, math.ceil(n - 1e-9))


def _plan_text(p: Plan, lang: str) -> str:
    k, out_of = _times(p.power)
    fa, fout = _times(p.alpha)
    base, target, size = _pct(p.baseline), _pct(p.target), _pct(abs(p.effect))
    if lang == "ja":
        return (f"A（いまのやり方）と B（新しいやり方）で、割合（開封率や購入率など）が {base} % から "
                f"{target} % へ変わるかを比べます。必要な人数は A が {p.per_group_a:,} 人、B が "
                f"{p.per_group_b:,} 人、合計 {p.total:,} 人です。本当の変化が {size} ポイント以上"
                f"（{base} % → {target} %）あれば、このテストは {out_of} 回中 {k} 回それを見つけます"
                f"（検出力 {_pct(p.power)} %）。本当は差がないのに「差がある」と誤って判断するのは "
                f"{fout} 回中 {fa} 回までです（有意水準 {_pct(p.alpha)} %）。両方のグループがこの人数に"
                "届くまで、途中で結果を見て止めないでください。")
    return (f"We compare A (the current way) with B (the new way) to see whether a rate (an open "
            f"or purchase rate, say) moves from {base} % to {target} %. This needs "
            f"{p.per_group_a:,} users in A and {p.per_group_b:,} in B, {p.total:,} in all. If the "
            f"true change is at least {size} {_point_word(p.effect)} ({base} % → {target} %), this "
            f"test notices it {_times_en(k, out_of)} (its power, {_pct(p.power)} %). When there is "
            f"no real difference, it wrongly reports one at most {_times_en(fa, fout)} (the "
            f"significance level, {_pct(p.alpha)} %). Do not stop early because the numbers look "
            "good: wait until both groups reach these sizes.")


def _plan_markdown(p: Plan, lang: str) -> str:
    base, target = _pct(p.baseline), _pct(p.target)
    change = f"{'+' if p.effect > 0 else '-'}{_pct(abs(p.effect))}"
    if lang == "ja":
        head = "## A/B テストの計画"
        rows = [("いまの割合（A）", f"{base} %"),
                ("見つけたい変化", f"{change} ポイント（{base} % → {target} %）"),
                ("必要な人数", f"A {p.per_group_a:,} 人、B {p.per_group_b:,} 人（合計 {p.total:,} 人）"),
                ("見逃さない確率（検出力）", f"{_pct(p.power)} %"),
                ("差がないのに「差あり」とする確率（有意水準）", f"{_pct(p.alpha)} %")]
        note = "計算: 2 つの割合の差の両側検定、Cohen の h（statsmodels の NormalIndPower）、切り上げ。"
    else:
        head = "## A/B test plan"
        rows = [("current rate (A)", f"{base} %"),
                ("change to notice", f"{change} {_point_word(p.effect)} "
                                     f"({base} % → {target} %)"),
                ("users needed", f"A {p.per_group_a:,}, B {p.per_group_b:,} ({p.total:,} in all)"),
                ("chance of noticing it (power)", f"{_pct(p.power)} %"),
                ("chance of a false alarm (significance level)", f"{_pct(p.alpha)} %")]
        note = ("Computed as a two-sided test of two rates with Cohen's h (statsmodels "
                "NormalIndPower), rounded up.")
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return f"{head}\n\n| | |\n|---|---|\n{table}\n\n{_plan_text(p, lang)}\n\n_{note}_\n"


def _lang(lang: str) -> str:
    if lang not in ("ja", "en"):
        raise UsageError(f"Unknown language '{lang}'. Choose ja or en.")
    return lang


# ---------------------------------------------------------------------------------------------
# reading results


@dataclass(frozen=True)
class Group:
    """One side of the test as counted from the file."""

    name: str
    n: int
    successes: int
    rate: float

    @classmethod
    def counted(cls, name: str, n: int, successes: int) -> Group:
        return cls(name, n, successes, successes / n)


@dataclass(frozen=True)
class Reading:
    """What an A/B results file says: the rates, their difference and what to do.

    `outcome` is the column counted (it names the rate in the text); `difference`, `ci_low` and
    `ci_high` are treatment minus control as rates (0.011 is +1.1 points); `control_reached` and
    `treatment_reached` are None without a planned size.
    """

    path: Path
    outcome: str
    control: Group
    treatment: Group
    alpha: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    decision: Decision
    planned: int | None = None
    control_reached: bool | None = None
    treatment_reached: bool | None = None

    @property
    def short_groups(self) -> tuple[Group, ...]:
        """The groups that have not reached the planned size yet."""
        reached = ((self.control, self.control_reached), (self.treatment, self.treatment_reached))
        return tuple(group for group, ok in reached if ok is False)

    @property
    def run_longer(self) -> bool:
        """Nothing is clear yet and the test stopped before its planned size."""
        return self.decision == "inconclusive" and bool(self.short_groups)

    def text(self, lang: str = "ja") -> str:
        """The verdict in plain words: the rates, the difference and what to do."""
        return _reading_text(self, _lang(lang))


def read(path: Path, alpha: float = 0.05, planned: int | None = None,
         control: str | None = None) -> Reading:
    """Read an A/B results CSV (either shape, see the module notes) and decide.

    adopt: the whole (1 − alpha) interval of B − A is above 0; keep: all below 0; inconclusive:
    it crosses 0. `planned` is the planned size per group (from `plan`).
    """
    path = Path(path)
    _check_reading(alpha, planned)
    outcome, counts = results_file.count(path)
    first, second = results_file.split(path, counts, control)
    a, b = (Group.counted(name, *counts[name][:2]) for name in (first, second))
    diff, low, high, p = _compare(a, b, alpha)
    decision: Decision = "adopt" if low > 0 else "keep" if high < 0 else "inconclusive"
    reached = (None, None) if planned is None else (a.n >= planned, b.n >= planned)
    return Reading(path, outcome, a, b, alpha, diff, low, high, p, decision, planned, *reached)


def _check_reading(alpha: float, planned: int | None) -> None:
    if not 0 < alpha < 1:
        raise UsageError(f"alpha must be between 0 and 1 (it is {alpha}); 0.05 is usual.")
    whole = isinstance(planned, int) and not isinstance(planned, bool)
    if planned is not None and not (whole and planned >= 1):
        raise UsageError(f"The planned size per group must be a whole number above 0 (it is "
                         f"{planned}); take it from the A/B plan.")


def _compare(control: Group, treatment: Group, alpha: float) -> tuple[float, float, float, float]:
    """B − A, its Wald interval and two-sided p-value (1 when neither group varies at all)."""
    import numpy as np
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    args = (treatment.successes, treatment.n, control.successes, control.n)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        low, high = confint_proportions_2indep(*args, method="wald", compare="diff", alpha=alpha)
        p = float(test_proportions_2indep(*args, method="wald", compare="diff").pvalue)
    return treatment.rate - control.rate, float(low), float(high), 1.0 if math.isnan(p) else p


# ---------------------------------------------------------------------------------------------
# the verdict in words


def _reading_text(r: Reading, lang: str) -> str:
    d = _decimals(r.ci_low, r.ci_high, r.difference, r.control.rate, r.treatment.rate)
    a, b = r.control, r.treatment
    level, p = _pct(1 - r.alpha), _p_value(r.p_value, lang)
    diff, low, high = (_points(x, d) for x in (r.difference, r.ci_low, r.ci_high))
    if lang == "ja":
        metric = METRICS.get(r.outcome, ("割合", "rate"))[0]
        facts = (f"{b.name} の{metric}は {_pct(b.rate, d)} %（{b.n:,} 人中 {b.successes:,} 人）、"
                 f"{a.name} は {_pct(a.rate, d)} %（{a.n:,} 人中 {a.successes:,} 人）でした。"
                 f"差は {diff} ポイントです（{level} % 信頼区間 {low}〜{high} ポイント）。"
                 "本当の差は、おそらくこの区間の中にあります。")
        odds = f"本当は差がないとしたら、偶然これ以上の差が出る確率（p 値）は {p}。"
    else:
        metric = METRICS.get(r.outcome, ("割合", "rate"))[1]
        facts = (f"{b.name}'s {metric} is {_pct(b.rate, d)} % ({b.successes:,} of {b.n:,}), "
                 f"{a.name}'s {_pct(a.rate, d)} % ({a.successes:,} of {a.n:,}). The difference is "
                 f"{diff} points ({level} % confidence interval {low} to {high}: the true "
                 "difference most likely lies in this range).")
        odds = (f"If there were no real difference, a gap at least this large would turn up by "
                f"chance with probability {p} (the p-value).")
    parts = (facts, _verdict(r, lang), _plan_note(r, lang), odds)
    return ("" if lang == "ja" else " ").join(part for part in parts if part)


def _verdict(r: Reading, lang: str) -> str:
    a, b = r.control.name, r.treatment.name
    ja = lang == "ja"
    if r.decision == "adopt":
        return (f"区間全体が 0 より上なので、{b} を採用してよいでしょう。" if ja else
                f"The whole interval is above 0, so you can adopt {b}.")
    if r.decision == "keep":
        return (f"区間全体が 0 より下なので、{b} は {a} より悪いと言えます。{a} を続けましょう。" if ja else
                f"The whole interval is below 0, so {b} does worse than {a}: keep {a}.")
    if r.run_longer:
        return ("区間が 0 をまたいでいるので、まだ差があるとは言えません。" if ja else
                "The interval crosses 0, so there is no clear difference yet.")
    if r.planned is not None:
        return (f"計画の人数に届いても区間が 0 をまたいでいます。差があったとしても計画で見込んだより"
                f"小さい可能性が高いので、{a} を続けるのが無難です。" if ja else
                f"Even at the planned size the interval crosses 0: any real difference is probably "
                f"smaller than the plan looked for, so keeping {a} is the safe choice.")
    return (f"区間が 0 をまたいでいるので、差があるとは言い切れません。{b} を採用する根拠はまだありません。"
            if ja else f"The interval crosses 0, so there is no clear difference: no reason yet "
            f"to adopt {b}.")


def _plan_note(r: Reading, lang: str) -> str:
    """Whether each group reached the planned size, and what that means for the verdict."""
    if r.planned is None:
        return ""
    ja = lang == "ja"
    short = (("、" if ja else ", ").join(
        f"{g.name} は {g.n:,} 人" if ja else f"{g.name} has {g.n:,}" for g in r.short_groups))
    if not r.short_groups:
        return (f"どちらのグループも計画の人数（{r.planned:,} 人）に届いています。" if ja else
                f"Both groups reached the planned size ({r.planned:,} each).")
    if r.run_longer:
        return (f"まだ計画の人数（各 {r.planned:,} 人）に届いていません（{short}）。テストをもっと長く"
                "続けてください。" if ja else
                f"The planned size ({r.planned:,} each) is not reached yet ({short}): run longer.")
    return (f"ただし、まだ計画の人数（各 {r.planned:,} 人）に届いていません（{short}）。途中で止めると"
            "偶然の差を本物と見誤りやすくなるので、計画の人数まで続けてから判断するのが安全です。" if ja else
            f"But the planned size ({r.planned:,} each) is not reached yet ({short}); stopping "
            "early makes a chance difference easy to mistake for a real one, so it is safer to "
            "wait for it.")
