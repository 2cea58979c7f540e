"""The final ranking: the leaderboard and the judges' marks mixed as the settings say.

Themes use different metrics, so a team's metric part is its place on its theme's private
leaderboard turned into 0..1 (first 1.0, last 0.0, alone 1.0; no scored submission 0.0). Its
rubric part is the criteria-weighted mean of the judges' average marks, rescaled from the rubric
scale to 0..1 (0.0 if nobody marked it). Total = metric_weight × metric part + rubric_weight ×
rubric part. Ties go to the better metric part, then to the team id.
"""

from __future__ import annotations

from dataclasses import dataclass

from matsuri.hackathon import leaderboard, rubric
from matsuri.hackathon.event import Event
from matsuri.hackathon.teams import list_teams


@dataclass
class Standing:
    place: int
    team: str
    display_name: str
    theme: str
    members: list[str]
    entry: leaderboard.Entry | None   # the final submission on the private leaderboard
    theme_size: int
    metric_part: float
    rubric_part: float
    marks: rubric.TeamMarks
    total: float


def standings(event: Event) -> list[Standing]:
    settings = event.settings
    boards = {theme: leaderboard.final_board(event, theme) for theme in settings.themes}
    marks = rubric.summary(event)
    result = []
    for team in list_teams(event):
        if not team.theme or team.theme not in boards:
            continue
        board = boards[team.theme]
        entry = next((e for e in board if e.team == team.team), None)
        if entry is None:
            metric_part = 0.0
        elif len(board) == 1:
            metric_part = 1.0
        else:
            metric_part = (len(board) - entry.rank) / (len(board) - 1)
        team_marks = marks.get(team.team, rubric.TeamMarks(team.team))
        rubric_part = team_marks.score or 0.0
        total = settings.metric_weight * metric_part + settings.rubric_weight * rubric_part
        result.append(Standing(0, team.team, team.display_name, team.theme, team.members, entry,
                               len(board), metric_part, rubric_part, team_marks, total))
    result.sort(key=lambda s: (-round(s.total, 12), -s.metric_part, s.team))
    for place, standing in enumerate(result, start=1):
        standing.place = place
    return result
