"""The runner service's queue, kept in the event store (so a crash or a restart loses nothing).

A submission from the drop box is reserved as `queued` (limits are checked then, at the door,
not after a run). The service claims the next one for a free slot: teams take turns (the team
with nothing running whose last run began longest ago goes first), each team's own in the
order they came. A run whose process is gone (the service was stopped or crashed) is queued
again once; a second cut rejects it with the reason, so every submission ends exactly once.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass

from matsuri.hackathon import records, store
from matsuri.hackathon.event import Event
from matsuri.sandbox.box import still_running

DEFAULT_RUN_SECONDS = 60.0   # the estimate before any run has finished


@dataclass
class Waiting:
    id: int
    team: str
    position: int             # 1 = next to run
    estimate_seconds: float   # until it starts, from recent runs' times


def claim(event: Event, runner: str) -> int | None:
    """Mark the next submission running for `runner` (pid:start) and return its id, or None."""
    with event.connect() as con, store.write(con):
        order = _order(con)
        if not order:
            return None
        chosen = order[0][0]
        con.execute("UPDATE submissions SET status = 'running', runner = ?, started_at = ?, "
                    "attempts = attempts + 1, message = NULL WHERE id = ?", (runner, store.now(), chosen))
        return chosen


def hand_over(event: Event, submission_id: int, runner: str) -> None:
    """The run's own process takes the record over, so a restart can tell it is still going."""
    with event.connect() as con, store.write(con):
        con.execute("UPDATE submissions SET runner = ? WHERE id = ?", (runner, submission_id))


def recover(event: Event) -> list[int]:
    """Runs of the service whose process is gone: queued again once, rejected the second time."""
    with event.connect() as con:
        rows = con.execute("SELECT id, runner FROM submissions WHERE status = 'running' "
                           "AND submitted_by IS NOT NULL").fetchall()
    gone = [r["id"] for r in rows if not still_running(r["runner"])]
    for submission_id in gone:
        status, message = records.cut_off(event, submission_id)
        if status != "queued":
            records.finish(event, submission_id, status, message)
    return gone


def waiting(event: Event, slots: int) -> list[Waiting]:
    """Everything queued, in the order it will run, with an estimate of when it starts."""
    with event.connect() as con:
        order = _order(con)
        running = con.execute("SELECT count(*) FROM submissions WHERE status = 'running'").fetchone()[0]
        typical = typical_run_seconds(con)
    out = []
    for position, (submission_id, team) in enumerate(order, start=1):
        ahead = position - 1 + running  # runs that must end (or start) before this one starts
        rounds = math.floor(ahead / max(1, slots))
        out.append(Waiting(submission_id, team, position, rounds * typical))
    return out


def typical_run_seconds(con) -> float:
    """The median time of the last 20 finished runs (what a place in the queue is worth)."""
    rows = con.execute("SELECT started_at, finished_at FROM submissions WHERE started_at IS NOT NULL "
                       "AND finished_at IS NOT NULL AND status IN ('scored', 'rejected') "
                       "ORDER BY id DESC LIMIT 20").fetchall()
    times = [(dt.datetime.fromisoformat(r[1]) - dt.datetime.fromisoformat(r[0])).total_seconds()
             for r in rows]
    return statistics.median(times) if times else DEFAULT_RUN_SECONDS


def queued_count(event: Event) -> int:
    with event.connect() as con:
        return con.execute("SELECT count(*) FROM submissions WHERE status = 'queued'").fetchone()[0]


def _order(con) -> list[tuple[int, str]]:
    """Queued submissions in running order: round robin over teams, fairest first."""
    queued = con.execute("SELECT id, team FROM submissions WHERE status = 'queued' ORDER BY id").fetchall()
    if not queued:
        return []
    busy = dict(con.execute("SELECT team, count(*) FROM submissions WHERE status = 'running' "
                            "GROUP BY team").fetchall())
    last = dict(con.execute("SELECT team, max(started_at) FROM submissions WHERE started_at IS NOT "
                            "NULL AND status <> 'queued' GROUP BY team").fetchall())
    per_team: dict[str, list[int]] = {}
    for row in queued:
        per_team.setdefault(row["team"], []).append(row["id"])
    # turn k of every team comes before turn k+1 of any; within a turn, idle and long-waiting first
    order = []
    for team, ids in per_team.items():
        for turn, submission_id in enumerate(ids):
            order.append(((turn + busy.get(team, 0), last.get(team) or "", submission_id), submission_id, team))
    return [(submission_id, team) for _, submission_id, team in sorted(order)]
