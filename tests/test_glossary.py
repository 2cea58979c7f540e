"""Does Japanese text use the glossary's words (courses/glossary.toml) rather than bare English
ones: lesson and starter prose, exercises, theme specs, check feedback and the model card?"""

from __future__ import annotations

import re
import tomllib

import nbformat
import pytest

from conftest import ROOT

GLOSSARY = tomllib.loads((ROOT / "courses" / "glossary.toml").read_text(encoding="utf-8"))["term"]
CODE = re.compile(r"```.*?```|`[^`\n]*`|https?://\S+", re.S)
GLOSS = re.compile(r"[（(][^）)\n]*[）)]")  # 開封率（open rate）: an English gloss is welcome


def english_left(text: str) -> list[str]:
    """Glossary words written in English in this Japanese text (code and glosses aside)."""
    plain = GLOSS.sub(" ", CODE.sub(" ", text)).lower()
    return [f"{word} → {term['ja']}" for term in GLOSSARY for word in term["en"]
            if re.search(rf"(?<![a-z_@.-]){re.escape(word)}(?![a-z_])", plain)]


def japanese_texts():
    """(where, text) for every Japanese text learners, teams and judges read."""
    for path in sorted([*ROOT.glob("courses/*/source/*/*.ipynb"), *ROOT.glob("templates/*/*.ipynb")]):
        for number, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "markdown" and cell.metadata.get("matsuri", {}).get("lang") == "ja":
                yield f"{path.relative_to(ROOT)} cell {number}", cell.source
    for path in sorted([*ROOT.glob("courses/*/exercises/*.toml"), *ROOT.glob("templates/*/theme.toml")]):
        yield from _ja_values(str(path.relative_to(ROOT)), tomllib.loads(path.read_text(encoding="utf-8")))
    from matsuri.checks.messages import CATALOG
    from matsuri.handoff.card import TEXT

    yield from (("check feedback " + key, entry["ja"]) for key, entry in CATALOG.items() if "ja" in entry)
    yield from _ja_values("model card", {"ja": TEXT["ja"]})


def _ja_values(where: str, value, inside: bool = False):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _ja_values(f"{where}.{key}", item, inside or key == "ja")
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield from _ja_values(f"{where}[{number}]", item, inside)
    elif inside and isinstance(value, str):
        yield where, value


def test_japanese_text_uses_the_glossarys_words():
    found = [(where, english_left(text)) for where, text in japanese_texts()]
    assert len(found) > 500  # the texts were found
    problems = [f"{where}: {', '.join(words)}" for where, words in found if words]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("text", "flagged"), [
    ("このモデルは baseline を上回ります。", ["baseline → ベースライン"]),
    ("ベースライン（baseline）を上回ります。", []),
    ("`baseline` 変数を使います。", []),
    ("open rate は 12 % です。", ["open rate → 開封率"]),
])
def test_the_check_flags_bare_english_only(text, flagged):
    assert english_left(text) == flagged
