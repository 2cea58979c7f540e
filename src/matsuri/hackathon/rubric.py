"""Judges' marks: one mark per (judge, team, criterion), saved in one transaction with a note.

Saving again replaces that judge's marks for that team; other judges' marks are never touched,
so judges marking at the same time (each in their own Voila kernel or terminal) lose nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from matsuri.errors import NotFound, UsageError
from matsuri.hackathon import store
from matsuri.hackathon.event import Event


def check_marks(event: Event, judge: str, marks: dict[str, float]) -> dict[str, int]:
    settings = event.settings
    judge = judge.strip()
    if not judge:
        raise UsageError("Please give the judge's name before saving marks.")
    if settings.judges and judge not in settings.judges:
        raise UsageError(
            f"'{judge}' is not on the judges' list ({', '.join(settings.judges)}); check the name "
            f"or add it to judging.judges in {settings.path}."
        )
    known = {c.id for c in settings.criteria}
    unknown = sorted(set(marks) - known)
    if unknown:
        raise UsageError(f"Unknown criterion '{unknown[0]}'. The criteria are: {', '.join(sorted(known))}.")
    missing = [c.id for c in settings.criteria if c.id not in marks]
    if missing:
        raise UsageError(f"Please give a mark for every criterion; missing: {', '.join(missing)}.")
    low, high = settings.scale
    clean = {}
    for cid, value in marks.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) \
                or not low <= value <= high:
            raise UsageError(f"The mark for '{cid}' must be a whole number from {low} to {high}, not {value!r}.")
        clean[cid] = int(value)
    return clean


def save_marks(event: Event, judge: str, team: str, marks: dict[str, float], note: str = "") -> None:
    clean = check_marks(event, judge, marks)
    judge = judge.strip()
    at = store.now()
    with event.connect() as con, store.write(con):
        if not con.execute("SELECT 1 FROM teams WHERE team = ?", (team,)).fetchone():
            raise NotFound(f"There is no team '{team}' to mark.")
        con.executemany(
            "INSERT INTO marks (judge, team, criterion, value, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (judge, team, criterion) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            [(judge, team, cid, value, at) for cid, value in clean.items()],
        )
        if note.strip():
            con.execute(
                "INSERT INTO notes (judge, team, note, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (judge, team) DO UPDATE SET note = excluded.note, updated_at = excluded.updated_at",
                (judge, team, note.strip(), at),
            )
        else:
            con.execute("DELETE FROM notes WHERE judge = ? AND team = ?", (judge, team))


def marks_of(event: Event, judge: str, team: str) -> tuple[dict[str, int], str]:
    """What this judge gave this team so far (to show in the form when they come back)."""
    with event.connect() as con:
        marks = {r[0]: int(r[1]) for r in con.execute(
            "SELECT criterion, value FROM marks WHERE judge = ? AND team = ?", (judge, team))}
        note = con.execute("SELECT note FROM notes WHERE judge = ? AND team = ?", (judge, team)).fetchone()
    return marks, note[0] if note else ""


@dataclass
class TeamMarks:
    team: str
    judges: list[str] = field(default_factory=list)
    by_criterion: dict[str, float] = field(default_factory=dict)  # mean over judges
    score: float | None = None  # weighted mean rescaled to 0..1, None if nobody marked the team
    notes: list[tuple[str, str]] = field(default_factory=list)


def summary(event: Event) -> dict[str, TeamMarks]:
    """Per team: judges, mean mark per criterion, weighted score in 0..1 and the judges' notes."""
    settings = event.settings
    low, high = settings.scale
    with event.connect() as con:
        teams = [r[0] for r in con.execute("SELECT team FROM teams ORDER BY team")]
        rows = con.execute("SELECT judge, team, criterion, value FROM marks").fetchall()
        notes = con.execute("SELECT judge, team, note FROM notes ORDER BY judge").fetchall()
    result = {t: TeamMarks(t) for t in teams}
    values: dict[tuple[str, str], list[float]] = {}
    for judge, team, criterion, value in rows:
        if team in result:
            values.setdefault((team, criterion), []).append(value)
            if judge not in result[team].judges:
                result[team].judges.append(judge)
    total_weight = sum(c.weight for c in settings.criteria)
    for team, marks in result.items():
        marks.judges.sort()
        for c in settings.criteria:
            got = values.get((team, c.id))
            if got:
                marks.by_criterion[c.id] = sum(got) / len(got)
        if len(marks.by_criterion) == len(settings.criteria):
            weighted = sum(c.weight * marks.by_criterion[c.id] for c in settings.criteria) / total_weight
            marks.score = (weighted - low) / (high - low)
    for judge, team, note in notes:
        if team in result:
            result[team].notes.append((judge, note))
    return result
