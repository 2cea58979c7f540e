"""The learner's activity log: one JSON line per check, hint or solution, for the festival funnel.

    {"time": "2026-06-01T01:02:03.456789+00:00", "course": "sql-101",
     "lesson": "01-reading-a-table", "exercise": "q1", "event": "check", "outcome": "correct"}

`event` is check, hint or solution; a check's `outcome` is correct, incorrect (a wrong answer, or
none yet) or error (the query failed, or the check could not run). Nothing else: no answers, no
SQL, no messages. Why a log at all: the organisers' funnel (`matsuri hackathon funnel`) needs to
know who started a course before anyone hands a lesson in.

Where: `<workspace>/.matsuri/activity.jsonl`, in the learner's own workspace, and nowhere else:
the local target's workspace around the notebook (its marker file), a SageMaker instance's
folder (holding `.matsuri/event.json`), or on JupyterHub the learner's home. Anywhere else (the
organisers' lab, a grading kernel, a test run) nothing is written. Nothing is ever sent anywhere:
the funnel reads the file where it is.

Opting out: `MATSURI_ACTIVITY_LOG=off` in the kernel's environment (organisers: for everyone), or
the file `.matsuri/activity-off` in the workspace, which `activity_off()` makes (it also removes
what was logged). Writing never breaks or slows a check: one append of one line, any OSError
swallowed. Light imports only: this runs inside every learner's kernel.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

ENV = "MATSURI_ACTIVITY_LOG"       # off, no, false or 0: write nothing
FOLDER = ".matsuri"
LOG_FILE = "activity.jsonl"
OFF_FILE = "activity-off"          # beside the log: this learner opted out
OFF_VALUES = ("off", "no", "false", "0")
LOCAL_MARKER = ".matsuri-event.json"   # = matsuri.infra.local.MARKER (not imported: kernels stay light)
SAGEMAKER_MARKER = "event.json"        # <instance folder>/.matsuri/event.json, written by on-create
GRADING_ENVS = ("MATSURI_CHECK_KEYS", "MATSURI_REFERENCE_RUN")  # the grader's and a key build's runs
EVENTS = ("check", "hint", "solution")
OUTCOMES = ("correct", "incorrect", "error")


def workspace(start: Path | None = None) -> Path | None:
    """The learner's workspace around `start` (default: the current folder), or None."""
    try:
        here = Path(start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / LOCAL_MARKER).is_file() or (folder / FOLDER / SAGEMAKER_MARKER).is_file():
                return folder
        if os.environ.get("JUPYTERHUB_USER"):
            return Path.home()
    except (OSError, RuntimeError):  # a folder gone or unreadable, no home: no log
        pass
    return None


def switched_off(folder: Path | None) -> bool:
    """Whether nothing may be logged for the workspace `folder` (None: not a workspace)."""
    if folder is None or os.environ.get(ENV, "").strip().lower() in OFF_VALUES:
        return True
    if any(os.environ.get(name) for name in GRADING_ENVS):
        return True
    try:
        return (folder / FOLDER / OFF_FILE).exists()
    except OSError:
        return True


def record(folder: Path | None, course: str, lesson: str, exercise: str, event: str,
           outcome: str | None = None) -> None:
    """Append one event to the workspace's log, unless switched off; never raises."""
    try:
        if switched_off(folder):
            return
        entry = {"time": datetime.now(UTC).isoformat(timespec="microseconds"), "course": course,
                 "lesson": lesson, "exercise": exercise, "event": event}
        if outcome is not None:
            entry["outcome"] = outcome
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        (folder / FOLDER).mkdir(mode=0o700, exist_ok=True)
        fd = os.open(folder / FOLDER / LOG_FILE,
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, line)  # one write of one short line: appends never interleave
        finally:
            os.close(fd)
    except (OSError, ValueError, TypeError):
        pass


def outcome_of(error: BaseException | None) -> str:
    """A check's outcome for the log: correct (no error), incorrect (a wrong answer or none yet),
    or error (the learner's SQL failed, the check could not run, or anything unexpected)."""
    from matsuri.checks.outcomes import Incorrect, NotAttempted

    if error is None:
        return "correct"
    return "incorrect" if isinstance(error, Incorrect | NotAttempted) else "error"


def opt_out(start: Path | None = None, lang: str | None = None) -> str:
    """Stop logging in this workspace and remove what was logged; returns a sentence saying so."""
    from matsuri.checks.messages import language, render

    lang = language(lang)
    folder = workspace(start)
    if folder is None:
        return render("activity_nothing", lang)
    (folder / FOLDER).mkdir(mode=0o700, exist_ok=True)
    (folder / FOLDER / OFF_FILE).touch()
    (folder / FOLDER / LOG_FILE).unlink(missing_ok=True)
    return render("activity_off", lang, folder=folder, off=folder / FOLDER / OFF_FILE)
