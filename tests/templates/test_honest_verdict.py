"""Is the verdict honest at any size? A gain whose bootstrap interval includes zero is "not enough
data to tell", on a real 200-user company too; the interval is repeatable, paired, wider when rows
come in groups, and the fast resampled metrics equal the plain ones."""

from __future__ import annotations

import re
import string

import duckdb
import numpy as np
import pandas as pd
import pytest

from matsuri import language
from matsuri.metrics import (
    log_loss,
    pr_auc,
    ranking_scores,
    ranking_scores_by_user,
    roc_auc,
    top_decile_lift,
)
from matsuri.templates import bootstrap
from matsuri.templates.evaluation import TEXT, Comparison, Verdict

from .conftest import run_starter

OUTCOMES = {"wins": "wins", "unclear": "unclear_sentence", "loses": "loses"}


def _fixed_words(template: str) -> str:
    """The longest stretch of a sentence template without fields: present whatever the figures."""
    return max((literal for literal, *_ in string.Formatter().parse(template)), key=len)


def said(text: str) -> set[str]:
    """The outcomes ("wins", "unclear", "loses") whose sentence appears in `text`, in either language."""
    return {outcome for outcome, key in OUTCOMES.items()
            if any(_fixed_words(TEXT[key][lang]) in text for lang in language.LANGUAGES)}


def scored(rows: int, seed: int = 1, signal: float = 1.0):
    """Labels, a baseline that knows nothing, and a model that knows `signal` about the label."""
    rng = np.random.default_rng(seed)
    truth = rng.random(rows) < 0.3
    baseline = rng.random(rows)
    model = 1 / (1 + np.exp(-(signal * (truth - 0.5) + rng.normal(0, 1, rows))))
    return truth, baseline, model


# --- the interval ---------------------------------------------------------------------------------

def test_a_clearly_better_model_on_5000_rows_wins_with_an_interval_above_zero():
    truth, baseline, model = scored(5000)
    c = Comparison.measure("ROC AUC", roc_auc, truth, baseline, model)
    assert c.model == roc_auc(truth, model) and c.baseline == roc_auc(truth, baseline)
    assert c.interval.low > 0 and c.interval.low < c.gain < c.interval.high
    assert c.model_wins and c.outcome == "wins"
    assert (c.rows, c.positives, c.groups) == (5000, int(truth.sum()), None)
    verdict = Verdict([c], lang="en")
    assert verdict.model_wins and said(verdict.sentence()) == {"wins"}
    assert f"{c.interval.low:+.3f} to {c.interval.high:+.3f}" in verdict.sentence()
    assert "5,000 rows" in verdict.sentence()


def test_identical_scores_are_not_enough_to_tell_and_keep_the_baseline():
    truth, baseline, _ = scored(2000)
    c = Comparison.measure("ROC AUC", roc_auc, truth, baseline, baseline.copy())
    assert c.gain == 0 and c.interval.contains_zero()
    assert c.outcome == "unclear" and not c.model_wins
    for lang, words in (("en", "Not enough data to tell"), ("ja", "データが足りず判断できません")):
        verdict = Verdict([c], lang=lang)
        assert not verdict.model_wins and words in verdict.sentence() and said(verdict.sentence()) == {"unclear"}
        assert TEXT["unclear"][lang] in verdict.table().to_string()
        assert "❔" in verdict._repr_html_()


def test_a_small_gain_on_few_rows_is_not_enough_to_tell_but_the_same_gain_on_many_rows_wins():
    """The same model, measured on 60 rows and on 20,000 rows of the same kind."""
    few = Comparison.measure("ROC AUC", roc_auc, *scored(60, seed=3, signal=0.6))
    many = Comparison.measure("ROC AUC", roc_auc, *scored(20_000, seed=3, signal=0.6))
    assert many.outcome == "wins"
    assert few.outcome == "unclear", few
    assert few.interval.high - few.interval.low > 5 * (many.interval.high - many.interval.low)


def test_too_few_positives_for_an_interval_is_not_enough_to_tell():
    truth, baseline, model = scored(200, signal=5.0)
    truth[:] = False
    truth[0] = True                      # one positive: about 1 resample in 3 has none, so no ROC AUC
    c = Comparison.measure("ROC AUC", roc_auc, truth, baseline, model)
    assert not c.interval.known() and c.outcome == "unclear" and not c.model_wins
    assert "too few rows of each outcome" in Verdict([c], lang="en").sentence()


def test_a_clearly_worse_model_loses_as_before():
    truth, baseline, model = scored(5000)
    c = Comparison.measure("ROC AUC", roc_auc, truth, model, baseline)  # swapped: the model knows nothing
    assert c.interval.high < 0 and c.outcome == "loses"
    assert said(Verdict([c], lang="en").sentence()) == {"loses"}
    assert "does NOT beat the baseline" in Verdict([c], lang="en").sentence()


