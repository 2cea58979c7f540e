"""Does the local target make one workspace per participant, leave foreign folders alone, and archive
before it removes?"""

from __future__ import annotations

import os
import tarfile

from conftest import run_matsuri
from matsuri.infra import participants, settings
from matsuri.infra.local import LocalProvisioner

PEOPLE = "username,email,role,team\nann,ann@example.com,learner,red\nben,ben@example.com,learner,\n"


def make(tmp_path, event="fest-a"):
    config = settings.from_dict({"event": {"id": event}, "local": {"root": str(tmp_path / "event")}})
    return LocalProvisioner(config, participants.parse(PEOPLE.splitlines()))


def test_apply_is_idempotent_and_tolerates_a_foreign_folder(tmp_path):
    foreign = tmp_path / "event" / "workspaces" / "ben"
    foreign.mkdir(parents=True)
    (foreign / "mine.txt").write_text("not the event's")
    report = make(tmp_path).apply(progress=False)
    assert [o.action.name for o in report.changed] == ["ann"]
    assert [(o.action.name, "not made by event fest-a" in o.message) for o in report.failed] == [("ben", True)]
    assert make(tmp_path).apply(progress=False).changed == []
    rows = {r.who: r.state for r in make(tmp_path).status()}
    assert rows == {"ann": "ready", "ben": "not ours"}


def test_destroy_archives_and_removes_only_the_events_workspaces(tmp_path):
    make(tmp_path).apply(progress=False)
    make(tmp_path, "fest-b").teardown()  # another event sees nothing of ours
    assert make(tmp_path, "fest-b").teardown().actions == []
    (tmp_path / "event" / "workspaces" / "ann" / "answer.sql").write_text("SELECT 1")
    report = make(tmp_path).destroy(progress=False)
    assert sorted(o.action.name for o in report.changed) == ["ann", "ben"]
    assert not (tmp_path / "event" / "workspaces" / "ann").exists()
    with tarfile.open(tmp_path / "event" / "archive" / "fest-a-ann.tar.gz") as tar:
        assert "ann/answer.sql" in tar.getnames()


def test_the_cli_runs_the_four_verbs(tmp_path):
    (tmp_path / "people.csv").write_text(PEOPLE)
    (tmp_path / "settings.toml").write_text(f'[event]\nid = "fest-c"\n[local]\nroot = "{tmp_path / "ev"}"\n')
    common = ["--target", "local", "--participants", str(tmp_path / "people.csv"),
              "--settings", str(tmp_path / "settings.toml")]
    assert "2 to create" in run_matsuri(["infra", "plan", *common]).out
    assert "2 created, 0 already there, 0 failed" in run_matsuri(["infra", "apply", *common]).out
    assert "0 created, 2 already there" in run_matsuri(["infra", "apply", *common]).out
    assert run_matsuri(["infra", "status", *common]).out.count("ready") == 2
    out = run_matsuri(["infra", "destroy", *common, "--yes"]).out
    assert "removed workspace ann (archived to" in out


def test_each_workspace_gets_the_course_release(tmp_path, monkeypatch):
    lesson = tmp_path / "work" / "sql-101" / "release" / "01-reading-a-table"
    lesson.mkdir(parents=True)
    (lesson / "01-reading-a-table.ipynb").write_text("{}")
    monkeypatch.setenv("MATSURI_COURSE_WORK", str(tmp_path / "work"))
    make(tmp_path).apply(progress=False)
    copy = tmp_path / "event" / "workspaces" / "ann" / "sql-101" / "01-reading-a-table" / "01-reading-a-table.ipynb"
    assert copy.read_text() == "{}"


