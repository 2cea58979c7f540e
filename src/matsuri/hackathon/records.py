"""The record of every attempt in the event store: reserve a place, save scores, finish, read back.

A place is reserved in the same transaction that checks the limits, so two terminals cannot both
take the last place; a run whose organiser process died is cancelled so it does not count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from matsuri.errors import NotFound
from matsuri.hackathon import limits, store
from matsuri.hackathon.event import Event
from matsuri.hackathon.teams import get_team
from matsuri.sandbox.box import still_running, this_process


@dataclass
class Submission:
    id: int
    team: str
    theme: str
    kind: str
    source: str
    submitted_at: str
    status: str
    message: str | None
    public: dict[str, float] = field(default_factory=dict)
    private: dict[str, float] = field(default_factory=dict)
    folder: Path | None = None
    sandbox: bool = True
    attempts: int = 0


def release_stale(con, event: Event, team: str, now: dt.datetime) -> None:
    """A run started from a terminal whose process died (power cut, kill -9) stays 'running':
    cancel it, so it does not count against the team's limits (its sandbox died with that
    process). Runs of the runner service are its own to retry (queue.recover)."""
    rows = con.execute("SELECT id, runner FROM submissions WHERE team = ? AND status = 'running' "
                       "AND submitted_by IS NULL", (team,)).fetchall()
    for row in rows:
        if not still_running(row["runner"]):
            con.execute(
                "UPDATE submissions SET status = 'cancelled', finished_at = ?, message = ? WHERE id = ?",
                (now.isoformat(timespec="microseconds"),
                 f"Submission {row['id']} was cancelled: its run stopped without finishing (the "
                 "machine or the command was stopped). It does not count; submit again.", row["id"]))


def reserve(event: Event, team: str, theme: str, kind: str, source: Path, now: dt.datetime,
            sandbox: bool = True, submitted_by: str | None = None):
    """Insert the attempt as running (queued, when it came through the drop box from
    `submitted_by`), or as rejected with the limit it hit; one transaction."""
    store.create(event.db)  # a store made by an older version gains the columns it lacks
    with event.connect() as con, store.write(con):
        release_stale(con, event, team, now)
        problem = limits.problem(con, event, team, theme, now)
        if problem is None and kind == "unsupported":
            problem = (f"{source.name} cannot be submitted: matsuri accepts a notebook (.ipynb), a "
                       "predictions file (.csv) or a folder holding predictions.csv. Save your "
                       "predictions as a CSV file (or submit the notebook that writes them) and "
                       "submit again.")
        status = "rejected" if problem else "queued" if submitted_by else "running"
        cursor = con.execute(
            "INSERT INTO submissions (team, theme, kind, source, submitted_at, finished_at, status,"
            " message, runner, sandbox, submitted_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (team, theme, kind, str(source), now.isoformat(timespec="microseconds"),
             now.isoformat(timespec="microseconds") if problem else None, status, problem,
             None if submitted_by else this_process(),
             "on" if sandbox or kind != "notebook" else "off", submitted_by),
        )
        if problem:  # the stored message reads exactly as the one shown
            problem = f"Submission {cursor.lastrowid} was not accepted. {problem}"
            con.execute("UPDATE submissions SET message = ? WHERE id = ?", (problem, cursor.lastrowid))
        return cursor.lastrowid, problem


def cut_off(event: Event, submission_id: int) -> tuple[str, str]:
    """A run the runner service was stopped in the middle of: queued again the first time,
    rejected (with the reason) the second. Returns the new status and message."""
    with event.connect() as con, store.write(con):
        attempts = con.execute("SELECT attempts FROM submissions WHERE id = ?",
                               (submission_id,)).fetchone()[0]
        if attempts < 2:
            message = (f"Submission {submission_id} was cut off by a restart of the runner; it is "
                       "queued again and will run once more.")
            con.execute("UPDATE submissions SET status = 'queued', runner = NULL, message = ? "
                        "WHERE id = ?", (message, submission_id))
            return "queued", message
    return "rejected", (f"Submission {submission_id} was cut off twice by a restart of the runner, "
                        "so it was not scored and does not count. Submit again; if it happens "
                        "again, tell the organisers.")


def save_scores(con, submission_id: int, scores: dict | None) -> None:
    """Replace a submission's scores ({part: {metric: value}})."""
    con.execute("DELETE FROM scores WHERE submission_id = ?", (submission_id,))
    for part, values in (scores or {}).items():
        con.executemany(
            "INSERT INTO scores (submission_id, part, metric, value) VALUES (?, ?, ?, ?)",
            [(submission_id, part, m, float(v)) for m, v in values.items()],
        )


def finish(event: Event, submission_id: int, status: str, message: str | None = None,
            scores: dict | None = None, digest: str | None = None) -> None:
    with event.connect() as con, store.write(con):
        save_scores(con, submission_id, scores)
        con.execute(
            "UPDATE submissions SET status = ?, message = ?, finished_at = ?, digest = ? WHERE id = ?",
            (status, message, store.now(), digest, submission_id),
        )


def get_submission(event: Event, submission_id: int) -> Submission:
    with event.connect() as con:
        row = con.execute("SELECT * FROM submissions WHERE id = ?", (submission_id,)).fetchone()
        if row is None:
            raise NotFound(f"There is no submission {submission_id} in this event.")
        scores = con.execute("SELECT part, metric, value FROM scores WHERE submission_id = ?",
                             (submission_id,)).fetchall()
    parts: dict[str, dict[str, float]] = {"public": {}, "private": {}}
    for part, metric, value in scores:
        parts[part][metric] = value
    return Submission(row["id"], row["team"], row["theme"], row["kind"], row["source"],
                      row["submitted_at"], row["status"], row["message"], parts["public"],
                      parts["private"], event.submission_dir(row["id"]), row["sandbox"] == "on",
                      row["attempts"])


def list_submissions(event: Event, team: str) -> list[Submission]:
    get_team(event, team)
    with event.connect() as con:
        ids = [r[0] for r in con.execute("SELECT id FROM submissions WHERE team = ? ORDER BY id", (team,))]
    return [get_submission(event, i) for i in ids]


def remaining(event: Event, team: str, now: dt.datetime | None = None) -> tuple[int, int]:
    """(left today, left in the event) for the team's theme."""
    info = get_team(event, team)
    if not info.theme:
        return 0, 0
    with event.connect() as con:
        return limits.left(con, event, team, info.theme, now or dt.datetime.now(dt.UTC))