def test_lower_is_better_metrics_count_a_drop_as_a_gain():
    truth, baseline, model = scored(5000, signal=2.0)
    c = Comparison.measure("log loss", log_loss, truth, np.full(5000, truth.mean()), model, higher_is_better=False)
    assert c.gain == pytest.approx(c.baseline - c.model)
    assert c.gain > 0 and c.interval.low > 0 and c.model_wins


def test_the_interval_is_repeatable_with_the_same_seed():
    truth, baseline, model = scored(1000, signal=0.5)
    first = Comparison.measure("ROC AUC", roc_auc, truth, baseline, model)
    again = Comparison.measure("ROC AUC", roc_auc, truth, baseline, model)
    other = Comparison.measure("ROC AUC", roc_auc, truth, baseline, model, seed=bootstrap.SEED + 1)
    assert first.interval == again.interval
    assert other.interval != first.interval


def test_a_big_validation_set_gets_fewer_resamples_but_never_too_few(monkeypatch):
    truth, baseline, model = scored(5000)
    assert bootstrap.gain_interval(roc_auc, truth, baseline, model).resamples == bootstrap.RESAMPLES
    monkeypatch.setattr(bootstrap, "CELLS", 5000 * 300)
    assert bootstrap.gain_interval(roc_auc, truth, baseline, model).resamples == 300
    monkeypatch.setattr(bootstrap, "CELLS", 5000 * 10)
    assert bootstrap.gain_interval(roc_auc, truth, baseline, model).resamples == bootstrap.MIN_RESAMPLES


def test_the_interval_is_paired_so_a_shared_error_cancels():
    """A model equal to the baseline plus a small constant improvement: its rows move together with
    the baseline's, so the paired interval is much narrower than each metric's own spread."""
    truth, baseline, _ = scored(3000)
    model = baseline + 0.05 * truth      # better on every positive row, and only there
    c = Comparison.measure("ROC AUC", roc_auc, truth, baseline, model)
    alone = bootstrap.gain_interval(roc_auc, truth, np.full(3000, 0.5), baseline)  # baseline's own spread
    assert c.interval.low > 0
    assert c.interval.high - c.interval.low < (alone.high - alone.low) / 2


def test_resampling_whole_groups_widens_the_interval_when_rows_are_copies():
    """500 independent rows, each copied 10 times: row resampling believes it has 5,000 rows;
    resampling whole groups sees the 500 (about √10 times wider, and as wide as the 500 alone)."""
    truth, baseline, model = scored(500, signal=0.5)
    copies = np.repeat(np.arange(500), 10)
    rows = Comparison.measure("ROC AUC", roc_auc, truth[copies], baseline[copies], model[copies])
    grouped = Comparison.measure("ROC AUC", roc_auc, truth[copies], baseline[copies], model[copies],
                                 groups=pd.Series(copies, name="user_id"))
    alone = Comparison.measure("ROC AUC", roc_auc, truth, baseline, model)

    def width(c):
        return c.interval.high - c.interval.low

    assert grouped.gain == pytest.approx(rows.gain)
    assert width(grouped) > 2 * width(rows)
    assert 0.75 < width(grouped) / width(alone) < 1.33
    assert (grouped.rows, grouped.groups, grouped.unit) == (5000, 500, "user_id")
    assert "resampled by whole user_id, 500 of them" in Verdict([grouped], lang="en").sentence()


@pytest.mark.parametrize("metric", [roc_auc, pr_auc, log_loss], ids=lambda m: m.__name__)
def test_the_fast_resampled_metric_equals_the_metric_on_the_rows_drawn(metric):
    rng = np.random.default_rng(5)
    truth = rng.random(400) < 0.25
    scores = np.round(rng.random(400), 1)                # many ties
    counts = next(bootstrap.draws(400, groups=rng.integers(0, 50, 400), resamples=30))
    fast = bootstrap.VECTORISED[metric](truth, scores)(counts)
    plain = bootstrap._one_by_one(metric)(truth, scores)(counts)
    np.testing.assert_allclose(fast, plain, rtol=1e-12, atol=1e-12)


def test_any_metric_can_be_bootstrapped_one_resample_at_a_time():
    truth, baseline, model = scored(2000, signal=3.0)
    c = Comparison.measure("top-decile lift", top_decile_lift, truth, baseline, model)
    assert c.model == top_decile_lift(truth, model) and c.interval.low > 0 and c.model_wins


