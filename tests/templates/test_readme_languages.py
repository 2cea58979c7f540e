"""Does every template README, what teams read first, say everything in Japanese first and then
in English: both halves there, the Japanese without an untranslated sentence or an English word
the glossary has a Japanese word for, and the same code in both halves?"""

from __future__ import annotations

import re

import pytest

from grading.test_sql101_languages import english_left as untranslated
from matsuri.theme_spec import all_themes, template_dir
from test_glossary import english_left as glossary_words_left

from .test_template_languages import FENCED, INLINE, JAPANESE, code_spans, without_code

THEMES = list(all_themes())

LEVEL2 = re.compile(r"^## (.*?)[ \t]*$", re.M)
SECTION = re.compile(r"^### ", re.M)
TABLE_ROW = re.compile(r"^\|.*\|[ \t]*$", re.M)
CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")  # kana and kanji (not 、。（）)


def halves(text: str) -> dict[str, str]:
    """{heading: text} for each `## ` heading outside code blocks, in the README's order."""
    fences = [m.span() for m in FENCED.finditer(text)]
    headings = [m for m in LEVEL2.finditer(text) if not any(a <= m.start() < b for a, b in fences)]
    ends = [m.start() for m in headings[1:]] + [len(text)]
    return {m.group(1): text[m.end():end] for m, end in zip(headings, ends, strict=True)}


def readme(theme: str) -> dict[str, str]:
    return halves((template_dir(theme) / "README.md").read_text(encoding="utf-8"))


def code_touching_japanese(text: str) -> list[str]:
    """Inline code written against Japanese text with no space between them (`a`を, の`a`)."""
    prose = FENCED.sub("\n", text)
    found = []
    for m in INLINE.finditer(prose):
        before, after = prose[max(m.start() - 1, 0):m.start()], prose[m.end():m.end() + 1]
        if CJK.fullmatch(before) or CJK.fullmatch(after):
            found.append(before + m.group(0) + after)
    return found


@pytest.mark.parametrize("theme", THEMES)
def test_does_the_readme_come_as_a_japanese_half_then_an_english_half(theme):
    parts = readme(theme)
    assert list(parts) == ["日本語", "English"], f"{theme}/README.md: `## 日本語`, then `## English`, nothing else at that level"
    ja, en = parts["日本語"], parts["English"]
    assert len(SECTION.findall(ja)) == len(SECTION.findall(en)) > 3, "the same sections in both halves"
    assert len(TABLE_ROW.findall(ja)) == len(TABLE_ROW.findall(en)) > 0, "the same tables in both halves"


@pytest.mark.parametrize("theme", THEMES)
def test_is_the_japanese_half_japanese(theme):
    ja = readme(theme)["日本語"]
    for section in SECTION.split(ja)[1:]:
        assert JAPANESE.search(without_code(section)), section[:80]
    assert untranslated(ja) == []


@pytest.mark.parametrize("theme", THEMES)
def test_does_the_japanese_half_use_the_glossarys_words(theme):
    assert glossary_words_left(readme(theme)["日本語"]) == []


@pytest.mark.parametrize("theme", THEMES)
def test_do_both_halves_keep_the_same_code(theme):
    """Tables, columns, files and commands (`predictions.csv`, `matsuri hackathon submit`) are the
    same in both halves: none lost or renamed in translation."""
    parts = readme(theme)
    ja, en = code_spans(parts["日本語"]), code_spans(parts["English"])
    assert ja == en, f"only in Japanese: {sorted((ja - en).elements())}; only in English: {sorted((en - ja).elements())}"


@pytest.mark.parametrize("theme", THEMES)
def test_is_there_a_space_between_japanese_text_and_code(theme):
    assert code_touching_japanese(readme(theme)["日本語"]) == []


@pytest.mark.parametrize("theme", THEMES)
def test_do_both_halves_point_to_the_model_builder(theme):
    """The team folder's `builder.ipynb` makes a model without Python: said in both languages."""
    parts = readme(theme)
    assert "`builder.ipynb`" in parts["日本語"] and "Python" in parts["日本語"]
    assert "`builder.ipynb`" in parts["English"] and "without Python" in parts["English"]


def test_do_the_checks_see_a_missing_half_an_untranslated_sentence_and_code_against_japanese():
    two = "# t\n\n## 日本語\n### 問い\n本文です。\n\n```sql\n## not a heading\n```\n## English\n### Question\nText.\n"
    assert list(halves(two)) == ["日本語", "English"]
    assert "## not a heading" in halves(two)["日本語"]
    assert list(halves("# t\n## English\nText.\n")) == ["English"]
    assert untranslated("`starter.ipynb` を開きます。Then read the verdict.") == ["Then read the verdict"]
    assert untranslated("*Run All* で実行します（Run All of the notebook）。") == []
    assert glossary_words_left("この baseline を超えます。") == ["baseline → ベースライン"]
    assert code_touching_japanese("`rows`を読みます。") == ["`rows`を"]
    assert code_touching_japanese("表`rows` です。") == ["表`rows` "]
    assert code_touching_japanese("表 `rows` を読みます（`seed`）。`営業: …` の行") == []
