"""The festival funnel: for every participant and team, which stages they reached.

Stages (STAGES, in order): registered · started sql-101 · finished sql-101 · started ml-101 ·
first scored submission · beat the baseline · demo shown. Each stage counts everyone who reached
it, whether or not they reached the ones above (a team member may submit without the courses).

- Registered: a row of participants.csv whose role is `learner` (instructors and judges are not
  counted).
- Started a course: an event of that course in the person's activity log, or a lesson of it
  submitted (graded or only collected).
- Finished sql-101: every lesson course.toml lists submitted.
- First scored submission, beat the baseline, demo shown: their team's (`funnel.teams`). Their team
  is the one the event store lists them in (else none: the column team of participants.csv is
  only shown).

Headline figures: the share of non-engineer participants (`funnel.jobs`) with at least one scored
submission, and the median time from a person's first lesson activity (the first event in their
log or their first submitted lesson, of any course) to their team's first scored submission,
over the people who have both (a submission before any lesson counts as a negative time).
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from matsuri import paths
from matsuri.errors import MatsuriError, UsageError
from matsuri.funnel import ACTIVITY_ENV, PARTICIPANTS_ENV, courses, jobs, logs
from matsuri.funnel import teams as event_teams
from matsuri.hackathon.event import Event

SQL_COURSE, ML_COURSE = "sql-101", "ml-101"


@dataclass(frozen=True)
class Stage:
    id: str
    ja: str
    en: str


STAGES = (
    Stage("registered", "参加登録", "registered"),
    Stage("started_sql_101", "sql-101 を開始", "started sql-101"),
    Stage("finished_sql_101", "sql-101 を修了", "finished sql-101"),
    Stage("started_ml_101", "ml-101 を開始", "started ml-101"),
    Stage("scored_submission", "スコア付きの提出", "first scored submission"),
    Stage("beat_baseline", "ベースラインを上回る", "beat the baseline"),
    Stage("demo_shown", "デモを披露", "demo shown"),
)


@dataclass
class Sources:
    """Where the funnel reads from."""

    event: Event
    participants: Path
    activity: list[Path]                  # folders holding <user>/.matsuri/activity.jsonl
    course_work: Path | None = None       # courses' work folders (default: MATSURI_COURSE_WORK, courses/build)
    homes: bool = True                    # also look in the home of an account named like each person

    @classmethod
    def default(cls, event: Event, participants: Path | None = None,
                activity: list[Path] | None = None, course_work: Path | None = None) -> Sources:
        found = os.environ.get(PARTICIPANTS_ENV)
        participants = Path(participants or found or paths.project_root() / "participants.csv")
        spread = [Path(p) for p in os.environ.get(ACTIVITY_ENV, "").split(os.pathsep) if p]
        return cls(event, participants, list(activity or spread or [local_workspaces()]), course_work)


def local_workspaces() -> Path:
    """The local target's workspaces folder (infra/settings.toml [local] root, default event/)."""
    from matsuri.infra.settings import load

    try:
        root = Path(load().local.root)
    except MatsuriError:
        root = Path("event")
    return (root if root.is_absolute() else paths.project_root() / root) / "workspaces"


@dataclass
class Person:
    username: str
    job: str
    engineer: bool | None
    team: str                               # their team in the event store ("" none)
    theme: str
    stages: dict[str, bool | None]          # stage id → reached (None: not measured)
    first_lesson: datetime | None = None
    first_scored: datetime | None = None
    events: int = 0                         # lines in their activity log
    opted_out: bool = False

    @property
    def hours_to_first_score(self) -> float | None:
        if self.first_lesson is None or self.first_scored is None:
            return None
        return (self.first_scored - self.first_lesson).total_seconds() / 3600


@dataclass
class Headline:
    non_engineers: int
    non_engineers_scored: int
    unknown_jobs: int
    median_hours: float | None
    timed: int                              # people with both a first lesson and a scored submission

    @property
    def share(self) -> float | None:
        return self.non_engineers_scored / self.non_engineers if self.non_engineers else None


