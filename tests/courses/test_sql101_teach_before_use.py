"""Is every SQL construct a reference answer needs shown in a teaching cell before it?

A teaching cell is a runnable `%%sql` code cell marked `metadata.matsuri.teach = true`: not
graded, right after a Japanese and an English prose cell that explain it. Reading the course in
order, a reference answer may use only constructs (clauses, join kinds, `CASE`, windows,
`FILTER`, subqueries, typed literals, functions…) that some earlier teaching cell ran. Hints and
answers of earlier exercises do not count: a learner who skipped a hint has never seen them.
"""

from __future__ import annotations

import nbformat
import pytest
import sqlglot
from sqlglot import exp

from matsuri.checks.sqlcells import parse as parse_cell
from matsuri.grading import course as courses
from matsuri.grading.reference import nbgrader_meta, solution_region

COURSE = courses.load("sql-101")

CLAUSES = {
    exp.Where: "WHERE", exp.Group: "GROUP BY", exp.Having: "HAVING", exp.Order: "ORDER BY",
    exp.Limit: "LIMIT", exp.With: "WITH (CTE)", exp.Union: "UNION", exp.Case: "CASE WHEN",
    exp.Filter: "FILTER (WHERE …)", exp.Like: "LIKE", exp.ILike: "ILIKE", exp.Between: "BETWEEN",
    exp.Interval: "INTERVAL", exp.Is: "IS NULL", exp.Subquery: "subquery",
}


def constructs(sql: str) -> set[str]:
    """The constructs one query uses, as names a teacher would recognise."""
    found = set()
    for node in sqlglot.parse_one(sql, read="duckdb").walk():
        for kind, name in CLAUSES.items():
            if isinstance(node, kind):
                found.add(name)
        if isinstance(node, exp.Join):
            side = (node.side or node.kind or "").upper()
            found.add(f"{side} JOIN".strip() if side not in ("", "INNER") else "JOIN")
            if node.args.get("using"):
                found.add("JOIN … USING")
        elif isinstance(node, exp.Window):
            found.add("OVER (…)")
            if node.args.get("partition_by"):
                found.add("PARTITION BY")
            spec = node.args.get("spec")
            if spec is not None and spec.args.get("kind"):
                found.add(f"{spec.args['kind'].upper()} BETWEEN")
        elif isinstance(node, exp.Distinct):
            found.add("SELECT DISTINCT" if isinstance(node.parent, exp.Select) else "count(DISTINCT …)")
        elif isinstance(node, exp.In):
            found.add("IN (subquery)" if node.args.get("query") else "IN (…)")
        elif isinstance(node, exp.Cast):
            if isinstance(node.this, exp.Literal) and node.this.is_string:
                found.add(f"{node.to.sql(dialect='duckdb')} '…' literal")
            else:
                found.add("CAST")
        elif isinstance(node, exp.Connector):
            found.add(node.key.upper())  # AND, OR
        elif isinstance(node, exp.Anonymous):
            found.add(f"{node.name.lower()}()")
        elif isinstance(node, exp.Func) and not isinstance(node, (exp.Case, exp.Cast, exp.Filter)):
            found.add(f"{node.sql_name().lower()}()")
        elif isinstance(node, exp.Select) and isinstance(node.parent, (exp.From, exp.Join)):
            found.add("subquery")
    return found


def sql_of(cell) -> str:
    lines = cell.source.splitlines()
    return "\n".join(lines[1:]) if lines and lines[0].startswith("%%sql") else cell.source


def is_teaching(cell) -> bool:
    return cell.cell_type == "code" and bool(cell.metadata.get("matsuri", {}).get("teach"))


def lang(cell) -> str | None:
    return cell.get("metadata", {}).get("matsuri", {}).get("lang")


def walk_course():
    """(lesson, cell index, cell) in the order a learner reads the course."""
    for lesson in COURSE.lessons:
        nb = nbformat.read(lesson.notebook, as_version=4)
        for index, cell in enumerate(nb.cells):
            yield lesson, nb, index, cell


def untaught() -> list[str]:
    taught: set[str] = set()
    problems = []
    for lesson, _nb, _index, cell in walk_course():
        if is_teaching(cell):
            taught |= constructs(sql_of(cell))
        elif cell.cell_type == "code" and nbgrader_meta(cell).get("solution"):
            answer = parse_cell(cell.source)
            if answer is None or not answer.var:
                continue
            missing = constructs(solution_region(cell.source)) - taught
            problems += [f"{lesson.id}/{answer.var}: {name}" for name in sorted(missing)]
    return problems


def test_does_every_reference_answer_use_only_what_a_teaching_cell_showed_before():
    assert untaught() == []


@pytest.mark.parametrize("lesson", COURSE.lessons, ids=lambda x: x.id)
def test_is_every_teaching_cell_runnable_sql_explained_in_both_languages(lesson):
    nb = nbformat.read(lesson.notebook, as_version=4)
    teaching = [i for i, cell in enumerate(nb.cells) if is_teaching(cell)]
    assert teaching, f"{lesson.id} has no teaching cell"
    for i in teaching:
        cell = nb.cells[i]
        assert cell.source.startswith("%%sql\n"), f"{lesson.id} cell {i}: a teaching cell is a `%%sql` cell"
        assert not nbgrader_meta(cell), f"{lesson.id} cell {i}: a teaching cell is not graded"
        constructs(sql_of(cell))  # parses
        assert [lang(nb.cells[i - 2]), lang(nb.cells[i - 1])] == ["ja", "en"], (
            f"{lesson.id} cell {i}: put a Japanese and an English prose cell right before it")


def test_does_the_check_see_a_construct_used_before_it_is_taught():
    assert "LEFT JOIN" in constructs("SELECT * FROM a LEFT JOIN b ON a.x = b.x")
    assert "JOIN … USING" in constructs("SELECT * FROM a JOIN b USING (x)")
    assert {"CASE WHEN", "FILTER (WHERE …)", "count(DISTINCT …)"} <= constructs(
        "SELECT avg(CASE WHEN x THEN 1 ELSE 0 END), count(*) FILTER (WHERE y), count(DISTINCT z) FROM t")
    assert "ROWS BETWEEN" in constructs(
        "SELECT avg(x) OVER (ORDER BY d ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) FROM t")
    assert "DATE '…' literal" in constructs("SELECT * FROM t WHERE d < DATE '2026-01-01'")
    assert "subquery" in constructs("SELECT avg(n) FROM (SELECT count(*) AS n FROM t GROUP BY d)")
    assert {"coalesce()", "median()"} <= constructs("SELECT coalesce(median(x), 0) FROM t")
    assert "SELECT DISTINCT" in constructs("SELECT DISTINCT user_id FROM t")
