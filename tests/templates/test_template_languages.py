"""Is every theme starter's prose written in Japanese and in English, cell by cell, with nothing
lost in translation? Reads the stored starters only (a team's copy keeps one language:
tests/hackathon/test_teams.py)."""

from __future__ import annotations

import re
from collections import Counter

import nbformat
import pytest

from matsuri.theme_spec import all_themes, template_dir
from test_glossary import english_left

THEMES = list(all_themes())

FENCED = re.compile(r"^[ \t]*(`{3,}|~{3,}).*?^[ \t]*\1[ \t]*$", re.M | re.S)
INLINE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
KANA = re.compile(r"[\u3040-\u30ff]")
EXAMPLE = re.compile(r"[(（]([^()（）\n]*)[)）]")  # (決めて → 決める): Japanese quoted as an example


def lang(cell) -> str | None:
    return cell.get("metadata", {}).get("matsuri", {}).get("lang")


def starter(theme: str):
    return nbformat.read(template_dir(theme) / "starter.ipynb", as_version=4)


def pairs(theme: str) -> list[tuple]:
    prose = [c for c in starter(theme).cells if c.cell_type == "markdown"]
    return list(zip(prose[::2], prose[1::2], strict=True))


def code_spans(text: str) -> Counter:
    """Code blocks as written, and inline code with its white space collapsed."""
    blocks = [m.group(0).strip() for m in FENCED.finditer(text)]
    inline = [" ".join(m.group(2).split()) for m in INLINE.finditer(FENCED.sub("", text))]
    return Counter(blocks + inline)


def without_code(text: str) -> str:
    return INLINE.sub(" ", FENCED.sub(" ", text))


def kana_left(en: str, ja: str) -> list[str]:
    """Kana in the English text, outside code and outside the Japanese examples in parentheses
    that the Japanese text quotes too (the sales calls are in Japanese: 決めて → 決める)."""
    quoted = {m.group(1) for m in EXAMPLE.finditer(without_code(ja))}
    text = EXAMPLE.sub(lambda m: " " if m.group(1) in quoted else m.group(0), without_code(en))
    return [line for line in text.splitlines() if KANA.search(line)]


@pytest.mark.parametrize("theme", THEMES)
def test_does_every_prose_cell_come_as_a_japanese_then_english_pair(theme):
    nb = starter(theme)
    prose = [c for c in nb.cells if c.cell_type == "markdown"]
    assert prose and [lang(c) for c in prose] == ["ja", "en"] * (len(prose) // 2)
    for i, cell in enumerate(nb.cells):
        if lang(cell) == "en":
            assert lang(nb.cells[i - 1]) == "ja", f"cell {i}: its Japanese must be right before it"
        assert lang(cell) is None or cell.cell_type == "markdown", f"cell {i}: code is in no language"
    ids = [c.id for c in nb.cells]
    assert len(ids) == len(set(ids)), "cell ids are unique"


@pytest.mark.parametrize("theme", THEMES)
def test_is_the_japanese_japanese_and_the_english_english(theme):
    for ja, en in pairs(theme):
        assert JAPANESE.search(without_code(ja.source)), ja.source[:80]
        assert english_left(ja.source) == [], ja.source[:80]
        assert kana_left(en.source, ja.source) == [], en.source[:80]


@pytest.mark.parametrize("theme", THEMES)
def test_does_the_japanese_keep_every_code_span_of_the_english(theme):
    """File names, columns and classes (`predictions.csv`, `validation_share`) are the same in both."""
    for ja, en in pairs(theme):
        assert code_spans(ja.source) == code_spans(en.source), en.source[:80]


@pytest.mark.parametrize("theme", THEMES)
def test_does_the_title_use_the_themes_japanese_title(theme):
    title = all_themes()[theme].title["ja"]
    assert pairs(theme)[0][0].source.startswith("# ") and title in pairs(theme)[0][0].source.split("\n")[0]


def test_do_the_checks_see_kana_left_in_english_and_a_lost_code_span():
    ja = "単語を辞書形で残します（決めて → 決める）。`words` 列です。"
    assert kana_left("keep the dictionary form (決めて → 決める) in `words`.", ja) == []
    assert kana_left("keep the dictionary form (決めた → 決める).", ja) != []
    assert kana_left("ウェアハウスは読み取り専用です。", ja) != []
    assert kana_left("the `顧客:` lines", ja) == []
    assert code_spans("the `words` column") == code_spans(ja)
    assert code_spans("the `word` column") != code_spans(ja)
