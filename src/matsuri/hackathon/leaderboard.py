"""Leaderboards: public during the event, private for the final ranking.

- Public: each team's best public score on the theme's metric (ties: the earlier submission wins).
- Final (private): each team's final submission scored on the private part. The final submission
  is the one the team selected (`matsuri hackathon select`), or, if it selected none, its best
  public submission, as on Kaggle. The private part never influenced anything a team saw.
"""

from __future__ import annotations

from dataclasses import dataclass

from matsuri.errors import NotFound, UsageError
from matsuri.hackathon import store
from matsuri.hackathon.event import Event
from matsuri.hackathon.themes import get_theme


@dataclass
class Entry:
    rank: int
    team: str
    display_name: str
    theme: str
    submission_id: int
    score: float
    metrics: dict[str, float]
    entries: int
    submitted_at: str
    chosen: str  # "selected" | "best public"
    sandboxed: bool = True  # False: the notebook ran without a sandbox (--no-sandbox), shown on boards


def primary_metric(event: Event, theme: str) -> tuple[str, bool]:
    """(metric name, higher is better) for the theme, as the settings choose."""
    metric = event.settings.theme(theme).metric
    return metric, get_theme(theme).metrics[metric]


def _scored(event: Event, theme: str) -> tuple[dict, dict, dict, dict]:
    with event.connect() as con:
        rows = con.execute(
            "SELECT s.id, s.team, s.submitted_at, s.sandbox, sc.part, sc.metric, sc.value FROM submissions s "
            "JOIN scores sc ON sc.submission_id = s.id WHERE s.theme = ? AND s.status = 'scored'",
            (theme,),
        ).fetchall()
        names = dict(con.execute("SELECT team, display_name FROM teams").fetchall())
        picks = dict(con.execute("SELECT team, submission_id FROM selections").fetchall())
    subs: dict[int, dict] = {}
    for sid, team, at, sandbox, part, metric, value in rows:
        entry = subs.setdefault(sid, {"team": team, "at": at, "public": {}, "private": {},
                                      "sandboxed": sandbox != "off"})
        entry[part][metric] = value
    by_team: dict[str, list[int]] = {}
    for sid, entry in subs.items():
        by_team.setdefault(entry["team"], []).append(sid)
    return subs, by_team, names, picks


def _best_public(ids: list[int], subs: dict, metric: str, higher: bool) -> int:
    return sorted(ids, key=lambda i: (-subs[i]["public"][metric] if higher else subs[i]["public"][metric], i))[0]


def _ranked(entries: list[Entry], higher: bool) -> list[Entry]:
    entries.sort(key=lambda e: (-e.score if higher else e.score, e.submitted_at))
    for rank, entry in enumerate(entries, start=1):
        entry.rank = rank
    return entries


def public_board(event: Event, theme: str) -> list[Entry]:
    metric, higher = primary_metric(event, theme)
    subs, by_team, names, _ = _scored(event, theme)
    entries = []
    for team, ids in by_team.items():
        best = _best_public(ids, subs, metric, higher)
        entries.append(Entry(0, team, names.get(team, team), theme, best, subs[best]["public"][metric],
                             subs[best]["public"], len(ids), subs[best]["at"], "best public",
                             subs[best]["sandboxed"]))
    return _ranked(entries, higher)


def final_board(event: Event, theme: str) -> list[Entry]:
    metric, higher = primary_metric(event, theme)
    subs, by_team, names, picks = _scored(event, theme)
    entries = []
    for team, ids in by_team.items():
        if picks.get(team) in subs:
            chosen, how = picks[team], "selected"
        else:
            chosen, how = _best_public(ids, subs, metric, higher), "best public"
        entries.append(Entry(0, team, names.get(team, team), theme, chosen, subs[chosen]["private"][metric],
                             subs[chosen]["private"], len(ids), subs[chosen]["at"], how,
                             subs[chosen]["sandboxed"]))
    return _ranked(entries, higher)


def select(event: Event, team: str, submission_id: int) -> None:
    """Make a scored submission the team's final one (replacing an earlier choice)."""
    with event.connect() as con, store.write(con):
        row = con.execute("SELECT team, status FROM submissions WHERE id = ?", (submission_id,)).fetchone()
        if row is None or row["team"] != team:
            raise NotFound(
                f"Team '{team}' has no submission {submission_id}. See its submissions with "
                f"`matsuri hackathon submissions {team}`."
            )
        if row["status"] != "scored":
            raise UsageError(
                f"Submission {submission_id} was not accepted ({row['status']}), so it cannot be the "
                "final one. Choose a scored submission."
            )
        con.execute(
            "INSERT INTO selections (team, submission_id, selected_at) VALUES (?, ?, ?) "
            "ON CONFLICT (team) DO UPDATE SET submission_id = excluded.submission_id, "
            "selected_at = excluded.selected_at",
            (team, submission_id, store.now()),
        )
