"""Does `matsuri hackathon init` warn when today, in the event's time zone, is outside its dates?"""

from __future__ import annotations

import datetime as dt

from conftest import run_matsuri
from matsuri.hackathon.event import init_event


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def dates_notes(event, now):
    return [n for n in init_event(event.root, now=at(now))[1] if "today is" in n]


def test_init_warns_when_the_dates_have_passed_or_are_ahead_and_says_what_to_edit(make_event):
    """Is a past or future event named with its dates, today's date and the keys to edit?"""
    event = make_event(starts="2026-06-01", ends="2026-06-05")
    passed = dates_notes(event, "2026-12-02 09:00")
    assert len(passed) == 1 and passed[0].startswith("WARNING: this event's dates have passed")
    assert "from 2026-06-01 to 2026-06-05 (Asia/Tokyo time) and today is 2026-12-02" in passed[0]
    assert f"change `starts` and `ends` under [event] in {event.root / 'event.toml'}" in passed[0]

    ahead = dates_notes(event, "2026-05-29 09:00")
    assert len(ahead) == 1 and ahead[0].startswith("WARNING: this event has not started")
    assert "refused until 2026-06-01, 3 days from now" in ahead[0]
    assert dates_notes(event, "2026-06-03 09:00") == []


def test_the_dates_are_read_in_the_events_time_zone(make_event):
    """Does the first and last minute of the event count by the event's clock, not UTC?"""
    event = make_event(starts="2026-06-01", ends="2026-06-05")
    assert dates_notes(event, "2026-05-31 15:00") == []            # 00:00 on 1 June in Tokyo
    assert "1 day from now" in dates_notes(event, "2026-05-31 14:59")[0]
    assert dates_notes(event, "2026-06-05 14:59") == []            # 23:59 on 5 June in Tokyo
    assert "have passed" in dates_notes(event, "2026-06-05 15:00")[0]


def test_the_cli_says_ready_and_warns_about_past_dates(make_event):
    """Does `init` still set the event up, and print the warning beside "ready"?"""
    event = make_event(starts="2020-01-01", ends="2020-01-05")
    out = run_matsuri(["hackathon", "--event", str(event.root), "init"]).out
    assert "is ready in" in out
    assert "WARNING: this event's dates have passed: it ran from 2020-01-01 to 2020-01-05" in out
