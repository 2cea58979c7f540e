"""Do the grading steps handle odd input on their own (no nbgrader run needed)?"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_output
from nbgrader.utils import compute_checksum
from traitlets.config import Config

from matsuri.errors import NotFound, UsageError
from matsuri.grading import course as courses
from matsuri.grading.collect import collect
from matsuri.grading.language_fetch import OUTBOUND_BY_LANGUAGE
from matsuri.grading.preprocessors import ClearSqlSolutions, HideTestTracebacks, RestoreLockedCells
from matsuri.grading.reference import lint
from matsuri.grading.release import hand_out, publish, refuse_leaks
from matsuri.grading.screen import Released, screen
from matsuri.grading.worker import explain
from matsuri.grading.workspace import GradingError, Workspace
from support.grading_kit import answered

L1 = "01-reading-a-table"


@pytest.fixture
def ws(tmp_path):
    return Workspace.open(courses.load("sql-101"), workdir=tmp_path / "work")


def source_notebook():
    return nbformat.read(courses.load("sql-101").lesson(L1).notebook, as_version=4)


def write(path: Path, nb=None, text=None, mtime=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if nb is not None:
        nbformat.write(nb, path)
    else:
        path.write_text(text)
    if mtime:
        os.utime(path, (mtime, mtime))
    return path


# --- collect -------------------------------------------------------------------------------
def test_does_collect_accept_both_layouts_and_refuse_odd_ids(ws, tmp_path):
    inbox = tmp_path / "inbox"
    write(inbox / "aiko" / L1 / f"{L1}.ipynb", source_notebook())
    write(inbox / "ben" / f"{L1}.ipynb", source_notebook())
    write(inbox / "chie" / "notes.txt", text="nothing to grade")
    write(inbox / "d*e" / f"{L1}.ipynb", text="{}")
    result = collect(ws, L1, inbox)
    assert result.collected[L1] == ["aiko", "ben"]
    assert any("chie: no submission" in s for s in result.skipped)
    assert any("cannot be a learner id" in s for s in result.skipped)
    for student in ("aiko", "ben"):
        folder = ws.step("submitted", student, L1)
        assert (folder / f"{L1}.ipynb").is_file() and (folder / "timestamp.txt").is_file()


def test_does_a_newer_submission_replace_an_older_one_but_not_the_reverse(ws, tmp_path):
    inbox = tmp_path / "inbox"
    notebook = write(inbox / "aiko" / f"{L1}.ipynb", text='{"v": 1}', mtime=1_700_000_000)
    assert collect(ws, L1, inbox).collected[L1] == ["aiko"]
    write(notebook, text='{"v": 2}', mtime=1_800_000_000)
    assert collect(ws, L1, inbox).collected[L1] == ["aiko"]
    write(notebook, text='{"v": 0}', mtime=1_600_000_000)
    assert collect(ws, L1, inbox).collected[L1] == []
    assert ws.submitted_notebook("aiko", L1).read_text() == '{"v": 2}'


def test_is_a_missing_submissions_folder_named(ws, tmp_path):
    with pytest.raises(NotFound, match="does not exist"):
        collect(ws, L1, tmp_path / "nowhere")


# --- publishing -----------------------------------------------------------------------------
def test_does_publishing_put_each_language_copy_beside_the_lesson_and_drop_stale_ones(ws, tmp_path):
    """nbgrader's release to the exchange, and the copies the hub's fetch class reads, as readable
    as nbgrader made the lesson; a later release without a language removes its old copy."""
    ws.prepare()
    write(ws.step("release", L1, f"{L1}.ipynb"), text="course language")
    english = write(tmp_path / "en" / L1 / f"{L1}.ipynb", text="English").parent
    publish(ws.api(), L1, {"en": english})
    outbound = ws.exchange / "sql-101" / "outbound" / L1
    copy = ws.exchange / "sql-101" / OUTBOUND_BY_LANGUAGE / "en" / L1
    assert (outbound / f"{L1}.ipynb").read_text() == "course language"
    assert (copy / f"{L1}.ipynb").read_text() == "English"
    assert copy.stat().st_mode & 0o777 == outbound.stat().st_mode & 0o777
    assert (copy / f"{L1}.ipynb").stat().st_mode & 0o777 == (outbound / f"{L1}.ipynb").stat().st_mode & 0o777
    publish(ws.api(), L1, {})
    assert (outbound / f"{L1}.ipynb").is_file() and not copy.exists()


# --- screening ------------------------------------------------------------------------------
@pytest.fixture
def released():
    nb = source_notebook()
    return Released(L1, {c.metadata["nbgrader"]["grade_id"]: compute_checksum(c) for c in nb.cells
                         if c.metadata.get("nbgrader", {}).get("locked")},
                    {c.metadata["nbgrader"]["grade_id"]: c.cell_type for c in nb.cells
                     if c.metadata.get("nbgrader", {}).get("grade_id")})


def test_does_screening_spot_unreadable_and_missing_notebooks(tmp_path, released):
    assert "no x.ipynb" in screen("a", tmp_path / "x.ipynb", released).problem
    broken = write(tmp_path / "b.ipynb", text="{ nope")
    assert "not a readable notebook" in screen("b", broken, released).problem
    not_nb = write(tmp_path / "c.ipynb", text='{"hello": "world"}')
    assert "not a readable notebook" in screen("c", not_nb, released).problem


def test_does_screening_report_deleted_and_edited_cells(tmp_path, released):
    nb = answered(source_notebook(), {}, drop=("setup", "q3"), edit={"q1": "pass"})
    result = screen("d", write(tmp_path / "d.ipynb", nb), released)
    assert result.problem == ""
    assert result.notes == ["setup cell was deleted; restored for grading",
                            "check cell q1 was edited; restored for grading",
                            "check cell q3 was deleted; restored for grading"]
    clean = screen("e", write(tmp_path / "e.ipynb", source_notebook()), released)
    assert clean.notes == []


def test_does_screening_refuse_another_lesson_in_plain_words(tmp_path, released):
    other = source_notebook()
    other.metadata["matsuri"] = {"course": "sql-101", "lesson": "02-aggregates"}
    result = screen("f", write(tmp_path / "f.ipynb", other), released)
    assert result.problem.startswith("this notebook is lesson 02-aggregates, handed in as " + L1)
    setup_only = source_notebook()  # no metadata: the setup cell's start(...) says which lesson
    setup = next(c for c in setup_only.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    setup.source = setup.source.replace(L1, "03-joins")
    assert "lesson 03-joins" in screen("g", write(tmp_path / "g.ipynb", setup_only), released).problem


# --- nbgrader steps -----------------------------------------------------------------------
def test_does_a_sql_solution_get_a_sql_stub():
    config = Config()
    config.ClearSolutions.code_stub = {"python": "raise NotImplementedError()", "sql": "-- your query"}
    step = ClearSqlSolutions(config=config)
    meta = {"nbgrader": {"solution": True, "grade": False, "grade_id": "q1-sql", "locked": False}}
    sql = new_code_cell("%%sql q1_result <<\n-- BEGIN SOLUTION\nSELECT 1\n-- END SOLUTION", metadata=meta)
    python = new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", metadata=meta)
    resources = {"language": "python"}
    assert step.preprocess_cell(sql, resources, 0)[0].source == "%%sql q1_result <<\n-- your query"
    assert step.preprocess_cell(python, resources, 1)[0].source == "raise NotImplementedError()"
    assert resources["language"] == "python"


def test_does_feedback_keep_our_message_but_hide_other_tracebacks():
    meta = {"nbgrader": {"grade": True, "grade_id": "q1", "locked": True, "points": 1}}
    ours = new_output("error", ename="Incorrect", evalue="Not yet", traceback=["✗ Not yet"])
    other = new_output("error", ename="NameError", evalue="name 'q1' is not defined",
                       traceback=["Traceback (most recent call last)", "q1.verify()"])
    cell = new_code_cell("q1.check()", metadata=meta, outputs=[ours, other])
    out, _ = HideTestTracebacks().preprocess_cell(cell, {}, 0)
    assert out.outputs[0].traceback == ["✗ Not yet"]
    assert out.outputs[1].traceback == ["The check of this answer stopped with an error (NameError)."]
    assert out.outputs[1].evalue == ""


def test_is_a_deleted_locked_cell_put_back_in_its_place():
    order = ["setup", "q1-sql", "q1", "q2-sql", "q2"]
    nb = nbformat.v4.new_notebook(cells=[
        new_code_cell("a", metadata={"nbgrader": {"grade_id": "q1-sql"}}),
        new_code_cell("b", metadata={"nbgrader": {"grade_id": "q2-sql"}}),
    ])
    assert RestoreLockedCells._position(nb, order, "setup") == 0
    assert RestoreLockedCells._position(nb, order, "q1") == 1
    assert RestoreLockedCells._position(nb, order, "q2") == 2


def test_does_the_grading_report_say_why_a_notebook_was_not_graded():
    assert "could not be started again" in explain("autograde", "DeadKernelError: Kernel died")
    assert explain("feedback", "[ERROR] something broke") == "feedback failed: [ERROR] something broke"


# --- content errors -----------------------------------------------------------------------
@pytest.fixture
def course_copy(tmp_path, monkeypatch):
    root = tmp_path / "courses"
    shutil.copytree(courses.load("sql-101").folder, root / "sql-101")
    monkeypatch.setenv(courses.COURSES_ENV, str(root))
    return root / "sql-101"


def test_is_an_unknown_course_answered_with_the_known_ones(course_copy):
    with pytest.raises(NotFound, match="Courses: sql-101"):
        courses.load("sql-999")


def test_are_broken_course_files_named(course_copy):
    settings = course_copy / "course.toml"
    settings.write_text(settings.read_text().replace('"09-final-project",', '"09-final-project", "10-extra",'))
    with pytest.raises(NotFound, match="10-extra is listed in course.toml"):
        courses.load("sql-101")
    settings.write_text("lessons = [")
    with pytest.raises(UsageError, match="course.toml is not valid TOML"):
        courses.load("sql-101")


def test_are_handouts_given_with_their_lesson_and_mistakes_named(course_copy, tmp_path):
    """course.toml [handouts]: folders released with a lesson as they are (sql-101: the data cards)."""
    from matsuri import paths

    course = courses.load("sql-101")
    assert course.handouts == {L1: [paths.project_root() / "datasets" / "cards"]}
    released = tmp_path / "release" / L1
    released.mkdir(parents=True)
    hand_out(course.handouts[L1], released)
    shipped = sorted(p.name for p in (paths.project_root() / "datasets" / "cards").glob("*.md"))
    assert "sales_calls.md" in shipped and sorted(p.name for p in (released / "cards").glob("*.md")) == shipped
    with pytest.raises(GradingError, match="hands out .*nowhere with 01-reading-a-table, but there is no such folder"):
        hand_out([tmp_path / "nowhere"], released)
    settings = course_copy / "course.toml"
    settings.write_text(settings.read_text().replace('handouts = { "01-reading-a-table"', 'handouts = { "01-reading"'))
    with pytest.raises(UsageError, match=r"\[handouts\] names '01-reading', which is not a lesson"):
        courses.load("sql-101")


def test_does_lint_find_exercises_and_notebooks_that_disagree(course_copy):
    spec = course_copy / "exercises" / f"{L1}.toml"
    spec.write_text(spec.read_text() + '\n[[exercise]]\nname = "q99"\ntitle = { en = "x" }\n')
    notebook = course_copy / "source" / L1 / f"{L1}.ipynb"
    nb = answered(nbformat.read(notebook, as_version=4), {}, edit={"q2": "print('no check')"})
    nbformat.write(nb, notebook)
    problems = lint(courses.load("sql-101").lesson(L1))
    assert any("q99: no SQL cell `%%sql q99_result <<`" in p for p in problems)
    assert any("q2: its test cell must call q2.check()" in p for p in problems)


def test_does_release_refuse_a_reference_query_that_leaked(ws):
    lesson = ws.course.lesson(L1)
    folder = ws.step("release", L1)
    nb = source_notebook()  # the source itself: every reference query is in it
    write(folder / f"{L1}.ipynb", nb)
    write(folder / "checks.json", text="{}")
    with pytest.raises(GradingError, match="reference query of `q1_result`"):
        refuse_leaks(ws, lesson)
