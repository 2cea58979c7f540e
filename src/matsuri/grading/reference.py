"""Reference answers live in the source notebooks, inside the solution region of each exercise's
SQL cell. This reads them back out (for check keys) and checks a lesson's notebook and exercises
file agree with each other."""

from __future__ import annotations

import nbformat

from matsuri.errors import UsageError
from matsuri.grading.course import Lesson

BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"
SETUP_CELL = "setup"


def solution_region(source: str) -> str:
    lines = source.split("\n")
    inside, kept = False, []
    for line in lines:
        if BEGIN in line:
            inside = True
        elif END in line:
            inside = False
        elif inside:
            kept.append(line)
    return "\n".join(kept).strip()


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def reference_queries(lesson: Lesson) -> dict[str, str]:
    """{answer variable: reference SQL} from the lesson's source notebook."""
    from matsuri.checks.sqlcells import parse

    nb = nbformat.read(lesson.notebook, as_version=4)
    found = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or not nbgrader_meta(cell).get("solution"):
            continue
        sql_cell = parse(cell.source)
        if sql_cell is None or not sql_cell.var:
            continue
        region = solution_region(cell.source)
        if region:
            found[sql_cell.var] = region
    return found


def python_answers(nb) -> set[str]:
    """Variables `name = …` assigned inside the solution regions of a notebook's code cells."""
    import re

    found = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and nbgrader_meta(cell).get("solution"):
            found |= set(re.findall(r"^(\w+)\s*=", solution_region(cell.source), re.M))
    return found


def lint(lesson: Lesson) -> list[str]:
    """Problems that would make a lesson ungradable; empty when the lesson is consistent."""
    nb = nbformat.read(lesson.notebook, as_version=4)
    problems = []
    queries = reference_queries(lesson)
    grade_ids = {nbgrader_meta(c).get("grade_id"): c for c in nb.cells if nbgrader_meta(c)}
    setup = grade_ids.get(SETUP_CELL)
    if setup is None or not nbgrader_meta(setup).get("locked"):
        problems.append(f"{lesson.id}: the first code cell must be a locked cell with id '{SETUP_CELL}'.")
    elif f'"{lesson.id}"' not in setup.source:
        problems.append(f"{lesson.id}: the setup cell must call start(…, \"{lesson.id}\").")
    assigned = python_answers(nb)
    for spec in lesson.exercises:
        if spec.kind == "python" and spec.answer not in assigned:
            problems.append(f"{lesson.id}/{spec.name}: no solution cell assigning `{spec.answer} = …`.")
        if spec.kind == "sql" and spec.answer not in queries:
            problems.append(f"{lesson.id}/{spec.name}: no SQL cell `%%sql {spec.answer} <<` with a solution region.")
        test = grade_ids.get(spec.name)
        if test is None or not nbgrader_meta(test).get("grade"):
            problems.append(f"{lesson.id}/{spec.name}: no graded test cell with id '{spec.name}'.")
        elif f"{spec.name}.check()" not in test.source:
            problems.append(f"{lesson.id}/{spec.name}: its test cell must call {spec.name}.check().")
    declared = {spec.answer for spec in lesson.exercises}
    for var in sorted(set(queries) - declared):
        problems.append(f"{lesson.id}: SQL cell `{var}` has no exercise in exercises/{lesson.id}.toml.")
    return problems


def require_consistent(lessons: list[Lesson]) -> None:
    problems = [p for lesson in lessons for p in lint(lesson)]
    if problems:
        raise UsageError("The course content is inconsistent:\n  " + "\n  ".join(problems))