def test_a_participant_who_reads_english_gets_the_english_copies_and_feedback(tmp_path, monkeypatch):
    """participants.csv `language`: that person's workspace gets the lessons from the release's
    copy in that language, and a lab started in it gives the checks that language."""
    from matsuri.lab import lab_env

    work = tmp_path / "work"
    release_lesson(work, "01-ml", "ja prose")
    english = work / "sql-101" / "release-by-language" / "en" / "01-ml"
    english.mkdir(parents=True)
    (english / "01-ml.ipynb").write_text("en prose")
    monkeypatch.setenv("MATSURI_COURSE_WORK", str(work))
    monkeypatch.delenv("MATSURI_LANG", raising=False)
    config = settings.from_dict({"event": {"id": "fest-a"}, "local": {"root": str(tmp_path / "event")}})
    people = participants.parse(["username,email,role,language", "ann,ann@example.com,learner,en",
                                 "ben,ben@example.com,learner,"])
    LocalProvisioner(config, people).apply(progress=False)
    spaces = tmp_path / "event" / "workspaces"
    assert (spaces / "ann" / "sql-101" / "01-ml" / "01-ml.ipynb").read_text() == "en prose"
    assert (spaces / "ben" / "sql-101" / "01-ml" / "01-ml.ipynb").read_text() == "ja prose"
    ann, ben = lab_env("t", spaces / "ann" / "sql-101"), lab_env("t", spaces / "ben")
    assert ann.get("MATSURI_LANG") == "en" and "MATSURI_LANG" not in ben  # ben: the course's language
    assert ann["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0].endswith("learners_lab_en")  # JupyterLab too
    assert ben["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0].endswith("learners_lab")


def release_lesson(work, lesson, text="{}"):
    """A lesson as `matsuri course release sql-101` leaves it: its notebook and check key."""
    folder = work / "sql-101" / "release" / lesson
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{lesson}.ipynb").write_text(text)
    (folder / "checks.json").write_text("{}")
    return folder


def test_apply_before_the_release_says_what_to_run_and_a_later_apply_adds_the_lessons(tmp_path, monkeypatch):
    """Does an apply run before `course release` say what to run, and does applying again add the
    lessons released since without touching what a learner has edited?"""
    work = tmp_path / "work"
    monkeypatch.setenv("MATSURI_COURSE_WORK", str(work))
    early = make(tmp_path)
    assert any("run `matsuri course release sql-101`, then apply again" in n for n in early.plan().notes)
    early.apply(progress=False)
    assert any("matsuri course release sql-101" in n for n in early.apply_notes)
    ann = tmp_path / "event" / "workspaces" / "ann"
    assert not (ann / "sql-101").exists()

    release_lesson(work, "01-reading-a-table", "first")
    (work / "sql-101" / "release" / "01-reading-a-table" / ".ipynb_checkpoints").mkdir()
    (work / "sql-101" / "release" / "01-reading-a-table" / ".ipynb_checkpoints" / "x.ipynb").write_text("{}")
    later = make(tmp_path)
    plan = later.plan()
    assert [(a.kind, a.name) for a in plan.actions] == [("update", "ann"), ("update", "ben")]
    assert "01-reading-a-table" in plan.actions[0].detail
    assert not any("course release" in n for n in plan.notes)
    report = later.apply(progress=False)
    assert sorted(o.action.name for o in report.changed) == ["ann", "ben"]
    assert any("added the lessons released since to 2 existing workspace(s)" in n for n in later.apply_notes)
    lesson = ann / "sql-101" / "01-reading-a-table"
    assert (lesson / "01-reading-a-table.ipynb").read_text() == "first"
    assert (lesson / "checks.json").is_file() and not (lesson / ".ipynb_checkpoints").exists()

    (lesson / "01-reading-a-table.ipynb").write_text("ann's answers")   # the learner's work
    (lesson / "checks.json").unlink()                                  # and a file lost since
    release_lesson(work, "01-reading-a-table", "released again")
    release_lesson(work, "02-aggregates", "second")
    make(tmp_path).apply(progress=False)
    assert (lesson / "01-reading-a-table.ipynb").read_text() == "ann's answers"
    assert (lesson / "checks.json").is_file()
    assert (ann / "sql-101" / "02-aggregates" / "02-aggregates.ipynb").read_text() == "second"
    assert list(ann.rglob(".*.copying")) == []
    assert make(tmp_path).apply(progress=False).changed == []


def test_the_cli_says_what_to_run_before_the_release_and_what_a_later_apply_added(tmp_path):
    (tmp_path / "people.csv").write_text(PEOPLE)
    (tmp_path / "settings.toml").write_text(f'[event]\nid = "fest-d"\n[local]\nroot = "{tmp_path / "ev"}"\n')
    common = ["--target", "local", "--participants", str(tmp_path / "people.csv"),
              "--settings", str(tmp_path / "settings.toml")]
    env = {"MATSURI_COURSE_WORK": str(tmp_path / "work")}
    first = run_matsuri(["infra", "apply", *common], env=env).out
    assert "2 created" in first and "run `matsuri course release sql-101`, then apply again" in first
    release_lesson(tmp_path / "work", "01-reading-a-table")
    assert "2 to update" in run_matsuri(["infra", "plan", *common], env=env).out
    again = run_matsuri(["infra", "apply", *common], env=env).out
    assert "added the lessons released since to 2 existing workspace(s) (ann, ben)" in again
    assert "course release" not in again


def test_a_later_apply_never_writes_through_a_link_in_a_workspace(tmp_path, monkeypatch):
    """apply may run as root on folders learners write to: is a link there removed or refused,
    never followed?"""
    work = tmp_path / "work"
    monkeypatch.setenv("MATSURI_COURSE_WORK", str(work))
    release_lesson(work, "01-reading-a-table")
    make(tmp_path).apply(progress=False)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("keep")
    ann = tmp_path / "event" / "workspaces" / "ann" / "sql-101"
    (ann / "02-aggregates").symlink_to(outside, target_is_directory=True)   # a folder leading out
    ben = tmp_path / "event" / "workspaces" / "ben" / "sql-101"
    (ben / "02-aggregates").mkdir()
    (ben / "02-aggregates" / ".checks.json.copying").symlink_to(outside / "secret.txt")  # a planted name
    release_lesson(work, "02-aggregates", "second")
    report = make(tmp_path).apply(progress=False)
    assert [(o.action.name, "leads out of" in o.message) for o in report.failed] == [("ann", True)]
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "keep"
    assert (ben / "02-aggregates" / "checks.json").read_text() == "{}"
    assert not (ben / "02-aggregates" / ".checks.json.copying").is_symlink()
