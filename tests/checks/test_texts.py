"""Are learner texts complete in both languages, and is the runtime light to import?"""

from __future__ import annotations

import string
import subprocess
import sys

import pytest

from matsuri.checks import messages, sqlcells


@pytest.mark.parametrize("key", sorted(messages.CATALOG))
def test_does_every_message_exist_in_english_and_japanese_with_the_same_fields(key):
    entry = messages.CATALOG[key]
    assert set(entry) == set(messages.LANGUAGES)
    fields = {lang: {f for _, f, _, _ in string.Formatter().parse(text) if f} for lang, text in entry.items()}
    assert fields["en"] == fields["ja"]


def test_does_the_environment_choose_the_language(monkeypatch):
    monkeypatch.delenv(messages.LANG_ENV, raising=False)
    assert messages.language("ja") == "ja"
    assert messages.language(None) == "en"
    monkeypatch.setenv(messages.LANG_ENV, "ja_JP.UTF-8")
    assert messages.language("en") == "ja"
    monkeypatch.setenv(messages.LANG_ENV, "fr")
    assert messages.language("en") == "en"


def test_are_comments_removed_before_jupysql_sees_the_query():
    cell = sqlcells.parse("%%sql q1_result <<\n-- lead\nSELECT 1 AS a; -- end\n-- trailing\n")
    assert cell.var == "q1_result" and cell.body == "SELECT 1 AS a;"
    assert sqlcells.parse("%%sql\nSELECT '--not a comment' AS a").body == "SELECT '--not a comment' AS a"
    assert sqlcells.parse("print(1)") is None


def test_does_a_query_of_only_comments_become_an_empty_cell():
    lines = sqlcells.transform(["%%sql q2_result <<\n", "-- Write your query here\n"])
    assert lines == ["__matsuri__.empty_sql_cell('q2_result')\n"]
    assert sqlcells.transform(["x = 1\n"]) == ["x = 1\n"]


def test_is_the_database_message_unwrapped_from_jupysql_noise():
    inner = RuntimeError("Catalog Error: Table with name nope does not exist!")
    inner.__module__ = "duckdb"
    outer = ValueError("If using snippets… https://jupysql.ploomber.io\nOriginal error message from DB driver:\nCatalog…")
    outer.__cause__ = inner
    assert sqlcells.database_message(outer).startswith("Catalog")
    assert "ploomber" not in sqlcells.database_message(outer)


def test_is_the_runtime_cheap_to_import():
    code = ("import sys, matsuri.checks, matsuri.checks.key_file, matsuri.checks.messages;"
            "print(sorted(m for m in ('pandas', 'duckdb', 'sql', 'nbgrader') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