def test_per_customer_ranking_scores_average_to_the_ranking_scores():
    rng = np.random.default_rng(2)
    truth = pd.DataFrame({"user_id": rng.integers(0, 80, 300), "product_id": rng.integers(0, 40, 300)})
    ranked = pd.DataFrame({"user_id": np.repeat(np.arange(100), 10), "product_id": rng.integers(0, 40, 1000),
                           "rank": np.tile(np.arange(1, 11), 100)})
    each = ranking_scores_by_user(ranked, truth)
    assert set(each.index) == set(truth["user_id"])
    assert {name: each[name].mean() for name in each} == pytest.approx(ranking_scores(ranked, truth))
    c = Comparison.measure("ndcg@10", bootstrap.average, None, each["ndcg@10"], each["ndcg@10"] + 0.01)
    assert c.gain == pytest.approx(0.01) and c.positives is None and c.rows == len(each)


# --- the words ------------------------------------------------------------------------------------

def test_every_verdict_text_is_in_both_languages_with_the_same_fields_and_the_glossary_words():
    assert language.missing(TEXT) == []
    fields = {key: [{n for _, n, _, _ in string.Formatter().parse(t[lang]) if n} for lang in language.LANGUAGES]
              for key, t in TEXT.items()}
    assert all(ja == en for ja, en in fields.values()), fields
    for key in OUTCOMES.values():
        assert "ベースライン" in TEXT[key]["ja"] and "baseline" in TEXT[key]["en"]
    assert TEXT["where"]["ja"] == "検証データ"


def test_the_plain_comparison_keeps_the_old_wording_and_gives_the_sample_when_known():
    plain = Verdict([Comparison("ROC AUC", 0.574, 0.712)], lang="en").sentence()
    assert plain == "The ML model beats the baseline on ROC AUC: 0.712 against 0.574, +0.138 on the validation split."
    sized = Verdict([Comparison("ROC AUC", 0.574, 0.712, rows=335, positives=40)], lang="en").sentence()
    assert "on the validation split (335 rows, 40 with outcome yes)" in sized


def test_the_verdict_speaks_the_learners_language(monkeypatch):
    verdict = Verdict([Comparison.measure("ROC AUC", roc_auc, *scored(500))])
    monkeypatch.delenv(language.LANG_ENV, raising=False)
    assert "ベースラインに勝っています" in verdict.sentence() and "指標" in verdict.table().index.name
    monkeypatch.setenv(language.LANG_ENV, "en")
    assert "beats the baseline" in str(verdict) and "metric" == verdict.table().index.name


# --- a real small company -------------------------------------------------------------------------

USERS = 200


def few_users_copy(warehouse, folder, users: int = USERS):
    """A copy of the warehouse keeping only the first `users` users and their rows in every table."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / f"company-{users}.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    keep = f"(SELECT user_id FROM users ORDER BY user_id LIMIT {users})"
    with duckdb.connect(str(copy)) as con:
        tables = [t for (t,) in con.execute("SELECT DISTINCT table_name FROM information_schema.columns "
                                            "WHERE column_name = 'user_id' AND table_name <> 'users'").fetchall()]
        for table in tables:
            con.execute(f'DELETE FROM "{table}" WHERE user_id NOT IN {keep}')
        con.execute(f"DELETE FROM users WHERE user_id NOT IN {keep}")
        assert con.execute("SELECT count(*) FROM users").fetchone()[0] == users
    return copy


INTERVAL = {"ja": re.compile(r"信頼区間 ([+-]\d+\.\d+)〜([+-]\d+\.\d+)"),
            "en": re.compile(r"interval ([+-]\d+\.\d+) to ([+-]\d+\.\d+)")}


def test_on_a_200_user_company_the_push_starter_says_there_is_not_enough_data(tiny_company, tmp_path,
                                                                               monkeypatch):
    """Issue 20: on 200 users the validation gain looked like a win; its interval says otherwise.
    The starter runs in Japanese (no MATSURI_LANG), as learners first see it."""
    monkeypatch.delenv(language.LANG_ENV, raising=False)
    copy = few_users_copy(tiny_company.warehouse, tmp_path / "company")
    text = run_starter("push-open-rate", copy, tmp_path / "run").text()
    low, high = (float(x) for x in INTERVAL["ja"].search(text).groups())
    assert low <= 0 <= high, "on 200 users the interval of the ROC AUC gain includes zero"
    assert said(text) == {"unclear"}
    assert "データが足りず判断できません" in text and "ベースラインを提出するのが誠実な選択です" in text
    rows = int(re.search(r"([\d,]+) validation rows", text).group(1).replace(",", ""))
    assert f"検証データ（{rows:,} 行" in text, "the sentence gives the validation sample"
