"""Does the local target make one workspace per participant, leave foreign folders alone, and archive
before it removes?"""

from __future__ import annotations

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
