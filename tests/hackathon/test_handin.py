"""When a hand-in path leads nowhere, is the likely path suggested, and only inside the team's own
workspace?"""

from __future__ import annotations

import pytest

from conftest import run_matsuri
from matsuri.errors import NotFound
from matsuri.hackathon.handin import likely_path, nothing_at
from matsuri.hackathon.submissions import submit
from support.hackathon_kit import add_team, notebook


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project root with the event in hackathon/ and two teams' workspaces; we stand at the root."""
    event = tmp_path / "hackathon"
    for team in ("sushi", "ramen"):
        (event / "teams" / team / "submission").mkdir(parents=True)
        (event / "teams" / team / "starter.ipynb").write_text("{}")
    (event / "state").mkdir()
    (event / "state" / "event.sqlite").write_text("")
    monkeypatch.chdir(tmp_path)
    return event


@pytest.mark.parametrize(("typed", "expected"), [
    ("teams/sushi/starter.ipynb", "hackathon/teams/sushi/starter.ipynb"),  # typed as if in hackathon/
    ("starter.ipynb", "hackathon/teams/sushi/starter.ipynb"),
    ("submission", "hackathon/teams/sushi/submission"),
    ("my-copy.ipynb", "hackathon/teams/sushi/starter.ipynb"),            # the team's notebook
    ("/elsewhere/teams/sushi/submission", "hackathon/teams/sushi/submission"),
    ("teams/ramen/starter.ipynb", "hackathon/teams/sushi/starter.ipynb"),  # never another team's
    ("teams/ramen/submission", "hackathon/teams/sushi/submission"),
    ("state/event.sqlite", None),                                          # never the event's state
    ("predictions.csv", None),
    ("../hackathon/state", None),
])
def test_the_likely_path_is_looked_for_in_the_teams_workspace_only(project, typed, expected):
    found = likely_path(typed, project, project / "teams" / "sushi")
    assert (str(found.relative_to(project.parent)) if found else None) == expected


def test_a_link_in_the_workspace_to_elsewhere_is_not_suggested(project):
    (project / "teams" / "sushi" / "labels.csv").symlink_to(project / "state" / "event.sqlite")
    assert likely_path("labels.csv", project, project / "teams" / "sushi") is None


def test_the_message_says_what_was_wrong_the_likely_path_and_what_to_do(project):
    likely = likely_path("teams/sushi/starter.ipynb", project, project / "teams" / "sushi")
    message = nothing_at("teams/sushi/starter.ipynb", likely)
    assert message == (f"There is nothing at teams/sushi/starter.ipynb (looking from {project.parent}). "
                       "Did you mean hackathon/teams/sushi/starter.ipynb? Give that path instead.")
    assert nothing_at("nope.csv", None).endswith("Give the path of a notebook, a CSV file or a folder.")


def test_submit_from_the_project_root_suggests_the_path_under_the_event_folder(make_event, tmp_path, monkeypatch):
    """The README's example typed from the project root: does the error name the path that works?"""
    event = make_event()
    add_team(event, "sushi", "push-open-rate")
    notebook(event.teams_dir / "sushi" / "starter.ipynb", "print('start here')")
    monkeypatch.chdir(event.root.parent)
    with pytest.raises(NotFound, match=rf"Did you mean {event.root.name}/teams/sushi/starter.ipynb\?"):
        submit(event, "sushi", "teams/sushi/starter.ipynb")
    out = run_matsuri(["hackathon", "--event", str(event.root), "submit", "teams/sushi/starter.ipynb", "--team", "sushi"],
                      exit_code=3, cwd=event.root.parent)
    assert f"Did you mean {event.root.name}/teams/sushi/starter.ipynb? Give that path instead." in out.err
    assert "Traceback" not in out.err
