"""From lesson 6 on, does every question state the business question and leave the SQL to the
learner? Turning a question into SQL is the skill: a question that names the function or clause to
use (`rank()`, `date_trunc`, `INTERVAL`, `LEFT JOIN` …) answers half of itself. Hints may name them."""

from __future__ import annotations

import re

import nbformat
import pytest

from matsuri.grading import course as courses

COURSE = courses.load("sql-101")
FIRST_UNGUIDED = "06-cohort-retention"
CODE = re.compile(r"`([^`\n]*)`")
NAMES_SQL = re.compile(r"\b[a-z_]+\s*\(|\b(OVER|INTERVAL|JOIN|USING|WITH|CASE|FILTER|UNION|LIKE|BETWEEN|"
                       r"GROUP BY|ORDER BY|HAVING|DISTINCT|coalesce|median|round)\b")
UNGUIDED = [lesson for lesson in COURSE.lessons if lesson.id >= FIRST_UNGUIDED]


def questions(lesson):
    """(cell number, text) of the exercise questions of a lesson, in both languages."""
    for number, cell in enumerate(nbformat.read(lesson.notebook, as_version=4).cells):
        if cell.cell_type == "markdown" and re.match(r"## (Exercise|演習)", cell.source):
            yield number, cell.source


@pytest.mark.parametrize("lesson", UNGUIDED, ids=lambda x: x.id)
def test_does_no_question_name_the_sql_to_use(lesson):
    named = [(number, code) for number, text in questions(lesson)
             for code in CODE.findall(text) if NAMES_SQL.search(code)]
    assert named == [], f"{lesson.id}: say what to find, not which SQL finds it: {named}"


def test_does_the_check_see_a_named_function():
    assert NAMES_SQL.search("rank() OVER (ORDER BY x)") and NAMES_SQL.search("date_trunc('month', x)")
    assert not NAMES_SQL.search("n_opened / n_delivered") and not NAMES_SQL.search("cohort_month")
