"""Are the database's common error messages said in plain words, in both languages, with the
original kept below?

Each case runs a real mistake on the tiny warehouse, so a DuckDB upgrade that rewords a message
makes the matching test fail here instead of silently showing learners the raw English.
"""

from __future__ import annotations

import re

import pytest

from matsuri.checks import sql_errors
from matsuri.checks.outcomes import SqlProblem
from matsuri.checks.sqlcells import database_message
from matsuri.warehouse.query import connect

# mistake → (catalog entry, words each language must say, taken from the query)
MISTAKES = {
    "SELECT usr_id FROM users": ("column_not_found", ["usr_id", "user_id"]),
    "SELECT * FROM users WHERE plan = premium": ("column_not_found", ["premium", "'premium'"]),
    "SELECT u.nme FROM users u": ("column_not_in_table", ["nme", "name"]),
    "SELECT * FROM user": ("table_not_found", ["user", "users", "SHOW TABLES"]),
    "SELECT foo(1)": ("function_not_found", ["foo"]),
    "SELECT * FROM nosuch_table": ("table_not_found", ["nosuch_table"]),
    "SELECT * FROM users WHERE": ("syntax_error", ["WHERE"]),
    "SELECT * FROM users WHERE plan = 'premium": ("unterminated_text", ["'"]),
    "SELCT user_id FROM users": ("syntax_error", ["SELCT"]),
    "SELECT plan count(*) FROM users": ("syntax_error", ["("]),
    "SELECT plan, count(*) FROM users": ("group_by_missing", ["plan", "GROUP BY"]),
    "SELECT user_id FROM users u JOIN orders o ON o.user_id = u.user_id": ("ambiguous_column", ["user_id", "u.user_id"]),
    "SELECT * FROM users WHERE user_id = 'x'": ("conversion", ["'x'"]),
    "SELECT * FROM users WHERE signup_at > 'March'": ("conversion", ["'March'", "'2026-03-01'"]),
    "SELECT sum(name) FROM users": ("type_mismatch", ["sum(VARCHAR)", "CAST"]),
    "SELECT 1 + 'a'": ("type_mismatch", ["CAST"]),
}


def database_says(warehouse, sql: str) -> str:
    with connect(warehouse) as con:
        try:
            con.execute(sql).fetchall()
        except Exception as error:  # the database's error, whatever its class
            return database_message(error)
    raise AssertionError(f"{sql!r} ran without an error")


@pytest.mark.parametrize("sql", MISTAKES)
def test_is_a_common_mistake_said_in_plain_words_in_both_languages(sql, tiny_company):
    entry, words = MISTAKES[sql]
    detail = database_says(tiny_company.warehouse, sql)
    found = sql_errors.match(detail)
    assert found is not None and found[0].name == entry, (detail, found)
    for lang in ("en", "ja"):
        text = sql_errors.explain(detail, lang)
        for word in words:
            assert word in text, (lang, word, text)
        assert "Error" not in text and "{" not in text and "pg_" not in text, text
        assert text.count("`") % 2 == 0, text
    assert re.search(r"[ぁ-んァ-ン]", sql_errors.explain(detail, "ja"))


def test_does_the_check_show_the_explanation_with_the_original_below_smaller(tiny_company):
    detail = database_says(tiny_company.warehouse, "SELECT usr_id FROM users")
    for lang in ("en", "ja"):
        problem = SqlProblem("sql_error", lang, detail=detail)
        shown = problem.feedback()
        assert shown.lines[0] == sql_errors.explain(detail, lang)
        assert detail in shown.small and detail not in shown.lines[0]
        page = shown._repr_html_()
        assert "matsuri-original" in page and "font-size:80%" in page
        assert page.index("usr_id") < page.index("matsuri-original")
        assert detail.splitlines()[0] in shown.text() and "\x1b[2m" in shown.ansi()[0]


def test_is_an_unknown_message_shown_as_the_database_wrote_it():
    problem = SqlProblem("sql_error", "en", detail="Something new went wrong")
    shown = problem.feedback()
    assert "The database says:\nSomething new went wrong" in shown.lines[0]
    assert shown.small is None and sql_errors.explain("Something new went wrong") is None


def test_is_every_catalog_entry_written_in_both_languages_with_the_same_fields():
    for gloss in sql_errors.CATALOG:
        fields = {lang: set(re.findall(r"\{(\w+)\}", text)) for lang, text in gloss.text.items()}
        assert set(fields) == {"en", "ja"} and fields["en"] == fields["ja"], gloss.name
    assert {g.name for g in sql_errors.CATALOG} >= {e for e, _ in MISTAKES.values()}
