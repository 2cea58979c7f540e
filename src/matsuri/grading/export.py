"""Grading exports for spreadsheets: what each learner got in each lesson, or why not.

Every learner × lesson is in one of three states (`lesson_status`): graded (the gradebook's score
counts), not graded (submitted, but the latest grading attempt skipped it or failed, and its first
note says why; or it was never graded; an older score in the gradebook is then stale and not
shown) or not submitted. Learners are everyone with a submission folder or in the gradebook.

    exports/grading-report.csv   the latest grading attempt of every submission: a run limited to
                                 some lessons or learners replaces only their rows
    exports/scores.csv           per learner: each lesson's score or state, the total of graded
                                 lessons, and the lessons not graded
    exports/gradebook.csv        per learner × exercise: the score (graded lessons only), the
                                 lesson's state and why it is not graded

CSV, sorted, written atomically: exporting twice gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from matsuri.grading.course import Lesson
from matsuri.grading.workspace import Workspace

EXERCISES_FILE = "gradebook.csv"
SCORES_FILE = "scores.csv"
REPORT_FILE = "grading-report.csv"

GRADED, NOT_GRADED, NOT_SUBMITTED = "graded", "not graded", "not submitted"
COUNTED = ("graded", "unchanged")           # report statuses whose gradebook score stands
REPORT_STATUSES = (*COUNTED, "skipped", "failed")
REPORT_HEADER = ["student_id", "lesson", "status", "score", "max_score", "reason", "notes",
                 "submitted_at"]
EXERCISES_HEADER = ["student_id", "lesson", "exercise", "score", "max_score", "status", "note"]

Report = dict[tuple[str, str], dict[str, str]]   # (student, lesson) → report row (CSV strings)


def lesson_status(latest: dict[str, str] | None, in_gradebook: bool,
                  submitted: bool) -> tuple[str, str]:
    """(status, note) of one learner's lesson: GRADED, NOT_GRADED or NOT_SUBMITTED, and for
    NOT_GRADED why, in plain words.

    `latest`: the lesson's row in the grading report (None if grading never reported it);
    `in_gradebook`: the gradebook holds a graded submission; `submitted`: the submission folder
    exists. A skipped or failed latest attempt wins over an (older, stale) gradebook score."""
    if latest is not None and latest.get("status") not in COUNTED:
        return NOT_GRADED, (latest.get("reason") or latest.get("notes")
                            or f"{latest.get('status')} when last graded")
    if in_gradebook:
        return GRADED, ""
    if latest is not None:
        return NOT_GRADED, "graded, but the gradebook has no score for it: grade it again"
    if submitted:
        return NOT_GRADED, "submitted but not graded yet"
    return NOT_SUBMITTED, ""


# --- the grading report -------------------------------------------------------------------------
def latest_report(ws: Workspace, rows: Iterable = ()) -> Report:
    """The report on disk with this run's `rows` (autograde.Row) replacing the same learner ×
    lesson, without rows whose submission folder is gone."""
    report = read_report(ws)
    for row in rows:
        report[(row.student, row.lesson)] = _report_row(ws, row)
    return {key: r for key, r in report.items() if ws.step("submitted", *key).is_dir()}


def read_report(ws: Workspace) -> Report:
    """exports/grading-report.csv as written last; {} if missing or unreadable, and rows without a
    learner, lesson or known status are left out."""
    try:
        with (ws.exports / REPORT_FILE).open(encoding="utf-8", newline="") as f:
            found = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}
    report = {}
    for r in found:
        row = {k: r.get(k) if isinstance(r.get(k), str) else "" for k in REPORT_HEADER}
        if row["student_id"] and row["lesson"] and row["status"] in REPORT_STATUSES:
            report[(row["student_id"], row["lesson"])] = row
    return report


def _report_row(ws: Workspace, row) -> dict[str, str]:
    stamp = ws.step("submitted", row.student, row.lesson, "timestamp.txt")
    try:
        submitted_at = stamp.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        submitted_at = ""
    return {"student_id": row.student, "lesson": row.lesson, "status": row.status,
            "score": _number(row.score), "max_score": _number(row.max_score),
            "reason": row.notes[0] if row.notes and row.status not in COUNTED else "",
            "notes": "; ".join(row.notes), "submitted_at": submitted_at}


# --- learners × lessons -------------------------------------------------------------------------
@dataclass
class Result:
    """One learner's lesson: its status, why if not graded, each exercise's score if graded."""
    status: str
    note: str = ""
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        return sum(self.scores.values()) if self.status == GRADED else None


@dataclass
class Overview:
    learners: list[str]
    exercises: dict[str, dict[str, float | None]]  # lesson → exercise → max score, course order
    results: dict[tuple[str, str], Result]         # (learner, lesson) → Result, for every pair


def overview(ws: Workspace, report: Report | None = None) -> Overview:
    """Every learner × lesson of the course, from the gradebook, the submission folders and the
    grading report (`report`, default: `latest_report(ws)`)."""
    report = latest_report(ws) if report is None else report
    cells, graded, students = _gradebook_entries(ws)
    folder = ws.step("submitted")
    if folder.is_dir():
        students |= {p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")}
    exercises = {}
    for lesson in ws.course.lessons:
        known = cells.get(lesson.id, {})
        exercises[lesson.id] = {name: known.get(name) for name in exercise_names(ws, lesson, known)}
    results = {}
    for student in sorted(students):
        for lesson in ws.course.lessons:
            key = (student, lesson.id)
            status, note = lesson_status(report.get(key), key in graded,
                                         ws.step("submitted", *key).is_dir())
            results[key] = Result(status, note, graded.get(key, {}) if status == GRADED else {})
    return Overview(sorted(students), exercises, results)


def _gradebook_entries(ws: Workspace):
    """From the gradebook: lesson → {grade cell: max score}, (student, lesson) → {grade cell:
    score} of graded submissions, and every student."""
    cells: dict[str, dict[str, float]] = {}
    graded: dict[tuple[str, str], dict[str, float]] = {}
    if not ws.gradebook.exists():
        return cells, graded, set()
    lessons = {lesson.id for lesson in ws.course.lessons}
    with _gradebook(ws) as gb:
        students = {s.id for s in gb.students}
        for assignment in gb.assignments:
            if assignment.name not in lessons:
                continue
            cells[assignment.name] = {c.name: c.max_score for nb in assignment.notebooks
                                      for c in nb.grade_cells if c.max_score}
            for submission in assignment.submissions:
                graded[(submission.student.id, assignment.name)] = {
                    g.name: g.score for nb in submission.notebooks for g in nb.grades if g.max_score}
    return cells, graded, students


def exercise_names(ws: Workspace, lesson: Lesson, graded: Iterable[str] = ()) -> list[str]:
    """A lesson's exercises: those its exercises file lists, then the gradebook's other grade
    cells (all of them when the lesson lists none) in notebook order."""
    listed = [e.name for e in lesson.exercises]
    where = _notebook_positions(ws, lesson)
    extra = set(graded) - set(listed)
    return listed + sorted(extra, key=lambda name: (where.get(name, len(where)), _natural(name)))


def _notebook_positions(ws: Workspace, lesson: Lesson) -> dict[str, int]:
    """grade id → position in the released (else source) notebook; {} if neither is readable."""
    for path in (ws.released_notebook(lesson.id), Path(lesson.notebook)):
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            ids = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        return {gid: i for i, gid in enumerate(ids) if gid}
    return {}


def _natural(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def scores(ws: Workspace, lesson: str) -> dict[str, tuple[float, float]]:
    """student → (score, max score) of one lesson in the gradebook (stale or not)."""
    from nbgrader.api import MissingEntry

    with _gradebook(ws) as gb:
        try:
            submissions = gb.assignment_submissions(lesson)
        except MissingEntry:
            return {}
        return {s.student.id: (s.score, s.max_score) for s in submissions}


def _gradebook(ws: Workspace):
    from nbgrader.api import Gradebook

    return Gradebook(ws.db_url, ws.course.name)


# --- CSV ----------------------------------------------------------------------------------------
def write_all(ws: Workspace, report_rows: Iterable) -> dict[str, str]:
    """Write the three exports after a grading run whose report rows are `report_rows`
    (autograde.Row); returns export name → path."""
    report = latest_report(ws, report_rows)
    view = overview(ws, report)
    lessons = [lesson.id for lesson in ws.course.lessons]
    return {
        "gradebook": _write(ws.exports / EXERCISES_FILE, EXERCISES_HEADER, _exercise_rows(view)),
        "scores": _write(ws.exports / SCORES_FILE, ["student_id", *lessons, "total", "not_graded"],
                         _score_rows(view, lessons)),
        "report": _write(ws.exports / REPORT_FILE, REPORT_HEADER, _report_rows(report, lessons)),
    }


def _report_rows(report: Report, lessons: list[str]) -> list[list[str]]:
    """By lesson in course order (lessons no longer in the course last), then learner."""
    order = {lesson: i for i, lesson in enumerate(lessons)}
    keys = sorted(report, key=lambda k: (order.get(k[1], len(order)), k[1], k[0]))
    return [[report[key][column] for column in REPORT_HEADER] for key in keys]


def _exercise_rows(view: Overview) -> list[list[str]]:
    rows = []
    for student in view.learners:
        for lesson, exercises in view.exercises.items():
            result = view.results[(student, lesson)]
            for exercise, most in exercises.items():
                rows.append([student, lesson, exercise, _number(result.scores.get(exercise)),
                             _number(most), result.status, result.note])
    return rows


def _score_rows(view: Overview, lessons: list[str]) -> list[list[str]]:
    rows = []
    for student in view.learners:
        results = [view.results[(student, lesson)] for lesson in lessons]
        rows.append([
            student,
            *(_number(r.score) if r.status == GRADED else r.status for r in results),
            _number(sum(r.score for r in results if r.status == GRADED)),
            ";".join(lesson for lesson, r in zip(lessons, results, strict=True)
                     if r.status == NOT_GRADED),
        ])
    return rows


def _number(value) -> str:
    if value is None:
        return ""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.2f}"


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
