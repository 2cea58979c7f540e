"""Gradebook exports: one row per learner × exercise, one row per learner with lesson totals, and
the report of the last grading run. CSV, sorted, written atomically, so grading twice gives the
same files."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from matsuri.grading.workspace import Workspace

EXERCISES_FILE = "gradebook.csv"
SCORES_FILE = "scores.csv"
REPORT_FILE = "grading-report.csv"


def _number(value) -> str:
    if value is None:
        return ""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.2f}"


def _gradebook(ws: Workspace):
    from nbgrader.api import Gradebook

    return Gradebook(ws.db_url, ws.course.name)


def scores(ws: Workspace, lesson: str) -> dict[str, tuple[float, float]]:
    """student → (score, max score) of one lesson in the gradebook."""
    from nbgrader.api import MissingEntry

    with _gradebook(ws) as gb:
        try:
            submissions = gb.assignment_submissions(lesson)
        except MissingEntry:
            return {}
        return {s.student.id: (s.score, s.max_score) for s in submissions}


def exercise_grades(ws: Workspace) -> list[tuple[str, str, str, float, float]]:
    """(student, lesson, exercise, score, max score) for every graded exercise, in course order."""
    order = {lesson.id: i for i, lesson in enumerate(ws.course.lessons)}
    rows = []
    with _gradebook(ws) as gb:
        for assignment in gb.assignments:
            if assignment.name not in order:
                continue
            for submission in assignment.submissions:
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        if grade.max_score:
                            rows.append((submission.student.id, assignment.name, grade.name,
                                         grade.score, grade.max_score))
    rows.sort(key=lambda r: (r[0], order[r[1]], exercise_order_of(ws, r[1]).get(r[2], 999), r[2]))
    return rows


def exercise_order_of(ws: Workspace, lesson: str) -> dict[str, int]:
    return {e.name: i for i, e in enumerate(ws.course.lesson(lesson).exercises)}


def _write(path: Path, header: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    tmp.replace(path)
    return str(path)


def write_all(ws: Workspace, report_rows) -> dict[str, str]:
    grades = exercise_grades(ws)
    written = {
        "gradebook": _write(ws.exports / EXERCISES_FILE,
                            ["student_id", "lesson", "exercise", "score", "max_score"],
                            [[s, lesson, e, _number(sc), _number(mx)] for s, lesson, e, sc, mx in grades]),
    }
    lessons = [lesson.id for lesson in ws.course.lessons]
    totals: dict[str, dict[str, float]] = {}
    for student, lesson, _, score, _ in grades:
        totals.setdefault(student, {}).setdefault(lesson, 0.0)
        totals[student][lesson] += score or 0.0
    written["scores"] = _write(
        ws.exports / SCORES_FILE, ["student_id", *lessons, "total"],
        [[s, *(_number(t.get(x)) for x in lessons), _number(sum(t.values()))]
         for s, t in sorted(totals.items())],
    )
    written["report"] = _write(
        ws.exports / REPORT_FILE,
        ["student_id", "lesson", "status", "score", "max_score", "notes"],
        [[r.student, r.lesson, r.status, _number(r.score), _number(r.max_score), "; ".join(r.notes)]
         for r in sorted(report_rows, key=lambda r: (lessons.index(r.lesson), r.student))],
    )
    return written
