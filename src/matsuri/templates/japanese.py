"""Japanese words from free text, with a morphological analyser that ships its own dictionary.

fugashi (MeCab) with unidic-lite runs fully offline. We keep the words that carry meaning (nouns,
adjectival nouns, adjectives, verbs, adverbs) in their dictionary form, so 決めて and 決めました
count as one word (決める).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

CONTENT = {"名詞", "形状詞", "形容詞", "動詞", "副詞"}
SKIP_POS2 = {"数詞", "非自立可能"}  # numbers, and helpers such as いる/なる/しまう
SPEAKER = re.compile(r"[ \t]*[^\s:、。]{1,12}:[ \t]*")  # "営業: " at the start of a line (after NFKC)
LINE = re.compile(r"[^\n]+")


@cache
def tagger():
    """The analyser (loaded once per process, on first use; about 0.1 s)."""
    import fugashi

    return fugashi.Tagger()


@dataclass(frozen=True)
class Token:
    surface: str  # as written in the text
    word: str     # dictionary form, or "" when the token is not a content word
    start: int    # offset in the normalised text


def normalise(text: str) -> str:
    """NFKC: full-width letters, digits and colons become plain ones (Ｗｅｂ → Web)."""
    return unicodedata.normalize("NFKC", str(text or ""))


def tokens(text: str) -> list[Token]:
    """Every token of the normalised text, line by line, with its position (for highlighting).

    A speaker label at the start of a line ("営業: ", "顧客: ") is not part of what was said.
    """
    text = normalise(text)
    out = []
    for line in LINE.finditer(text):
        label = SPEAKER.match(line.group())
        begin = line.start() + (label.end() if label else 0)
        body, pos = text[begin:line.end()], 0
        for node in tagger()(body):
            start = body.find(node.surface, pos)
            start = start if start >= 0 else pos
            pos = start + len(node.surface)
            feature = node.feature
            keep = feature.pos1 in CONTENT and feature.pos2 not in SKIP_POS2
            out.append(Token(node.surface, (feature.orthBase or node.surface) if keep else "", begin + start))
    return out


def words(text: str) -> list[str]:
    """The content words of a text, in order (the tokenizer the text models use)."""
    return [t.word for t in tokens(text) if t.word]
