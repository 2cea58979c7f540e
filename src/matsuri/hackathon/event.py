"""One hackathon event on disk: its settings, its organiser-only state folder and team workspaces.

    <event>/event.toml              settings (the repository ships an example in hackathon/)
    <event>/teams/<team>/           team workspaces, copied from templates/<theme>/
    <event>/state/                  organiser only (mode 0700)
        event.sqlite                teams, submissions, scores, picks, judges' marks
        submissions/<id>/           what was submitted, the run's notebook and log, the predictions
        gallery/                    the Voila gallery assembled by `matsuri gallery serve`
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from matsuri import paths
from matsuri.errors import NotFound
from matsuri.hackathon import settings as settings_mod
from matsuri.hackathon import store

EVENT_ENV = "MATSURI_EVENT"
SETTINGS_FILE = "event.toml"


def event_dir(path: Path | str | None = None) -> Path:
    """The event folder: the given one, else $MATSURI_EVENT, else hackathon/ in the project."""
    if path:
        return Path(path).resolve()
    env = os.environ.get(EVENT_ENV)
    return Path(env).resolve() if env else paths.project_root() / "hackathon"


@dataclass
class Event:
    root: Path
    settings: settings_mod.Settings

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def db(self) -> Path:
        return self.state / "event.sqlite"

    @property
    def teams_dir(self) -> Path:
        return self.root / "teams"

    def submission_dir(self, submission_id: int) -> Path:
        return self.state / "submissions" / f"{submission_id:05d}"

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        con = store.connect(self.db)
        try:
            yield con
        finally:
            con.close()


def open_event(path: Path | str | None = None, must_exist: bool = True) -> Event:
    """Load and check the settings; the state store must exist unless `must_exist` is False."""
    root = event_dir(path)
    event = Event(root, settings_mod.load(root / SETTINGS_FILE))
    if must_exist and not event.db.is_file():
        raise NotFound(
            f"The event in {root} has not been set up yet. Run `matsuri hackathon init --event {root}` first."
        )
    return event


def dates_note(settings: settings_mod.Settings, now: dt.datetime | None = None) -> str | None:
    """A warning when today, in the event's time zone, is outside its dates (else None)."""
    now = now or dt.datetime.now(dt.UTC)
    if settings.is_open(now):
        return None
    today = now.astimezone(settings.zone).date()
    span = f"from {settings.starts} to {settings.ends} ({settings.timezone} time)"
    fix = (f"change `starts` and `ends` under [event] in {settings.path} and run "
           "`matsuri hackathon init` again")
    if today > settings.ends:
        return (f"WARNING: this event's dates have passed: it ran {span} and today is {today}, so "
                f"every submission would be refused. If this is a new event, {fix}.")
    days = (settings.starts - today).days
    return (f"WARNING: this event has not started: it runs {span} and today is {today}, so "
            f"submissions (a rehearsal's too) are refused until {settings.starts}, {days} "
            f"day{'s' if days > 1 else ''} from now. If the dates are wrong, {fix}.")


def init_event(path: Path | str | None = None,
               now: dt.datetime | None = None) -> tuple[Event, list[str]]:
    """Create the state folder and store (idempotent) and check what submissions rely on.

    Returns the event and notes for the organiser (what was created, what needs attention).
    """
    from matsuri.sandbox import identities
    from matsuri.sandbox.box import SandboxUnavailable, require

    event = open_event(path, must_exist=False)
    dates = dates_note(event.settings, now)
    notes = [dates] if dates else []
    event.state.mkdir(parents=True, exist_ok=True)
    event.state.chmod(0o700)  # scores, marks and runs: organiser only
    event.teams_dir.mkdir(parents=True, exist_ok=True)
    store.create(event.db)
    settings = event.settings
    try:
        require()
    except SandboxUnavailable as error:
        notes.append(f"WARNING: notebooks and demos cannot be run until this is fixed: {error}")
        return event, notes
    made = identities.ensure_pool(settings.run_as, settings.identities)
    if made:
        notes.append(f"Created {len(made)} sandbox users ({made[0]} … {made[-1]}); each team's "
                     "notebooks and demos run as one of them.")
    closed = identities.closed_folders()
    if closed:
        pool = ",".join(f"u:{u}:x" for u in identities.pool(settings.run_as, settings.identities))
        notes.append(f"WARNING: the sandbox users cannot reach Python and the kit through "
                     f"{' '.join(map(str, closed))}. Install them where every user can (under /usr/"
                     f"local or /opt), or let the pool pass: setfacl -m {pool} {' '.join(map(str, closed))}")
    with event.connect() as con:
        teams = con.execute("SELECT count(*) FROM teams").fetchone()[0]
    if teams > settings.identities:
        notes.append(f"WARNING: {teams} teams share {settings.identities} sandbox users, so some "
                     "teams run as the same user; raise submissions.identities to give each its own.")
    return event, notes
