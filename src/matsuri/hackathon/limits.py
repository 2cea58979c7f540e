"""Submission limits: dates, and how many a team may still submit today and in the event.

Limits count scored submissions and the ones queued or running, in the event's time zone.
"""

from __future__ import annotations

import datetime as dt

from matsuri.hackathon.event import Event

COUNTED = ("queued", "running", "scored")


def usage(con, event: Event, team: str, theme: str, now: dt.datetime) -> tuple[int, int]:
    """(submissions counted in the event, of which today) for a team's theme."""
    rows = con.execute(
        f"SELECT submitted_at FROM submissions WHERE team = ? AND theme = ? AND status IN {COUNTED}",
        (team, theme),
    ).fetchall()
    today = now.astimezone(event.settings.zone).date()
    return len(rows), sum(1 for r in rows if _local_day(r[0], event) == today)


def _local_day(iso: str, event: Event) -> dt.date:
    return dt.datetime.fromisoformat(iso).astimezone(event.settings.zone).date()


def problem(con, event: Event, team: str, theme: str, now: dt.datetime) -> str | None:
    """Why a new submission may not be scored now (dates, event or daily limit), or None."""
    settings = event.settings
    limits = settings.theme(theme)
    today = now.astimezone(settings.zone).date()
    if not settings.is_open(now):
        return (f"Submissions are accepted from {settings.starts} to {settings.ends} "
                f"({settings.timezone} time), and today is {today}, so this submission was not "
                "scored. Ask the organisers if you think the dates are wrong.")
    total, used = usage(con, event, team, theme, now)
    if total >= limits.total_limit:
        return (f"Team '{team}' has used all {limits.total_limit} submissions allowed for "
                f"{theme} in this event, so this one was not scored. Choose your final submission "
                f"with `matsuri hackathon select {team} ID` from the ones you have.")
    if used >= limits.daily_limit:
        return (f"Team '{team}' has used its {limits.daily_limit} submissions for today ({today}, "
                f"{settings.timezone} time) on {theme}, so this one was not scored. You can submit "
                "again from midnight; until then, compare ideas on a validation split in your notebook.")
    return None


def left(con, event: Event, team: str, theme: str, now: dt.datetime) -> tuple[int, int]:
    """(left today, left in the event)."""
    limits = event.settings.theme(theme)
    total, used = usage(con, event, team, theme, now)
    total_left = max(0, limits.total_limit - total)
    return min(total_left, max(0, limits.daily_limit - used)), total_left
