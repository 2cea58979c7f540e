"""Are teams registered with their limits, and workspaces copied from the theme's template?"""

from __future__ import annotations

import pytest

from matsuri.errors import AlreadyExists, NotFound, UsageError
from matsuri.hackathon.teams import add_team, get_team, list_teams, new_workspace
from support.hackathon_kit import notebook


@pytest.fixture
def templates(tmp_path):
    """Whatever a template folder holds is copied: notebooks, a README, a helper module."""
    folder = tmp_path / "templates" / "push-open-rate"
    notebook(folder / "starter.ipynb", "print('starter')")
    notebook(folder / "demo.ipynb", "print('demo')")
    (folder / "README.md").write_text("# 開封率\n", encoding="utf-8")
    (folder / "helpers").mkdir()
    (folder / "helpers" / "features.py").write_text("X = 1\n")
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "starter-checkpoint.ipynb").write_text("{}")
    return tmp_path / "templates"


def test_new_copies_the_template_and_sets_the_theme(make_event, templates):
    """Does `new` copy every file of templates/<theme>/ (not checkpoints) and record the theme?"""
    event = make_event()
    add_team(event, "sushi", ["Aki", "Ben"], "寿司チーム")
    team = new_workspace(event, "sushi", "push-open-rate", templates)
    copied = sorted(str(p.relative_to(team.workspace)) for p in team.workspace.rglob("*"))
    assert copied == ["README.md", "builder.ipynb", "demo.ipynb", "helpers", "helpers/features.py", "starter.ipynb"]
    assert "builder('push-open-rate')" in (team.workspace / "builder.ipynb").read_text()  # the no-code builder
    assert team.theme == "push-open-rate" and team.display_name == "寿司チーム"
    assert [t.team for t in list_teams(event)] == ["sushi"]
    with pytest.raises(AlreadyExists, match="already has a workspace"):
        new_workspace(event, "sushi", "push-open-rate", templates)
    with pytest.raises(AlreadyExists, match="already works on 'push-open-rate'"):
        new_workspace(event, "sushi", "call-keywords", templates)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_teams_starter_keeps_the_events_language(make_event, tmp_path, language):
    """A template's prose comes in ja/en pairs of cells; the team's copy keeps the event's."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    folder = tmp_path / "templates" / "push-open-rate"
    folder.mkdir(parents=True)
    cells = [new_markdown_cell("開封率を予測します。", metadata={"matsuri": {"lang": "ja"}}),
             new_markdown_cell("Predict the open rate.", metadata={"matsuri": {"lang": "en"}}),
             new_code_cell("x = 1")]
    nbformat.write(new_notebook(cells=cells), folder / "starter.ipynb")
    event = make_event(language=language)
    add_team(event, "sushi", ["Aki"])
    team = new_workspace(event, "sushi", "push-open-rate", tmp_path / "templates")
    kept = nbformat.read(team.workspace / "starter.ipynb", as_version=4).cells
    prose = {"ja": "開封率を予測します。", "en": "Predict the open rate."}[language]
    assert [c.source for c in kept] == [prose, "x = 1"]

    # a team that reads the other language asks for it; the builder speaks it too
    other = {"ja": "en", "en": "ja"}[language]
    add_team(event, "ramen", ["Bo"])
    team = new_workspace(event, "ramen", "push-open-rate", tmp_path / "templates", language=other)
    kept = nbformat.read(team.workspace / "starter.ipynb", as_version=4).cells
    assert [c.source for c in kept] == [{"ja": "開封率を予測します。", "en": "Predict the open rate."}[other], "x = 1"]
    from matsuri.builder.notebook import LAUNCHER

    assert nbformat.read(team.workspace / "builder.ipynb", as_version=4).cells[0].source == LAUNCHER[other]
    add_team(event, "soba", ["Cy"])
    with pytest.raises(UsageError, match="'fr' is not a language of the kit"):
        new_workspace(event, "soba", "push-open-rate", tmp_path / "templates", language="fr")


def test_new_explains_a_missing_template_or_disabled_theme(make_event, templates, tmp_path):
    """Are a theme without a template and an unknown theme refused with what to check?"""
    event = make_event()
    add_team(event, "sushi", ["Aki"])
    with pytest.raises(NotFound, match="no template for 'call-keywords'"):
        new_workspace(event, "sushi", "call-keywords", templates)
    with pytest.raises(UsageError, match="Unknown theme 'push-open-rates' \\(did you mean push-open-rate\\?\\)"):
        new_workspace(event, "sushi", "push-open-rates", templates)
    assert get_team(event, "sushi").theme is None and not (event.teams_dir / "sushi").exists()


@pytest.mark.parametrize(("team", "members", "expected"), [
    ("Sushi Lovers", ["Aki"], "cannot be a team id"),
    ("sushi", [], "has 0 members, but teams have 1 to 3 members"),
    ("sushi", ["A", "B", "C", "D"], "has 4 members"),
    ("sushi", ["Aki", "Aki"], "listed twice"),
])
def test_team_rules_are_enforced_with_the_setting_named(make_event, team, members, expected):
    """Are bad ids, sizes outside the limits and repeated members refused?"""
    event = make_event()
    with pytest.raises(UsageError, match=expected):
        add_team(event, team, members)
    assert list_teams(event) == []


def test_a_person_joins_one_team_and_ids_are_unique(make_event):
    """Is a member already in a team, or a taken id, refused without touching the first team?"""
    event = make_event()
    add_team(event, "sushi", ["Aki", "Ben"])
    with pytest.raises(UsageError, match="Aki is already in team 'sushi'"):
        add_team(event, "ramen", ["Aki"])
    with pytest.raises(AlreadyExists, match="already a team 'sushi'"):
        add_team(event, "sushi", ["Cho"])
    assert get_team(event, "sushi").members == ["Aki", "Ben"]
    with pytest.raises(NotFound, match="team add ghost"):
        get_team(event, "ghost")
