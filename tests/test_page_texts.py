"""Do the judges' and organisers' pages (gallery index and rubric, funnel page, awards report,
their charts, the theme demos) have every text in both Japanese and English, with the same
fields, the glossary's words in Japanese, and every key the code asks for?"""

from __future__ import annotations

import re
import string
import warnings
from types import SimpleNamespace

import nbformat
import pytest

from conftest import ROOT
from matsuri import language
from matsuri.funnel import texts as funnel_texts
from matsuri.gallery import texts as gallery_texts
from matsuri.hackathon import charts as hackathon_charts
from matsuri.hackathon import report_texts
from matsuri.hackathon.settings import Criterion
from matsuri.templates import charts as template_charts
from matsuri.templates import demo_texts
from test_glossary import english_left

SRC = ROOT / "src" / "matsuri"
TABLES = {  # each table, and the files whose `say(…, "key", …)` calls read it
    "gallery": (gallery_texts.TEXT, [SRC / "gallery" / "apps.py"]),
    "awards report": (report_texts.TEXT, [SRC / "hackathon" / "report.py"]),
    "report charts": (hackathon_charts.TEXT, [SRC / "hackathon" / "charts.py"]),
    "funnel": (funnel_texts.TEXT, [SRC / "funnel" / "page.py", SRC / "funnel" / "export.py",
                                   SRC / "funnel" / "chart.py"]),
    "template charts": (template_charts.TEXT, [SRC / "templates" / "charts.py"]),
    "demos": (demo_texts.TEXT, sorted(ROOT.glob("templates/*/demo.ipynb"))),
}
KEY_USE = re.compile(r"""say\((?:TEXT,\s*)?["'](\w+)["']""")
JAPANESE = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]")
LANGUAGE_NAMES = {"English", "日本語"}  # the link to the other language is written in it


def _source(path) -> str:
    if path.suffix == ".ipynb":
        return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    return path.read_text(encoding="utf-8")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("name", TABLES)
def test_every_text_is_in_both_languages_with_the_same_fields(name):
    table, _ = TABLES[name]
    assert language.missing(table) == []
    for key, texts in table.items():
        assert set(texts) == set(language.LANGUAGES), key
        assert _fields(texts["ja"]) == _fields(texts["en"]), f"{name}.{key}: the fields differ"
        if texts["ja"] not in LANGUAGE_NAMES:
            assert JAPANESE.search(texts["ja"]), f"{name}.{key}.ja has no Japanese: {texts['ja']!r}"
            assert not JAPANESE.search(texts["en"]), f"{name}.{key}.en has Japanese: {texts['en']!r}"


@pytest.mark.parametrize("name", TABLES)
def test_japanese_texts_use_the_glossarys_words(name):
    table, _ = TABLES[name]
    problems = {key: english_left(texts["ja"]) for key, texts in table.items()}
    assert not {key: words for key, words in problems.items() if words}


@pytest.mark.parametrize("name", TABLES)
def test_every_key_the_code_asks_for_exists(name):
    table, files = TABLES[name]
    used = {key for path in files for key in KEY_USE.findall(_source(path))}
    assert used, f"no say(…) call found in {files}"
    assert used <= set(table), f"{name}: keys used but not in the table: {sorted(used - set(table))}"


def test_demos_ask_for_their_heading_and_every_weekday():
    for theme in ("push", "calls", "churn", "ordering"):
        assert {f"{theme}_heading", f"{theme}_intro"} <= set(demo_texts.TEXT)
    from matsuri.templates.push import WEEKDAYS

    assert {f"weekday_{day}" for day in WEEKDAYS} <= set(demo_texts.TEXT)


@pytest.mark.parametrize(("query", "env", "setting", "chosen"), [
    ("", None, "en", "en"),                    # the event's setting
    ("", "en", "ja", "en"),                    # MATSURI_LANG over the event
    ("judge=x&lang=ja", "en", "en", "ja"),     # one judge's ?lang= over both
    ("lang=fr", None, None, "ja"),             # nothing valid: Japanese
])
def test_a_page_language_comes_from_the_address_then_the_environment_then_the_event(
        monkeypatch, query, env, setting, chosen):
    monkeypatch.setenv("QUERY_STRING", query)
    if env:
        monkeypatch.setenv(language.LANG_ENV, env)
    else:
        monkeypatch.delenv(language.LANG_ENV, raising=False)
    assert language.page_language(setting) == chosen


@pytest.mark.parametrize("lang", language.LANGUAGES)
def test_charts_draw_every_character_with_the_font_in_use(lang):
    """matplotlib warns 'Glyph … missing from font' for a character its font lacks: none may."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    import pandas as pd

    entry = SimpleNamespace(display_name="チームＡ team", score=0.71, team="a")
    marks = SimpleNamespace(by_criterion={"impact": 4.0, "demo": 3.5})
    standing = SimpleNamespace(place=1, display_name="チームＡ team", metric_part=1.0, rubric_part=0.6, marks=marks)
    criteria = [Criterion("impact", "インパクト", 1.0, "", (("en", "Impact", ""),)),
                Criterion("demo", "デモ", 1.0, "")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hackathon_charts.leaderboard_chart({"push-open-rate": [entry], "churn": []},
                                           {"push-open-rate": "roc_auc", "churn": "roc_auc"}, lang=lang)
        hackathon_charts.judges_chart([standing], criteria, lang=lang)
        hackathon_charts.judges_chart([], criteria, lang=lang)
        hackathon_charts.final_chart([standing], 0.5, 0.5, lang=lang)
        fig, (left, right, third) = template_charts.figure(ncols=3)
        rates = pd.Series([0.1, np.nan, 0.2, 0.15], index=[8, 9, 10, 11])
        template_charts.send_hours(left, rates, 10, 0.12, lang=lang)
        template_charts.risk_spread(right, np.array([0.2, 0.7]), np.array([0.1, 0.2, 0.7]), lang=lang)
        template_charts.word_effects(third, pd.Series({"見積もり": 0.8, "他社": -0.6}), lang=lang)
        fig.canvas.draw()


def test_demos_show_the_theme_helpers_two_language_texts_in_one():
    """Reasons the theme helpers write in both languages (churn) or in English (ordering)?"""
    both = "利用が減少: 直近14日 3 回（以前は2週間で 5.0 回）/ activity fell: 3 events in 14 days; premium プラン / premium plan"
    assert demo_texts.one_language(both, "ja") == "利用が減少: 直近14日 3 回（以前は2週間で 5.0 回）、premium プラン"
    assert demo_texts.one_language(both, "en") == "activity fell: 3 events in 14 days; premium plan"
    assert demo_texts.one_language("届く通知 (pushes)", "ja") == "届く通知"
    assert demo_texts.one_language("届く通知 (pushes)", "en") == "pushes"
    bought = "you bought 豆乳 on 2026-05-01; 35% of its buyers ordered this next"
    assert demo_texts.reason(bought, "ja") == "2026-05-01 に「豆乳」を購入。その購入者の 35% が次にこれを注文しました"
    assert demo_texts.reason(bought, "en") == bought
    assert demo_texts.reason("best seller #2 (9% of shoppers bought it)", "ja") == "売れ筋 2 位（購入者の 9% が購入）"
    assert demo_texts.reason("something new", "ja") == "something new"  # unknown: shown as written
