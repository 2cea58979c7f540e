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
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from matsuri import paths
from matsuri.errors import MatsuriError, NotFound
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


def init_event(path: Path | str | None = None) -> tuple[Event, list[str]]:
    """Create the state folder and store (idempotent) and check what submissions rely on.

    Returns the event and notes for the organiser (what was created, what needs attention).
    """
    from matsuri.hackathon import sandbox

    event = open_event(path, must_exist=False)
    notes = []
    event.state.mkdir(parents=True, exist_ok=True)
    event.state.chmod(0o700)  # scores, marks and runs: organiser only
    event.teams_dir.mkdir(parents=True, exist_ok=True)
    store.create(event.db)
    user = event.settings.run_as
    if user and not sandbox.user_exists(user):
        if os.geteuid() == 0:
            sandbox.create_user(user)
            notes.append(f"Created the system user '{user}' that runs submission notebooks and demos.")
        else:
            notes.append(f"The user '{user}' (submissions.run_as) does not exist; run this as root to "
                         "create it, or notebooks cannot be submitted.")
    runnable = bool(user) and sandbox.user_exists(user) and os.geteuid() == 0
    if runnable:
        try:
            sandbox.can_run_kernel(user)
        except MatsuriError as error:
            notes.append(f"WARNING: {error}")
            runnable = False
    labels = paths.labels_path()
    if runnable and labels.is_file() and sandbox.can_read(labels, user):
        notes.append(f"WARNING: '{user}' can read the labels store {labels}; run chmod 600 on it "
                     "and chmod 700 on its folder, or notebooks could read the answers.")
    return event, notes
