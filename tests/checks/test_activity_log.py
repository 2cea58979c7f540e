"""Does the learner runtime keep its activity log where it should, only there, never in the way,
and stop when a learner or the organiser opts out?"""

from __future__ import annotations

import json
import time

import pytest
from checks_kit import lesson_key, run_cells

from matsuri.checks import activity
from matsuri.funnel import logs
from matsuri.infra import participants, settings
from matsuri.infra.local import MARKER, LocalProvisioner

SETUP = 'from matsuri.checks import start\nstart("sql-101", "01-reading-a-table")'
WEARABLES = "SELECT product_id, name, price FROM products WHERE category = 'wearable'"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in (activity.ENV, "JUPYTERHUB_USER", *activity.GRADING_ENVS):
        monkeypatch.delenv(name, raising=False)


def workspace(tmp_path):
    """A local target workspace (the marker) with a lesson folder inside it."""
    (tmp_path / "aiko").mkdir()
    (tmp_path / "aiko" / MARKER).write_text("{}")
    lesson = tmp_path / "aiko" / "sql-101" / "01-reading-a-table"
    lesson.mkdir(parents=True)
    return tmp_path / "aiko", lesson


def lines(folder) -> list[dict]:
    path = folder / activity.FOLDER / activity.LOG_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_runtime_marker_is_the_local_targets():
    assert activity.LOCAL_MARKER == MARKER


def test_an_event_is_one_line_the_funnel_reads_back(tmp_path):
    """Is each event one JSON line (time, course, lesson, exercise, event, outcome), private to the learner?"""
    home, lesson = workspace(tmp_path)
    assert activity.workspace(lesson) == home
    activity.record(home, "sql-101", "01-reading-a-table", "q1", "check", "incorrect")
    activity.record(home, "sql-101", "01-reading-a-table", "q1", "hint")
    first, second = lines(home)
    assert set(first) == {"time", "course", "lesson", "exercise", "event", "outcome"}
    assert (first["event"], first["outcome"], second["event"]) == ("check", "incorrect", "hint")
    assert "outcome" not in second
    log = home / activity.FOLDER / activity.LOG_FILE
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    read = logs.read_person("aiko", [tmp_path], homes=False)
    assert [(e.exercise, e.event, e.outcome) for e in read.events] == [("q1", "check", "incorrect"),
                                                                      ("q1", "hint", "")]
    assert read.events[0].time.tzinfo is not None


def test_nothing_is_written_outside_a_workspace(tmp_path, monkeypatch):
    """The organisers' lab, a plain folder, a grading kernel: no workspace, no log."""
    monkeypatch.chdir(tmp_path)
    assert activity.workspace() is None
    activity.record(None, "sql-101", "l", "q1", "check", "correct")
    assert list(tmp_path.rglob("*")) == []
    home, _ = workspace(tmp_path)
    monkeypatch.setenv("MATSURI_CHECK_KEYS", str(tmp_path))  # grading: the grader's kernel
    activity.record(home, "sql-101", "l", "q1", "check", "correct")
    assert lines(home) == []


def test_on_jupyterhub_the_log_is_in_the_learners_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JUPYTERHUB_USER", "aiko")
    assert activity.workspace(tmp_path) == tmp_path / "home"
    (tmp_path / "sm" / ".matsuri").mkdir(parents=True)
    (tmp_path / "sm" / ".matsuri" / "event.json").write_text("{}")  # a SageMaker instance's folder
    assert activity.workspace(tmp_path / "sm") == tmp_path / "sm"


def test_opting_out_by_environment_or_file_writes_nothing(tmp_path, monkeypatch):
    home, lesson = workspace(tmp_path)
    monkeypatch.setenv(activity.ENV, "off")
    activity.record(home, "sql-101", "l", "q1", "hint")
    assert lines(home) == []
    monkeypatch.delenv(activity.ENV)
    activity.record(home, "sql-101", "l", "q1", "hint")
    assert len(lines(home)) == 1
    monkeypatch.setenv("MATSURI_LANG", "en")
    said = activity.opt_out(lesson)
    assert "is off" in said and "deleted" in said and activity.OFF_FILE in said
    assert lines(home) == [] and (home / activity.FOLDER / activity.OFF_FILE).exists()
    activity.record(home, "sql-101", "l", "q1", "hint")
    assert lines(home) == []
    assert "not a learner's workspace" in activity.opt_out(tmp_path)


