"""Read learners' activity logs where they are (matsuri.checks.activity writes them).

A learner's log is `<workspace>/.matsuri/activity.jsonl`. The organiser's side looks, for each
participant, in `<folder>/<username>/.matsuri/activity.jsonl` (and `<folder>/<username>/activity.jsonl`,
for logs copied by hand) under every folder it is given (default: the local target's
`event/workspaces/`), and in the home folder of an account named like the participant (JupyterHub).
A log beside the opt-out file is not read, nor the log of someone participants.csv marks
`activity_log = no`. Lines that are not a valid event are skipped and counted.
"""

from __future__ import annotations

import json
import pwd
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from matsuri.checks.activity import EVENTS, FOLDER, LOG_FILE, OFF_FILE


@dataclass(frozen=True)
class Activity:
    time: datetime
    course: str
    lesson: str
    exercise: str
    event: str
    outcome: str = ""


@dataclass
class Found:
    """What the logs of one person hold."""

    events: list[Activity]
    skipped_lines: int = 0
    opted_out: bool = False
    unreadable: int = 0          # logs there but not readable by this account (a private home)


def candidates(username: str, folders: list[Path], homes: bool = True) -> list[Path]:
    """Every place this person's log may be, existing or not, without repeats."""
    places = []
    for folder in folders:
        places += [Path(folder) / username / FOLDER / LOG_FILE, Path(folder) / username / LOG_FILE]
    if homes:
        try:
            places.append(Path(pwd.getpwnam(username).pw_dir) / FOLDER / LOG_FILE)
        except KeyError:  # no such account on this machine (not a JupyterHub)
            pass
    return list(dict.fromkeys(places))


def read_person(username: str, folders: list[Path], homes: bool = True) -> Found:
    found = Found([])
    for path in candidates(username, folders, homes):
        if (path.parent / OFF_FILE).exists():
            found.opted_out = True
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            found.unreadable += 1
            continue
        for line in text.splitlines():
            event = parse(line)
            if event is None:
                found.skipped_lines += bool(line.strip())
            else:
                found.events.append(event)
    if found.opted_out:
        found.events = []
    return found


def parse(line: str) -> Activity | None:
    """One log line as an Activity, or None if it is not one (a torn or hand-edited line)."""
    try:
        entry = json.loads(line)
        when = datetime.fromisoformat(entry["time"])
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        event = Activity(when.astimezone(UTC), str(entry["course"]), str(entry["lesson"]),
                         str(entry["exercise"]), str(entry["event"]), str(entry.get("outcome") or ""))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return event if event.event in EVENTS else None
