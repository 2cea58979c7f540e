"""What the event store says about each team: members, theme, scored submissions, the baseline
and whether judges saw its demo.

- First scored submission: the team's earliest submission with status `scored` (its hand-in time).
- Beat the baseline: a scored submission whose public score on the theme's leaderboard metric is
  better than `[themes.<id>] baseline` in event.toml (the public score of the theme's baseline,
  measured the same way: `matsuri hackathon baseline`). No baseline set: not measured (None).
- Demo shown: at least one judge saved rubric marks for the team (judges mark what they saw).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from matsuri.hackathon.event import Event
from matsuri.hackathon.leaderboard import primary_metric


@dataclass
class TeamFacts:
    team: str
    display_name: str
    theme: str
    members: list[str]
    first_scored: datetime | None = None
    best_public: float | None = None
    metric: str = ""
    baseline: float | None = None
    beat_at: datetime | None = None          # the first submission better than the baseline
    demo_shown: bool = False
    marks_by: list[str] = field(default_factory=list)

    @property
    def beat(self) -> bool | None:
        """Beat the baseline: True or False; None for a scored team whose theme has no baseline."""
        if self.first_scored is None:
            return False
        return None if self.baseline is None else self.beat_at is not None


def read(event: Event) -> dict[str, TeamFacts]:
    with event.connect() as con:
        teams = con.execute("SELECT team, display_name, coalesce(theme, '') FROM teams ORDER BY team").fetchall()
        members = con.execute("SELECT team, member FROM members ORDER BY member").fetchall()
        scored = con.execute(
            "SELECT s.team, s.theme, s.submitted_at, sc.metric, sc.value FROM submissions s "
            "JOIN scores sc ON sc.submission_id = s.id "
            "WHERE s.status = 'scored' AND sc.part = 'public' ORDER BY s.submitted_at, s.id").fetchall()
        firsts = con.execute("SELECT team, min(submitted_at) FROM submissions WHERE status = 'scored' "
                               "GROUP BY team").fetchall()
        judged = con.execute("SELECT team, judge FROM marks GROUP BY team, judge ORDER BY judge").fetchall()
    facts = {team: TeamFacts(team, name, theme, []) for team, name, theme in teams}
    for team, member in members:
        facts[team].members.append(member)
    for team in facts.values():
        if team.theme in event.settings.themes:
            team.metric = primary_metric(event, team.theme)[0]
            team.baseline = event.settings.themes[team.theme].baseline
    for team, first in firsts:
        facts[team].first_scored = _time(first)
    for team, theme, at, metric, value in scored:
        _score(event, facts[team], theme, _time(at), metric, value)
    for team, judge in judged:
        if team in facts:
            facts[team].demo_shown = True
            facts[team].marks_by.append(judge)
    return facts


def _score(event: Event, team: TeamFacts, theme: str, at: datetime, metric: str, value: float) -> None:
    if theme not in event.settings.themes:
        return  # a theme switched off since: no metric or baseline to compare with
    wanted, higher = primary_metric(event, theme)
    if metric != wanted or theme != team.theme:
        return
    better = (lambda a, b: a > b) if higher else (lambda a, b: a < b)
    if team.best_public is None or better(value, team.best_public):
        team.best_public = value
    if team.baseline is not None and team.beat_at is None and better(value, team.baseline):
        team.beat_at = at


def _time(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
