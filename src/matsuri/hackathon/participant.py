"""What a participant's own account can do, without root and without the event store: hand a
submission in through the drop box, follow it until it is scored, read the team's submissions and
the public leaderboard. Everything read here was published by the runner service (service.py);
the event's settings (which hold the split seed) and the store are never opened.

Where that happens is one of two small storages with the same five calls: the drop box folder
(one machine, the JupyterHub VM), or the event's S3 bucket on a SageMaker notebook instance (it
has on-create's event file; infra/aws/s3_dropbox.py). Everything else here is shared.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from matsuri.errors import NotFound, UsageError
from matsuri.hackathon import dropbox, handin
from matsuri.hackathon.service import STALE_SECONDS

FINAL = ("scored", "rejected", "cancelled")


@dataclass
class Update:
    """One look at a handed-in submission, in words a participant reads."""

    state: str                 # waiting (not taken in yet) | queued | running | scored | rejected | cancelled
    text: str
    submission: dict | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL


class Storage(Protocol):
    """Where a participant hands in and reads back what the runner published for them."""

    def board(self) -> dict | None: ...                     # the public board, None if not there
    def status(self, team: str) -> dict | None: ...         # the team's status, None if not readable
    def no_status(self, team: str) -> str: ...              # why it may not be readable, what to do
    def my_team(self, board: dict, team: str | None) -> str: ...  # the team named (if allowed) or theirs
    def drop(self, team: str, source: Path, kind: str, files: list[str]) -> str: ...  # -> ticket


@dataclass
class FolderStorage:
    """The drop box folder (dropbox.py): the kernel's permissions say who may do what."""

    root: Path

    def board(self) -> dict | None:
        return dropbox.read_json(dropbox.board_path(self.root))

    def status(self, team: str) -> dict | None:
        return dropbox.read_json(dropbox.box(self.root, team) / dropbox.STATUS_FILE)

    def no_status(self, team: str) -> str:
        return (f"Team '{team}''s status is not readable by you yet. If you just joined the team, "
                "log out and in again (or restart your server) so your account picks up the "
                "team's group.")

    def my_team(self, board: dict, team: str | None) -> str:
        return dropbox.my_team(self.root, board, team)

    def drop(self, team: str, source: Path, kind: str, files: list[str]) -> str:
        return dropbox.drop(self.root, team, source, kind, files)


def storage(event_root: Path) -> Storage:
    """The event bucket on a SageMaker notebook instance (it has on-create's event file, which
    says the bucket and who this is), else the drop box folder of the event at `event_root`."""
    from matsuri.infra.aws import exchange

    try:
        where = exchange.here()
    except NotFound:
        return FolderStorage(Path(event_root))
    from matsuri.infra.aws.s3_dropbox import S3Storage

    return S3Storage(where)


def board(event_root: Path, store: Storage | None = None) -> dict:
    found = (store or storage(event_root)).board()
    if found is None:
        raise NotFound("This event publishes nothing yet: the organisers have not started the "
                       "runner (`matsuri hackathon runner`). Ask them to.")
    return found


def runner_alive(found: dict) -> bool:
    runner = found.get("runner", {})
    return bool(runner.get("alive")) and time.time() - runner.get("beat", 0) < STALE_SECONDS


def my_team(event_root: Path, found: dict, team: str | None = None, store: Storage | None = None) -> str:
    """The team of whoever runs this: the one named (if they are in it), else their own."""
    return (store or storage(event_root)).my_team(found, team)


def team_status(event_root: Path, team: str, store: Storage | None = None) -> dict:
    store = store or storage(event_root)
    found = store.status(team)
    if found is None:
        raise NotFound(store.no_status(team))
    return found


def default_source(folder: Path) -> Path:
    """What `submit` with no path hands in: the only notebook here, or the starter."""
    notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if len(notebooks) == 1:
        return notebooks[0]
    if (folder / "starter.ipynb").is_file():
        return folder / "starter.ipynb"
    if not notebooks:
        raise NotFound(f"There is no notebook in {folder}. Give the path of your notebook "
                       "(or predictions CSV, or folder): matsuri hackathon submit PATH.")
    raise UsageError(f"There are several notebooks in {folder} ({', '.join(p.name for p in notebooks[:5])}); "
                     "say which one: matsuri hackathon submit NOTEBOOK.ipynb.")


