"""Does the A/B plan give the textbook sample size, and does the reader give statsmodels' verdict,
in plain words, for both shapes of results file, refusing bad files with a message that helps?"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from pathlib import Path

import pytest
from scipy.stats import norm
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize
from statsmodels.stats.proportion import test_proportions_2indep as wald_test

from matsuri.errors import UsageError
from matsuri.handoff.ab import Group, plan, read


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def counts_csv(folder: Path, rows: list[tuple[str, int, int]], name: str = "counts.csv",
               header: str = "group,n,successes") -> Path:
    lines = [header, *(f"{group},{n},{s}" for group, n, s in rows)]
    return write(folder, name, "\n".join(lines) + "\n")


def users_csv(folder: Path, rows: list[tuple[str, int, int]], name: str = "users.csv") -> Path:
    """One line per user, the 0/1 value spelt in every accepted way."""
    spellings = [("1", "0"), ("true", "false"), ("yes", "no"), ("TRUE", "FALSE"), ("Yes", "No")]
    lines = ["group,converted"]
    for group, n, successes in rows:
        for i in range(n):
            yes, no = spellings[i % len(spellings)]
            lines.append(f"{group},{yes if i < successes else no}")
    return write(folder, name, "\n".join(lines) + "\n")


POLITE = ("です", "でした", "ます", "でしょう", "ません", "ましょう", "ください")


def numbers(reading) -> tuple:
    """Everything a reading says, without where it came from."""
    fields = dataclasses.asdict(reading)
    return tuple(value for key, value in fields.items() if key not in ("path", "outcome"))


# ---------------------------------------------------------------------------------------------
# plan


def test_plan_matches_statsmodels_and_the_textbook_figure():
    """Is 10 % → 12 % at alpha 0.05 and power 0.8 the 3,835 per group Cohen's h gives?"""
    h = proportion_effectsize(0.12, 0.10)
    expected = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1.0,
                                            alternative="two-sided")
    by_hand = 2 * ((norm.ppf(0.975) + norm.ppf(0.8)) / h) ** 2  # the normal closed form
    p = plan(0.10, 0.02)
    assert p.per_group_a == p.per_group_b == math.ceil(expected) == math.ceil(by_hand) == 3835
    assert p.total == 7670
    assert (p.baseline, p.effect, p.alpha, p.power, p.ratio) == (0.10, 0.02, 0.05, 0.8, 1.0)


def test_plan_with_unequal_groups_and_a_fall():
    """Does ratio size B against A, and does a drop need as many users as statsmodels says?"""
    h = abs(proportion_effectsize(0.12, 0.10))
    n_a = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=2.0)
    p = plan(0.10, 0.02, ratio=2.0)
    assert (p.per_group_a, p.per_group_b) == (math.ceil(n_a), math.ceil(n_a * 2))
    assert p.total == p.per_group_a + p.per_group_b
    fall = plan(0.5, -0.1, alpha=0.01, power=0.9)
    h = abs(proportion_effectsize(0.4, 0.5))
    assert fall.per_group_a == math.ceil(NormalIndPower().solve_power(effect_size=h, alpha=0.01, power=0.9))


def test_plan_texts_give_the_numbers_in_plain_words():
    p = plan(0.12, 0.01)
    ja, en = p.text("ja"), p.text("en")
    n = f"{p.per_group_a:,}"
    assert all(part in ja for part in (n, f"{p.total:,}", "12 %", "13 %", "1 ポイント", "10 回中 8 回",
                                       "100 回中 5 回"))
    assert all(part in en for part in (n, f"{p.total:,}", "12 %", "13 %", "at least 1 point ",
                                       "8 times in 10", "5 times in 100"))
    md = p.markdown("ja")
    assert md.startswith("## ") and "|---|---|" in md and n in md and ja in md
    assert p.markdown("en").startswith("## A/B test plan")
    assert "9 times in 10" in plan(0.12, 0.01, power=0.9).text("en")


