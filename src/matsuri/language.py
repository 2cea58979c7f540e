"""The language of the judges' and organisers' pages (gallery, rubric, funnel, demos, awards
report): Japanese or English, one text table per module.

Which language a page uses, first match wins:
1. `?lang=ja` / `?lang=en` in the page's address (one judge's choice; Voila hands the query
   string to the page's kernel as QUERY_STRING),
2. MATSURI_LANG in the environment (the gallery sets it for every page and demo from the event;
   an organiser may set it before `matsuri gallery serve` to override the event for everyone),
3. the event's `[event] language` in event.toml (default "ja").

A module's texts are `TEXT = {"key": {"ja": "…", "en": "…"}}`; `say(TEXT, key, lang, **fields)`
picks one and fills its `{fields}`. tests/test_page_texts.py checks every table has both languages.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs

LANGUAGES = ("ja", "en")
DEFAULT = "ja"
LANG_ENV = "MATSURI_LANG"
QUERY_KEY = "lang"

Table = dict[str, dict[str, str]]


def _valid(value: str | None) -> str | None:
    value = (value or "").strip().lower()[:2]
    return value if value in LANGUAGES else None


def from_query(query_string: str | None = None) -> str | None:
    """The `lang` of a query string (default: the page's QUERY_STRING), or None."""
    query = os.environ.get("QUERY_STRING", "") if query_string is None else query_string
    return _valid(parse_qs(query).get(QUERY_KEY, [""])[0])


def from_environment() -> str | None:
    """MATSURI_LANG, when it names a language (a participant's own, set by their server)."""
    return _valid(os.environ.get(LANG_ENV))


def configured(setting: str | None = None) -> str:
    """MATSURI_LANG, else `setting` (the event's), else Japanese: the language with no page asked."""
    return from_environment() or _valid(setting) or DEFAULT


def page_language(setting: str | None = None) -> str:
    """The language of the page being rendered: the address, then MATSURI_LANG, then `setting`."""
    return from_query() or configured(setting)


def say(table: Table, key: str, lang: str, **fields: object) -> str:
    """One text of `table` in `lang`, its `{fields}` filled (no fields: returned as written)."""
    text = table[key][lang if lang in LANGUAGES else DEFAULT]
    return text.format(**fields) if fields else text


def missing(table: Table) -> list[str]:
    """`key.lang` for every text missing (or blank) in one of the languages."""
    return [f"{key}.{lang}" for key, texts in table.items() for lang in LANGUAGES
            if not str(texts.get(lang, "")).strip()]
