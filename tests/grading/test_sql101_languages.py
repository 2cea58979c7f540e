"""Is sql-101's prose written in Japanese and in English, cell by cell, with nothing lost in
translation? Reads the source notebooks only (releasing them is test_pipeline.py's part)."""

from __future__ import annotations

import re
import tomllib
from collections import Counter

import nbformat
import pytest

from conftest import ROOT

FOLDER = ROOT / "courses" / "sql-101"

FENCED = re.compile(r"^[ \t]*(`{3,}|~{3,}).*?^[ \t]*\1[ \t]*$", re.M | re.S)
INLINE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
URL = re.compile(r"<?https?://[^\s>)]+>?")
GLOSS = re.compile(r"\([^()]*\)|（[^（）]*）")
ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z'’-]*(?:[ \t\n]+[A-Za-z][A-Za-z'’-]*){3,}")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
KANA = re.compile(r"[\u3040-\u30ff]")


def lessons() -> list[str]:
    return tomllib.loads((FOLDER / "course.toml").read_text(encoding="utf-8"))["lessons"]


def notebook(lesson: str):
    return nbformat.read(FOLDER / "source" / lesson / f"{lesson}.ipynb", as_version=4)


def lang(cell) -> str | None:
    return cell.get("metadata", {}).get("matsuri", {}).get("lang")


def pairs(lesson: str) -> list[tuple]:
    prose = [c for c in notebook(lesson).cells if c.cell_type == "markdown"]
    return list(zip(prose[::2], prose[1::2], strict=True))


def code_spans(text: str) -> Counter:
    """Code blocks as written, and inline code with its white space collapsed (Markdown shows a
    line break inside inline code as a space)."""
    blocks = [m.group(0).strip() for m in FENCED.finditer(text)]
    inline = [" ".join(m.group(2).split()) for m in INLINE.finditer(FENCED.sub("", text))]
    return Counter(blocks + inline)


def words(text: str) -> str:
    """What a reader reads as words: the text without code, URLs or glosses in parentheses."""
    text = URL.sub(" ", INLINE.sub(" ", FENCED.sub(" ", text)))
    while (shorter := GLOSS.sub(" ", text)) != text:
        text = shorter
    return text


def english_left(text: str) -> list[str]:
    """Runs of four or more English words: a sentence nobody translated."""
    return ENGLISH_RUN.findall(words(text))


@pytest.mark.parametrize("lesson", lessons())
def test_does_every_prose_cell_come_as_a_japanese_then_english_pair(lesson):
    nb = notebook(lesson)
    prose = [c for c in nb.cells if c.cell_type == "markdown"]
    assert prose and [lang(c) for c in prose] == ["ja", "en"] * (len(prose) // 2)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and lang(cell) == "en":
            assert lang(nb.cells[i - 1]) == "ja", f"cell {i}: its Japanese must be right before it"
        assert "nbgrader" not in cell.metadata or cell.cell_type == "code", f"cell {i}"
    ids = [c.id for c in nb.cells]
    assert len(ids) == len(set(ids)), "cell ids are unique"


@pytest.mark.parametrize("lesson", lessons())
def test_is_the_japanese_japanese_and_the_english_english(lesson):
    for ja, en in pairs(lesson):
        assert JAPANESE.search(words(ja.source)), ja.source[:80]
        assert english_left(ja.source) == [], ja.source[:80]
        assert not KANA.search(en.source), en.source[:80]


@pytest.mark.parametrize("lesson", lessons())
def test_does_the_japanese_keep_every_code_span_of_the_english(lesson):
    """Table and column names, SQL and `q1_result` are the same in both: none lost or renamed."""
    for ja, en in pairs(lesson):
        assert code_spans(ja.source) == code_spans(en.source), en.source[:80]


def test_do_the_checks_see_an_untranslated_sentence_and_a_renamed_column():
    ja = "`orders` テーブルの行を数えます（`count(*)`、JOIN）。Count the rows of the table."
    assert english_left(ja) == ["Count the rows of the table"]
    assert english_left("結合（JOIN と LEFT JOIN の違い）を `SELECT a FROM b WHERE c` で確かめます。") == []
    assert code_spans("Count `orders` with `count(*)`.") == code_spans(ja)
    assert code_spans("Sum `total_yen`\nby `quantity *\nunit_price`.") == code_spans(
        "`quantity * unit_price` と `total_yen`")
    assert code_spans("`orders`、`count`") != code_spans(ja)
    assert code_spans("```sql\nSELECT 1\n```\n`x`") == Counter(["```sql\nSELECT 1\n```", "x"])
