"""Does applying the hub target again add lessons added to the course since, keep an instructor's
edits, and say what to run while no lesson is released? (No accounts are made: the grader's home
is a temporary folder and chown is recorded, not run.)"""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest

from matsuri.infra import participants, settings
from matsuri.infra.hub import provisioner
from matsuri.infra.hub.layout import HubLayout
from matsuri.infra.hub.provisioner import HubProvisioner

PEOPLE = "username,email,role,team\nann,ann@example.com,learner,red\n"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "courses" / "sql-101" / "source").mkdir(parents=True)
    monkeypatch.setenv("MATSURI_HOME", str(project))
    monkeypatch.setattr(HubLayout, "home", lambda self, user: tmp_path / "home" / user)
    chowned = []
    monkeypatch.setattr(provisioner.subprocess, "run",
                        lambda args, **kw: chowned.append(args) or subprocess.CompletedProcess(args, 0))
    config = settings.from_dict({"event": {"id": "fest-h"}, "jupyterhub": {"state_dir": str(tmp_path / "state")}})

    return SimpleNamespace(
        make=lambda: HubProvisioner(config, participants.parse(PEOPLE.splitlines())),
        source=project / "courses" / "sql-101" / "source",
        course_dir=tmp_path / "home" / "fest-h-grader" / "sql-101", chowned=chowned)


def add_lesson(source, lesson, text):
    (source / lesson).mkdir(exist_ok=True)
    (source / lesson / f"{lesson}.ipynb").write_text(text)


def test_a_later_apply_adds_new_lessons_to_the_course_folder_and_keeps_edits(hub):
    add_lesson(hub.source, "01-reading-a-table", "first")
    first = hub.make()._course_action()
    assert first.kind == "create"
    first.run()
    notebook = hub.course_dir / "source" / "01-reading-a-table" / "01-reading-a-table.ipynb"
    assert notebook.read_text() == "first"
    assert hub.make()._course_action().kind == "exists"

    notebook.write_text("the instructor's edit")
    add_lesson(hub.source, "01-reading-a-table", "changed in the project")
    add_lesson(hub.source, "02-aggregates", "second")
    later = hub.make()._course_action()
    assert (later.kind, later.detail) == ("update", "add 02-aggregates to source/")
    later.run()
    assert notebook.read_text() == "the instructor's edit"
    assert (hub.course_dir / "source" / "02-aggregates" / "02-aggregates.ipynb").read_text() == "second"
    assert hub.chowned[-1][:3] == ["chown", "-R", "fest-h-grader:fest-h-grader"]
    assert hub.make()._course_action().kind == "exists"


def test_until_a_lesson_is_released_on_the_hub_it_says_what_to_run(hub, tmp_path):
    note = hub.make()._lessons_note()
    assert "matsuri course release sql-101" in note and "Assignments tab" in note
    outbound = tmp_path / "state" / "exchange" / "sql-101" / "outbound" / "01-reading-a-table"
    outbound.mkdir(parents=True)
    assert hub.make()._lessons_note() is None