@pytest.mark.parametrize("kwargs, named", [
    ({"baseline": 0.0, "effect": 0.01}, "baseline"),
    ({"baseline": 1.2, "effect": 0.01}, "1.2"),
    ({"baseline": 0.1, "effect": 0.0}, "effect"),
    ({"baseline": 0.95, "effect": 0.1}, "1.05"),
    ({"baseline": 0.05, "effect": -0.1}, "-0.05"),
    ({"baseline": 0.1, "effect": 0.01, "alpha": 1.0}, "alpha"),
    ({"baseline": 0.1, "effect": 0.01, "power": 0.0}, "power"),
    ({"baseline": 0.1, "effect": 0.01, "ratio": 0.0}, "ratio"),
])
def test_plan_refuses_impossible_inputs(kwargs, named):
    """Is a bad input a ValueError (and a usage error for the CLI) naming the bad value?"""
    with pytest.raises(ValueError, match="between 0 and 1|nonzero|above 0") as caught:
        plan(**kwargs)
    assert named in str(caught.value)
    assert isinstance(caught.value, UsageError)


# ---------------------------------------------------------------------------------------------
# read: the numbers


def test_reading_matches_statsmodels(tmp_path):
    """Are the difference, its interval and p-value the Wald ones, computed independently?"""
    reading = read(counts_csv(tmp_path, [("A", 20000, 2400), ("B", 20000, 2620)]))
    low, high = confint_proportions_2indep(2620, 20000, 2400, 20000, method="wald", compare="diff")
    p = wald_test(2620, 20000, 2400, 20000, method="wald", compare="diff").pvalue
    se = math.sqrt(0.131 * 0.869 / 20000 + 0.12 * 0.88 / 20000)
    assert reading.control == Group("A", 20000, 2400, 0.12)
    assert reading.treatment == Group("B", 20000, 2620, 0.131)
    assert reading.difference == pytest.approx(0.011)
    assert (reading.ci_low, reading.ci_high) == pytest.approx((low, high))
    assert reading.ci_low == pytest.approx(0.011 - norm.ppf(0.975) * se)
    assert reading.p_value == pytest.approx(p)
    assert reading.decision == "adopt"


def test_a_known_interval_and_another_alpha(tmp_path):
    """50 of 100 in both groups: the 95 % interval is ±1.96·√(2·0.25/100) = ±0.1386."""
    reading = read(counts_csv(tmp_path, [("A", 100, 50), ("B", 100, 50)]))
    assert (reading.ci_low, reading.ci_high) == pytest.approx((-0.138590, 0.138590), abs=1e-6)
    assert reading.p_value == pytest.approx(1.0)
    wider = read(counts_csv(tmp_path, [("A", 100, 50), ("B", 100, 50)]), alpha=0.01)
    assert wider.ci_high == pytest.approx(norm.ppf(0.995) * math.sqrt(0.005))
    assert "99 % 信頼区間" in wider.text("ja")


def test_both_shapes_give_the_same_reading(tmp_path):
    rows = [("A", 120, 30), ("B", 130, 52)]
    per_user, per_group = read(users_csv(tmp_path, rows)), read(counts_csv(tmp_path, rows))
    assert numbers(per_user) == numbers(per_group)
    assert per_user.treatment == Group("B", 130, 52, 0.4)


def test_aliases_bom_crlf_quoted_thousands_and_rows_added_up(tmp_path):
    """Does Excel's CSV UTF-8 (BOM, CRLF, "1,234") read like the plain file, days added up?"""
    plain = read(counts_csv(tmp_path, [("A", 3000, 360), ("B", 3000, 420)]))
    excel = write(tmp_path, "excel.csv", "\ufeffGroup,Users,Opens\r\nA,\"1,000\",120\r\n"
                  "B,\"1,000\",140\r\nA,2000,240\r\n,,\r\nB,2000.0,280\r\n")
    assert numbers(read(excel)) == numbers(plain)
    assert "開封率" in read(excel).text("ja") and "open rate" in read(excel).text("en")
    trials = counts_csv(tmp_path, [("A", 3000, 360), ("B", 3000, 420)], "trials.csv",
                        header="group,trials,conversions")
    assert numbers(read(trials)) == numbers(plain)