def hand_in(event_root: Path, source: Path, team: str | None = None) -> tuple[str, str]:
    """Check at the door (team, dates, limits, queue) and drop the submission in the team's box.
    Returns (team, ticket)."""
    from matsuri import theme_spec

    store = storage(event_root)
    found = board(event_root, store)
    team = store.my_team(found, team)
    source = Path(source)
    if not source.exists():
        raise NotFound(handin.nothing_at(source, handin.likely_path(source, event_root, Path(event_root) / "teams" / team)))
    kind = handin.kind_of(source)
    if kind == "unsupported":
        raise UsageError(f"{source.name} cannot be submitted: hand in a notebook (.ipynb), a "
                         "predictions file (.csv) or a folder holding your prediction files.")
    status = team_status(event_root, team, store)
    theme = found["teams"][team]["theme"]
    if not theme:
        raise UsageError(f"Team '{team}' has not chosen a theme yet; ask the organisers.")
    if not found.get("open"):
        raise UsageError(f"Submissions are accepted from {found['starts']} to {found['ends']} "
                         f"({found['timezone']} time), not today, so nothing was handed in.")
    if status["left_today"] <= 0:
        raise UsageError(f"Team '{team}' has no submissions left today ({status['left_event']} "
                         "left in the event), so nothing was handed in. Try again tomorrow; "
                         "until then, compare ideas on a validation split in your notebook.")
    if found.get("queued", 0) >= found.get("max_queued", 1):
        raise UsageError(f"The queue is full ({found['queued']} submissions waiting), so nothing "
                         "was handed in. Try again in a few minutes.")
    size = sum(p.stat().st_size for p in ([source] if source.is_file() else source.iterdir()) if p.is_file())
    if size > found["max_file_mb"] * 1_000_000 * 4:
        raise UsageError(f"{source.name} is {size / 1e6:.0f} MB, far more than this event accepts "
                         f"({found['max_file_mb']:g} MB per file). Hand in only the notebook or the "
                         "prediction files.")
    files = [f.name for f in theme_spec.get(theme).files]
    return team, store.drop(team, source, kind, files)


def follow(event_root: Path, team: str, ticket: str, poll: float = 0.5,
           timeout: float | None = None) -> Iterator[Update]:
    """Updates about one handed-in submission until it is final (or `timeout` seconds pass);
    a new update only when something a person would notice changed."""
    started, last = time.monotonic(), None
    store = storage(event_root)
    while True:
        update = look(event_root, team, ticket, store)
        if update.text != last:
            last = update.text
            yield update
        if update.final or (timeout is not None and time.monotonic() - started > timeout):
            return
        time.sleep(poll)


def look(event_root: Path, team: str, ticket: str, store: Storage | None = None) -> Update:
    store = store or storage(event_root)
    found = store.board() or {}
    alive = runner_alive(found)
    status = store.status(team) or {}
    mine = next((s for s in status.get("submissions", []) if s.get("ticket") == ticket), None)
    not_running = "" if alive else "; the runner is not running, tell the organisers"
    if mine is None:
        return Update("waiting", f"handed in, waiting to be taken into the queue{not_running}")
    state = mine["status"]
    if state == "queued":
        minutes = (mine.get("estimate_seconds") or 0) / 60
        when = "next" if mine.get("position") == 1 else f"number {mine.get('position')} in the queue"
        estimate = f", starts in about {minutes:.0f} min" if minutes >= 1 else ""
        return Update(state, f"submission {mine['id']}: queued, {when}{estimate}{not_running}", mine)
    if state == "running":
        doing = "running your notebook" if mine["kind"] == "notebook" else "checking and scoring"
        return Update(state, f"submission {mine['id']}: {doing}{not_running}", mine)
    if state == "scored":
        metric = status.get("metric", "")
        main = f"{metric} {mine['public'][metric]}" if metric in mine["public"] else ""
        others = ", ".join(f"{k} {v}" for k, v in mine["public"].items() if k != metric)
        score = f"{main} (also {others})" if main and others else main or others
        return Update(state, f"submission {mine['id']}: scored. Public score: {score}. "
                      f"Submissions left today: {status.get('left_today')}.", mine)
    return Update(state, mine.get("message") or f"submission {mine['id']}: {state}", mine)
