"""Teams: who is in which team, which theme it chose, and its workspace copied from a template."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from matsuri import theme_spec
from matsuri.errors import AlreadyExists, NotFound, UsageError
from matsuri.hackathon import store
from matsuri.hackathon.event import Event

TEAM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
SKIP = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", ".*")
BUILDER_NOTEBOOK = "builder.ipynb"  # the no-code model builder, in every workspace whose theme offers it


@dataclass
class Team:
    team: str
    display_name: str
    theme: str | None
    members: list[str]
    workspace: Path
    slot: int = 0  # order of registration (1 = first): picks the team's sandbox identity


def _check_name(team: str) -> None:
    if not TEAM_NAME.match(team):
        raise UsageError(
            f"'{team}' cannot be a team id: use 1 to 40 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit (e.g. sushi-lovers). Put the team's full name, in any "
            "language, in --display-name."
        )


def add_team(event: Event, team: str, members: list[str], display_name: str = "") -> Team:
    """Register a team with its members; sizes and one-team-per-person are checked."""
    _check_name(team)
    settings = event.settings
    members = [m.strip() for m in members if m.strip()]
    if len(set(members)) != len(members):
        raise UsageError(f"A member is listed twice for team '{team}': {', '.join(members)}.")
    if not settings.min_team_size <= len(members) <= settings.max_team_size:
        raise UsageError(
            f"Team '{team}' has {len(members)} member{'' if len(members) == 1 else 's'}, but teams have {settings.min_team_size} "
            f"to {settings.max_team_size} members in this event (teams.min_size / teams.max_size in "
            f"{settings.path}). Give each member with --member NAME."
        )
    with event.connect() as con, store.write(con):
        if con.execute("SELECT 1 FROM teams WHERE team = ?", (team,)).fetchone():
            raise AlreadyExists(f"There is already a team '{team}'. Choose another id.")
        taken = con.execute(
            f"SELECT member, team FROM members WHERE member IN ({','.join('?' * len(members))})", members
        ).fetchone()
        if taken:
            raise UsageError(
                f"{taken['member']} is already in team '{taken['team']}'; each person joins one team."
            )
        con.execute("INSERT INTO teams (team, display_name, theme, created_at) VALUES (?, ?, NULL, ?)",
                    (team, display_name.strip() or team, store.now()))
        con.executemany("INSERT INTO members (team, member) VALUES (?, ?)", [(team, m) for m in members])
    return get_team(event, team)


def get_team(event: Event, team: str) -> Team:
    with event.connect() as con:
        row = con.execute("SELECT rowid AS slot, * FROM teams WHERE team = ?", (team,)).fetchone()
        if row is None:
            raise NotFound(
                f"There is no team '{team}' in this event. List teams with `matsuri hackathon team "
                f"list`, or add it with `matsuri hackathon team add {team} --member NAME`."
            )
        members = [r[0] for r in con.execute(
            "SELECT member FROM members WHERE team = ? ORDER BY member", (team,))]
    return Team(row["team"], row["display_name"], row["theme"], members, event.teams_dir / team,
                row["slot"])


def list_teams(event: Event) -> list[Team]:
    with event.connect() as con:
        names = [r[0] for r in con.execute("SELECT team FROM teams ORDER BY team")]
    return [get_team(event, name) for name in names]


def new_workspace(event: Event, team: str, theme: str, templates: Path | None = None,
                  language: str = "") -> Team:
    """Set the team's theme and copy templates/<theme>/ into its workspace (never over one), its
    notebooks in `language` (default: the event's)."""
    from matsuri.language import LANGUAGES

    if language and language not in LANGUAGES:
        raise UsageError(f"'{language}' is not a language of the kit; use {' or '.join(LANGUAGES)}, "
                         "or leave --language out for the event's.")
    language = language or event.settings.language
    event.settings.theme(theme)  # enabled?
    current = get_team(event, team)
    if current.theme and current.theme != theme:
        raise AlreadyExists(
            f"Team '{team}' already works on '{current.theme}'. A team has one theme; ask the "
            "organisers if it must change."
        )
    if current.workspace.exists():
        raise AlreadyExists(
            f"Team '{team}' already has a workspace at {current.workspace}; it was left as it is."
        )
    source = Path(templates) / theme if templates else theme_spec.get(theme).folder
    if not source.is_dir():
        raise NotFound(
            f"There is no template for '{theme}' at {source}. Check the templates folder "
            "(or pass --templates with the folder that holds one sub-folder per theme)."
        )
    current.workspace.parent.mkdir(parents=True, exist_ok=True)
    tmp = current.workspace.with_name(f".{team}.copying")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp, ignore=SKIP)
    for notebook in tmp.glob("*.ipynb"):
        keep_language(notebook, language)
    if theme_spec.get(theme).builder is not None:
        _write_builder(tmp / BUILDER_NOTEBOOK, theme, language)
    tmp.rename(current.workspace)
    with event.connect() as con, store.write(con):
        con.execute("UPDATE teams SET theme = ? WHERE team = ?", (theme, team))
    return get_team(event, team)


def _write_builder(path: Path, theme: str, language: str) -> None:
    """The model builder's notebook (matsuri.builder), unless the template ships its own."""
    import nbformat

    from matsuri.builder.notebook import launcher

    if not path.exists():
        nbformat.write(launcher(theme, language if language in ("ja", "en") else "ja"), path)


def keep_language(notebook: Path, language: str) -> None:
    """A template's prose is written in pairs of cells, one per language (like the courses'); the
    team's copy keeps one."""
    import nbformat

    from matsuri.grading.preprocessors import cell_language, only_language

    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception:  # not a notebook nbformat reads: copied as it is, like any other file
        return
    if any(cell_language(c) for c in nb.cells):
        nbformat.write(only_language(nb, language), notebook)