def test_zero_variance_does_not_crash(tmp_path):
    """Nobody converted anywhere: no difference, p-value 1, nothing to decide."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reading = read(counts_csv(tmp_path, [("A", 50, 0), ("B", 50, 0)]))
    assert (reading.difference, reading.ci_low, reading.ci_high, reading.p_value) == (0, 0, 0, 1)
    assert reading.decision == "inconclusive"
    assert "0.0 %" in reading.text("en")


# ---------------------------------------------------------------------------------------------
# read: the decision, the control and the plan


@pytest.mark.parametrize("treated, decision", [(2620, "adopt"), (2200, "keep"), (2450, "inconclusive")])
def test_decisions(tmp_path, treated, decision):
    reading = read(counts_csv(tmp_path, [("A", 20000, 2400), ("B", 20000, treated)]))
    assert reading.decision == decision
    assert (reading.ci_low > 0) == (decision == "adopt")
    assert (reading.ci_high < 0) == (decision == "keep")


@pytest.mark.parametrize("names, control", [
    (("B", "A"), "A"),
    (("treatment", "control"), "control"),
    (("新デザイン", "対照"), "対照"),
    (("Variant", "Control"), "Control"),
    (("x", "y"), "x"),
])
def test_which_group_is_the_control(tmp_path, names, control):
    reading = read(counts_csv(tmp_path, [(names[0], 100, 20), (names[1], 100, 10)]))
    assert reading.control.name == control
    assert reading.treatment.name == next(name for name in names if name != control)


def test_the_control_can_be_named(tmp_path):
    path = counts_csv(tmp_path, [("x", 100, 20), ("y", 100, 10)])
    reading = read(path, control="y")
    assert (reading.control.name, reading.treatment.name) == ("y", "x")
    assert reading.difference == pytest.approx(0.1)
    with pytest.raises(UsageError, match=r"--control z is not a group in .*counts\.csv.*x and y"):
        read(path, control="z")


def test_planned_size_notes(tmp_path):
    """Too small and unclear: run longer. Reached and unclear: keep A. Decided early: a caution."""
    short = read(counts_csv(tmp_path, [("A", 2000, 240), ("B", 2000, 262)]), planned=17164)
    assert short.decision == "inconclusive" and short.run_longer
    assert (short.control_reached, short.treatment_reached) == (False, False)
    assert "run longer" in short.text("en") and "17,164" in short.text("en")
    assert "もっと長く続けてください" in short.text("ja")

    reached = read(counts_csv(tmp_path, [("A", 20000, 2400), ("B", 20000, 2450)]), planned=17164)
    assert (reached.control_reached, reached.treatment_reached) == (True, True)
    assert not reached.run_longer
    assert "keeping A is the safe choice" in reached.text("en")
    assert "A を続けるのが無難です" in reached.text("ja")

    early = read(counts_csv(tmp_path, [("A", 20000, 2400), ("B", 15000, 1965)]), planned=17164)
    assert early.decision == "adopt" and not early.run_longer
    assert (early.control_reached, early.treatment_reached) == (True, False)
    assert "B has 15,000" in early.text("en") and "ただし" in early.text("ja")
    assert read(counts_csv(tmp_path, [("A", 20000, 2400), ("B", 20000, 2620)])).planned is None


def test_texts_carry_the_numbers(tmp_path):
    reading = read(counts_csv(tmp_path, [("A", 20000, 2400), ("B", 20000, 2620)]))
    ja, en = reading.text("ja"), reading.text("en")
    for part in ("B の成功率は 13.1 %", "A は 12.0 %", "+1.1 ポイント", "95 % 信頼区間 +0.5〜+1.7",
                 "B を採用してよいでしょう", "20,000 人中 2,620 人", "0.001 未満"):
        assert part in ja
    for sentence in filter(None, ja.split("。")):  # です・ます throughout
        assert re.sub(r"（[^（）]*）$", "", sentence).endswith(POLITE), sentence
    for part in ("B's success rate is 13.1 %", "A's 12.0 %", "+1.1 points",
                 "95 % confidence interval +0.5 to +1.7", "you can adopt B", "2,620 of 20,000"):
        assert part in en
    keep = read(counts_csv(tmp_path, [("A", 20000, 2400), ("B", 20000, 2200)]))
    assert "-1.0 ポイント" in keep.text("ja") and "A を続けましょう" in keep.text("ja")
    assert "keep A" in keep.text("en")


def test_small_rates_get_more_decimals(tmp_path):
    """A 0.5 % click rate must not read as "+0.1 points", nor an end of the interval as 0."""
    reading = read(counts_csv(tmp_path, [("A", 100000, 500), ("B", 100000, 600)]))
    assert "0.60 %" in reading.text("en") and "0.50 %" in reading.text("en")
    assert "+0.10 points (95 % confidence interval +0.04 to +0.16" in reading.text("en")
    close = read(counts_csv(tmp_path, [("A", 100000, 500), ("B", 100000, 560)]))
    assert close.ci_low < 0 and "interval -0.004 to +0.124" in close.text("en")


# ---------------------------------------------------------------------------------------------
# read: bad files


@pytest.mark.parametrize("text, words", [
    ("", ["is empty", "group,converted"]),
    ("group,converted\n", ["no results below"]),
    ("team,converted\nA,1\nB,0\n", ["line 1", "column group", "team, converted"]),
    ("group,clicked\nA,1\nB,0\n", ["line 1", "converted", "group, clicked"]),
    ("group,n\nA,10\nB,10\n", ["line 1", "successes", "beside n"]),
    ("group,n,users,successes\nA,10,10,1\n", ["line 1", "both n and users"]),
    ("group,converted\nA,1\nB,0\nC,1\n", ["3 groups", "A, B, C", "exactly two"]),
    ("group,converted\nA,1\nA,0\n", ["1 group ", "(A)", "exactly two"]),
    ("group,converted\nA,1\nB,0\nB,maybe\n", ["line 4", "column converted", "'maybe'", "1/0"]),
    ("group,converted\nA,1\n\nB,\n", ["line 4", "column converted", "empty cell"]),
    ("group,converted\nA,1\n,0\n", ["line 3", "column group", "empty"]),
    ("group,n,successes\nA,10,1\nB,-5,0\n", ["line 3", "column n", "-5", "negative"]),
    ("group,users,opens\nA,10,1\nB,40,50\n", ["line 3", "opens (50)", "larger than users (40)"]),
    ("group,n,successes\nA,10,1\nB,0,0\n", ["line 3", "group B has no users"]),
    ("group,n,successes\nA,10,1\nB,ten,0\n", ["line 3", "column n", "'ten'", "whole number"]),
    ("group,n,successes\nA,10,1\nB,10.5,0\n", ["line 3", "column n", "10.5", "whole number"]),
])
def test_bad_files_say_where_and_what_to_do(tmp_path, text, words):
    path = write(tmp_path, "results.csv", text)
    with pytest.raises(UsageError) as caught:
        read(path)
    message = str(caught.value)
    assert "results.csv" in message
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"


def test_a_missing_file(tmp_path):
    with pytest.raises(UsageError, match=r"nowhere\.csv does not exist"):
        read(tmp_path / "nowhere.csv")
    with pytest.raises(UsageError, match="is a folder"):
        read(tmp_path)


def test_excel_shift_jis_is_refused_with_the_way_out(tmp_path):
    """Japanese Excel's plain CSV (cp932): which line, and how to save it as UTF-8."""
    path = write(tmp_path, "結果.csv", "group,converted\nA,1\n対照,0\n", encoding="cp932")
    with pytest.raises(UsageError) as caught:
        read(path)
    message = str(caught.value)
    for word in ("結果.csv", "line 3", "not UTF-8", "Shift_JIS", "CSV UTF-8"):
        assert word in message


def test_bad_settings(tmp_path):
    path = counts_csv(tmp_path, [("A", 10, 1), ("B", 10, 2)])
    with pytest.raises(UsageError, match="alpha"):
        read(path, alpha=1.5)
    with pytest.raises(UsageError, match="planned size"):
        read(path, planned=0)
    with pytest.raises(UsageError, match="Choose ja or en"):
        read(path).text("fr")
