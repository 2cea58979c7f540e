"""Do the exports and the progress heatmap tell graded, not graded and not submitted apart?

A real nbgrader gradebook built with its API (no kernels, no grading run), submission folders,
and grading report rows as `matsuri course grade` makes them.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import warnings

import pytest
from nbgrader.api import Gradebook, MissingEntry

from matsuri.grading import export, progress
from matsuri.grading.autograde import Row
from matsuri.grading.course import Course, ExerciseSpec, Lesson
from matsuri.grading.export import GRADED, NOT_GRADED, NOT_SUBMITTED, lesson_status
from matsuri.grading.workspace import Workspace

L1, L2 = "01-first", "02-second"   # L2 lists no exercises: they come from the gradebook
INVALID = f"{L1}.ipynb is not valid JSON (line 1); it was not graded"
CRASHED = "the notebook's kernel crashed (out of memory?), so this notebook was not graded"
STAMP = "2030-01-02 03:04:05.000000 UTC"

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's own


def exercise(name: str) -> ExerciseSpec:
    return ExerciseSpec(name, {"en": name.upper()})


def grade_cell(grade_id: str) -> dict:
    return {"cell_type": "code", "source": "", "metadata": {"nbgrader": {"grade_id": grade_id}}}


SCORES = {
    ("aiko", L1): {"q1": 1, "q2": 1}, ("aiko", L2): {"total": 2, "avg": 0.5},
    ("ben", L1): {"q1": 1, "q2": 0},
    ("chie", L1): {"q1": 1, "q2": 1},   # an older grade: the latest attempt was skipped
    ("dan", L2): {"total": 2, "avg": 1},
}


@pytest.fixture(scope="session")
def gradebook(tmp_path_factory):
    """The gradebook file, made once: nbgrader runs `alembic` to create one (seconds)."""
    path = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    with Gradebook(f"sqlite:///{path}", "demo") as gb:
        for lesson, cells in ((L1, {"q1": 1, "q2": 1}), (L2, {"avg": 1, "total": 2})):
            gb.add_assignment(lesson)
            gb.add_notebook(lesson, lesson)
            for name, points in cells.items():
                gb.add_grade_cell(name, lesson, lesson, max_score=points, cell_type="code")
        for student in ("aiko", "ben", "chie", "dan", "eri"):   # eri: in the gradebook only
            gb.add_student(student)
    for (student, lesson), grades in SCORES.items():
        record(f"sqlite:///{path}", student, lesson, grades)
    return path


@pytest.fixture
def ws(tmp_path, gradebook):
    folder = tmp_path / "course"
    source = folder / "source" / L2 / f"{L2}.ipynb"
    source.parent.mkdir(parents=True)
    # notebook order: total before avg (the gradebook keeps no order; alphabetical would swap them)
    source.write_text(json.dumps({"cells": [grade_cell("setup"), grade_cell("total"),
                                            grade_cell("avg")]}))
    course = Course("demo", folder, "Demo course", "en", False, 10, [
        Lesson(L1, {"en": "First", "ja": "最初"}, folder / "source" / L1 / f"{L1}.ipynb",
               [exercise("q1"), exercise("q2")]),
        Lesson(L2, {"en": "Second"}, source, []),
    ])
    ws = Workspace(course, tmp_path / "work" / "demo", tmp_path / "exchange",
                   tmp_path / "warehouse.duckdb", 10)
    ws.root.mkdir(parents=True)
    shutil.copy(gradebook, ws.gradebook)
    for student, lesson in [*SCORES, ("chie", L2)]:   # ben and dan skip a lesson each
        submit(ws, student, lesson)
    return ws


def record(db_url: str, student: str, lesson: str, grades: dict[str, float]) -> None:
    with Gradebook(db_url, "demo") as gb:
        try:
            gb.find_submission(lesson, student)
        except MissingEntry:
            gb.add_submission(lesson, student)
        for name, score in grades.items():
            gb.find_grade(name, lesson, lesson, student).auto_score = score
        gb.db.commit()


def submit(ws: Workspace, student: str, lesson: str) -> None:
    folder = ws.step("submitted", student, lesson)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "timestamp.txt").write_text(STAMP + "\n")
    (folder / f"{lesson}.ipynb").write_text("{}")


def first_run() -> list[Row]:
    return [
        Row("aiko", L1, "graded", 2, 2), Row("ben", L1, "unchanged", 1, 2),
        Row("chie", L1, "skipped", notes=[INVALID, "check cell q1 was edited; restored for grading"]),
        Row("aiko", L2, "graded", 2.5, 3), Row("chie", L2, "failed", notes=[CRASHED]),
        Row("dan", L2, "graded", 3, 3),
    ]


def table(path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def column(path, name: str) -> dict[str, str]:
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    return {(r["student_id"], r["lesson"]) if "lesson" in r else r["student_id"]: r[name]
            for r in rows}


# --- the status of one learner's lesson -------------------------------------------------------
@pytest.mark.parametrize(("latest", "in_gradebook", "submitted", "expected"), [
    ({"status": "graded"}, True, True, (GRADED, "")),
    ({"status": "unchanged"}, True, True, (GRADED, "")),
    (None, True, True, (GRADED, "")),
    ({"status": "skipped", "reason": "no notebook"}, True, True, (NOT_GRADED, "no notebook")),
    ({"status": "failed", "reason": "", "notes": "it crashed"}, False, True,
     (NOT_GRADED, "it crashed")),
    ({"status": "graded"}, False, True,
     (NOT_GRADED, "graded, but the gradebook has no score for it: grade it again")),
    (None, True, False, (GRADED, "")),   # the gradebook keeps a score whose folder was removed
    (None, False, True, (NOT_GRADED, "submitted but not graded yet")),
    (None, False, False, (NOT_SUBMITTED, "")),
])
def test_is_each_state_told_apart(latest, in_gradebook, submitted, expected):
    assert lesson_status(latest, in_gradebook, submitted) == expected


# --- CSV exports ---------------------------------------------------------------------------------
def test_does_scores_csv_say_not_graded_and_not_submitted_instead_of_zero(ws):
    export.write_all(ws, first_run())
    assert table(ws.exports / "scores.csv") == [
        ["student_id", L1, L2, "total", "not_graded"],
        ["aiko", "2", "2.50", "4.50", ""],
        ["ben", "1", "not submitted", "1", ""],
        ["chie", "not graded", "not graded", "0", f"{L1};{L2}"],
        ["dan", "not submitted", "3", "3", ""],
        ["eri", "not submitted", "not submitted", "0", ""],
    ]


def test_does_gradebook_csv_give_every_exercise_a_status_and_why(ws):
    export.write_all(ws, first_run())
    rows = table(ws.exports / "gradebook.csv")
    assert rows[0] == ["student_id", "lesson", "exercise", "score", "max_score", "status", "note"]
    assert rows[1:11] == [
        ["aiko", L1, "q1", "1", "1", "graded", ""],
        ["aiko", L1, "q2", "1", "1", "graded", ""],
        ["aiko", L2, "total", "2", "2", "graded", ""],     # notebook order, not alphabetical
        ["aiko", L2, "avg", "0.50", "1", "graded", ""],
        ["ben", L1, "q1", "1", "1", "graded", ""],
        ["ben", L1, "q2", "0", "1", "graded", ""],
        ["ben", L2, "total", "", "2", "not submitted", ""],
        ["ben", L2, "avg", "", "1", "not submitted", ""],
        ["chie", L1, "q1", "", "1", "not graded", INVALID],   # its old score is stale
        ["chie", L1, "q2", "", "1", "not graded", INVALID],
    ]
    assert rows[11:13] == [["chie", L2, "total", "", "2", "not graded", CRASHED],
                           ["chie", L2, "avg", "", "1", "not graded", CRASHED]]
    assert len(rows) == 1 + 5 * 4   # every learner × exercise


def test_does_the_report_keep_what_a_limited_run_did_not_grade(ws):
    export.write_all(ws, first_run())
    report = ws.exports / "grading-report.csv"
    before = table(report)
    assert before[0] == ["student_id", "lesson", "status", "score", "max_score", "reason", "notes",
                         "submitted_at"]
    assert before[3] == ["chie", L1, "skipped", "", "", INVALID,
                         f"{INVALID}; check cell q1 was edited; restored for grading", STAMP]
    record(ws.db_url, "chie", L1, {"q1": 1, "q2": 0})           # `grade --learner chie --lesson 01-first`
    export.write_all(ws, [Row("chie", L1, "graded", 1, 2)])
    after = table(report)
    assert after[3] == ["chie", L1, "graded", "1", "2", "", "", STAMP]
    assert after[:3] + after[4:] == before[:3] + before[4:]
    assert column(ws.exports / "scores.csv", L1)["chie"] == "1"
    assert column(ws.exports / "scores.csv", "not_graded")["chie"] == L2   # kept from run one


def test_does_a_removed_submission_leave_the_report(ws):
    export.write_all(ws, first_run())
    shutil.rmtree(ws.step("submitted", "chie", L2))
    export.write_all(ws, [])
    statuses = column(ws.exports / "grading-report.csv", "status")
    assert ("chie", L2) not in statuses and statuses[("chie", L1)] == "skipped"
    assert len(statuses) == 5
    assert column(ws.exports / "scores.csv", L2)["chie"] == "not submitted"


def test_does_a_malformed_report_start_afresh(ws):
    ws.exports.mkdir(parents=True)
    (ws.exports / "grading-report.csv").write_bytes(b"\xff\xfe\x00 not, a\n report")
    export.write_all(ws, [Row("aiko", L1, "graded", 2, 2)])
    assert list(column(ws.exports / "grading-report.csv", "status")) == [("aiko", L1)]
    (ws.exports / "grading-report.csv").write_text("who,what\nben,nothing\n")
    export.write_all(ws, [])
    assert column(ws.exports / "grading-report.csv", "status") == {}


def test_does_exporting_twice_give_the_same_bytes(ws):
    names = ("gradebook.csv", "scores.csv", "grading-report.csv")
    export.write_all(ws, first_run())
    first = {name: (ws.exports / name).read_bytes() for name in names}
    export.write_all(ws, list(reversed(first_run())))
    assert {name: (ws.exports / name).read_bytes() for name in names} == first
    export.write_all(ws, [])   # a run that graded nothing changes nothing
    assert {name: (ws.exports / name).read_bytes() for name in names} == first


def test_are_exercises_of_a_lesson_without_a_list_in_natural_order_without_a_notebook(ws):
    lesson = Lesson("03-third", {"en": "Third"}, ws.course.folder / "missing.ipynb", [])
    assert export.exercise_names(ws, lesson, ["q10", "q2", "q1"]) == ["q1", "q2", "q10"]
    assert export.exercise_names(ws, ws.course.lesson(L1), ["q3"]) == ["q1", "q2", "q3"]


# --- progress ------------------------------------------------------------------------------------
def test_does_progress_show_four_states_and_count_them_apart(ws, tmp_path):
    export.write_all(ws, first_run())
    result = progress.write(ws, tmp_path / "out")
    states = result.states
    assert states[("aiko", L1, "q1")] == progress.SOLVED
    assert states[("ben", L1, "q2")] == progress.WRONG
    assert states[("chie", L1, "q1")] == NOT_GRADED
    assert states[("ben", L2, "avg")] == NOT_SUBMITTED
    assert result.notes == {("chie", L1): INVALID, ("chie", L2): CRASHED}
    first, second = result.lessons
    assert (first.title, first.learners, first.average, first.complete, first.not_graded,
            first.not_submitted) == ("最初", 2, 0.75, 1, 1, 2)
    assert (second.learners, round(second.average, 4), second.complete, second.not_graded,
            second.not_submitted) == (2, round((2.5 / 3 + 1) / 2, 4), 1, 1, 2)
    assert result.png.read_bytes().startswith(b"\x89PNG")


def test_does_the_html_mark_each_state_and_say_why(ws, tmp_path):
    export.write_all(ws, first_run())
    page = progress.write(ws, tmp_path / "out").html.read_text(encoding="utf-8")

    def cells(learner: str) -> list[tuple[str, str, str]]:
        row = re.search(rf"<tr><th>{learner}</th>(.*?)</tr>", page).group(1)
        return re.findall(r"<td class='([^']+)' title='([^']*)'>([^<]*)</td>", row)

    assert cells("ben") == [("st-solved", "正解 / solved", "✓"), ("st-wrong", "不正解 / wrong", "✗"),
                            ("st-not-submitted", "未提出 / not submitted", ""),
                            ("st-not-submitted", "未提出 / not submitted", "")]
    assert cells("chie")[0] == ("st-not-graded", INVALID, "!")
    assert cells("chie")[2] == ("st-not-graded", CRASHED.replace("'", "&#x27;"), "!")
    assert "<td>01-first</td><td>最初</td><td>2</td><td>75%</td><td>1</td><td>1</td><td>2</td>" in page
    assert ".st-not-graded{background:#ffb300}" in page and "未採点 / not graded" in page


def test_does_the_heatmap_colour_each_state_and_draw_japanese(ws):
    from matplotlib.colors import to_rgb
    from PIL import Image

    export.write_all(ws, first_run())
    result = progress.collect(ws)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = progress.heatmap_figure(ws, result)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=fig.dpi)
    assert not [w for w in caught if "missing from font" in str(w.message)]
    image = Image.open(buffer).convert("RGB")
    ax = fig.axes[0]
    column_of = {cell: j for j, cell in enumerate(result.exercises)}
    seen = []
    for learner, cell, state in [("aiko", (L1, "q1"), progress.SOLVED),
                                 ("ben", (L1, "q2"), progress.WRONG),
                                 ("chie", (L1, "q1"), NOT_GRADED),
                                 ("ben", (L2, "avg"), NOT_SUBMITTED)]:
        x, y = ax.transData.transform((column_of[cell], result.learners.index(learner)))
        pixel = image.getpixel((int(x), int(image.height - y)))
        expected = [round(c * 255) for c in to_rgb(progress.STATES[state][0])]
        assert all(abs(a - b) <= 2 for a, b in zip(pixel, expected, strict=True)), (state, pixel)
        seen.append(pixel)
    # four states, four colours that are told apart at a glance
    assert all(sum(abs(a - b) for a, b in zip(p, q, strict=True)) > 90
               for i, p in enumerate(seen) for q in seen[i + 1:]), seen
    assert len(fig.legends[0].get_texts()) == 4