@dataclass
class Funnel:
    event_name: str
    people: list[Person]
    teams: list[event_teams.TeamFacts]
    notes: list[str] = field(default_factory=list)
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def count(self, stage: str, engineer: bool | None | str = "all") -> int:
        """People who reached `stage`: everyone, or only engineers (True) / non-engineers (False)."""
        return sum(p.stages[stage] is True for p in self.people if engineer == "all" or p.engineer is engineer)

    def members_reached(self, team: str, stage: str) -> int:
        return sum(p.stages[stage] is True for p in self.people if p.team == team)

    @property
    def headline(self) -> Headline:
        others = [p for p in self.people if p.engineer is False]
        hours = [h for p in self.people if (h := p.hours_to_first_score) is not None]
        return Headline(len(others), sum(p.stages["scored_submission"] is True for p in others),
                        sum(p.engineer is None for p in self.people),
                        statistics.median(hours) if hours else None, len(hours))


def build(sources: Sources) -> Funnel:
    """Read participants.csv, the gradebooks, the activity logs and the event store; never writes."""
    from matsuri.infra import participants

    people = [p for p in participants.load(sources.participants) if p.role == "learner"]
    if not people:
        raise UsageError(f"{sources.participants} lists no one with the role learner, so the funnel "
                         "has no one to count: give participants the role learner.")
    taught = {name: courses.read(name, sources.course_work) for name in (SQL_COURSE, ML_COURSE)}
    store = event_teams.read(sources.event)
    team_of = {member: team for team in store.values() for member in team.members}  # one team each
    funnel = Funnel(sources.event.settings.name, [], list(store.values()))
    skipped = unreadable = 0
    for p in people:
        found = logs.read_person(p.username, sources.activity, sources.homes) if p.activity_log \
            else logs.Found([], opted_out=True)
        skipped, unreadable = skipped + found.skipped_lines, unreadable + found.unreadable
        team = team_of.get(p.username)
        funnel.people.append(_person(p, found, taught, team))
    funnel.notes = _notes(funnel, taught, store, {p.username for p in people}, skipped, unreadable)
    return funnel


def _person(p, found: logs.Found, taught: dict[str, courses.CourseFacts],
            team: event_teams.TeamFacts | None) -> Person:
    times = [e.time for e in found.events]
    started = {}
    for name, facts in taught.items():
        handed_in = facts.submitted.get(p.username, {})
        times += [t for t in handed_in.values() if t is not None]
        started[name] = bool(handed_in) or any(e.course == name for e in found.events)
    stages = {
        "registered": True,
        "started_sql_101": started[SQL_COURSE],
        "finished_sql_101": taught[SQL_COURSE].finished(p.username),
        "started_ml_101": started[ML_COURSE],
        "scored_submission": bool(team and team.first_scored),
        "beat_baseline": team.beat if team else False,
        "demo_shown": bool(team and team.demo_shown),
    }
    return Person(p.username, p.job, jobs.is_engineer(p.job), team.team if team else "",
                  team.theme if team else "", stages, min(times, default=None),
                  team.first_scored if team else None, len(found.events), found.opted_out)


def _notes(funnel: Funnel, taught: dict, store: dict, registered: set[str], skipped: int,
           unreadable: int) -> list[str]:
    """What the organiser should know about the numbers, each with what to do about it."""
    notes = [note for facts in taught.values() for note in facts.notes]
    unknown = funnel.headline.unknown_jobs
    if unknown:
        notes.append(f"{unknown} participant(s) have no job in participants.csv, so they are left out "
                     "of the non-engineer share: fill in the column job (e.g. sales, hr, engineer; "
                     "the per-person CSV shows who).")
    off = sum(p.opted_out for p in funnel.people)
    if off:
        notes.append(f"{off} participant(s) opted out of the activity log: for them a course counts "
                     "as started only once a lesson is submitted.")
    if skipped:
        notes.append(f"{skipped} line(s) of activity logs were not events and were skipped.")
    if unreadable:
        notes.append(f"{unreadable} activity log(s) could not be read by this account (homes on a "
                     "JupyterHub are private): run the funnel with sudo to count them.")
    for theme in sorted({t.theme for t in store.values() if t.first_scored and t.baseline is None}):
        notes.append(f"Theme {theme or '(none)'} has no baseline in event.toml, so 'beat the baseline' "
                     f"is not measured for its teams: measure it with `matsuri hackathon baseline "
                     f"{theme or 'THEME'} FOLDER` and set `baseline = …` under [themes.{theme or 'THEME'}].")
    strangers = sorted({m for t in store.values() for m in t.members} - registered)
    if strangers:
        notes.append(f"Team members not registered as learners in participants.csv are not counted: "
                     f"{', '.join(strangers[:20])}{' …' if len(strangers) > 20 else ''}.")
    return notes