def test_a_log_that_cannot_be_written_never_breaks_or_slows_a_check(tmp_path):
    home, _ = workspace(tmp_path)
    (home / activity.FOLDER).mkdir()
    (home / activity.FOLDER / activity.LOG_FILE).mkdir()  # not a file: every write fails
    activity.record(home, "sql-101", "l", "q1", "check", "correct")  # no exception
    (home / activity.FOLDER / activity.LOG_FILE).rmdir()
    started = time.perf_counter()
    for _ in range(500):
        activity.record(home, "sql-101", "01-reading-a-table", "q1", "check", "correct")
    each = (time.perf_counter() - started) / 500
    assert len(lines(home)) == 500 and each < 0.005, f"{each * 1000:.2f} ms per event"


def test_participants_marked_no_get_workspaces_that_log_nothing(tmp_path):
    """participants.csv activity_log = no: the local target switches the log off in their workspace."""
    people = participants.parse(["username,email,role,activity_log", "ann,ann@example.com,learner,no",
                                 "ben,ben@example.com,learner,"])
    assert [p.activity_log for p in people] == [False, True]
    config = settings.from_dict({"event": {"id": "fest-a"}, "local": {"root": str(tmp_path / "event")}})
    LocalProvisioner(config, people).apply(progress=False)
    spaces = tmp_path / "event" / "workspaces"
    assert (spaces / "ann" / activity.FOLDER / activity.OFF_FILE).exists()
    assert not (spaces / "ben" / activity.FOLDER).exists()
    assert activity.switched_off(spaces / "ann") and not activity.switched_off(spaces / "ben")


def test_a_learners_kernel_logs_checks_hints_and_solutions(tiny_company, tmp_path):
    """In a real kernel: wrong, then right, a hint and a solution, each one line with its outcome."""
    home, lesson = workspace(tmp_path)
    lesson_key(tiny_company.warehouse, lesson)
    cells = {"setup": SETUP, "not_run": "q1.check()", "wrong": "%%sql q2_result <<\nSELECT 1 AS x",
             "check_wrong": "q2.check()", "right": f"%%sql q2_result <<\n{WEARABLES}",
             "check_right": "q2.check()", "bad_sql": "%%sql q3_result <<\nSELECT * FROM nowhere",
             "check_bad": "q3.check()", "hint": "q2.hint()", "solution": "q2.solution()"}
    env = {"MATSURI_WAREHOUSE": str(tiny_company.warehouse), "MATSURI_LANG": "en"}
    run_cells(cells, lesson, env)
    got = [(e["lesson"], e["exercise"], e["event"], e.get("outcome")) for e in lines(home)]
    assert got == [("01-reading-a-table", "q1", "check", "incorrect"),  # not answered yet
                   ("01-reading-a-table", "q2", "check", "incorrect"),
                   ("01-reading-a-table", "q2", "check", "correct"),
                   ("01-reading-a-table", "q3", "check", "incorrect"),  # its SQL cell failed: no answer
                   ("01-reading-a-table", "q2", "hint", None),
                   ("01-reading-a-table", "q2", "solution", None)]
    run_cells({"setup": SETUP, "check": "q2.check()"}, lesson, env | {activity.ENV: "off"})
    assert len(lines(home)) == 6  # switched off by the organiser: nothing more


def test_each_check_outcome_has_its_word():
    from matsuri.checks.outcomes import Incorrect, NotAttempted, SqlProblem, Uncheckable

    assert activity.outcome_of(None) == "correct"
    assert activity.outcome_of(Incorrect("incorrect")) == activity.outcome_of(NotAttempted("incorrect")) == "incorrect"
    for error in (SqlProblem("sql_error", detail="x"), Uncheckable("key_missing", file="k"), ZeroDivisionError()):
        assert activity.outcome_of(error) == "error"
