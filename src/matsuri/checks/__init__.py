"""Instant checks inside course notebooks.

A lesson's locked setup cell runs `start("sql-101", "<lesson>")`; then each exercise is an object
in the notebook: `q1.check()`, `q1.hint()`, `q1.solution()`. Importing this package is cheap:
pandas, duckdb and jupysql load only when `start` runs. Each check, hint and solution is noted in
the learner's own activity log (`matsuri.checks.activity`); `activity_off()` stops that.
"""

from __future__ import annotations


def start(course: str, lesson: str, language: str | None = None) -> None:
    """Set up a lesson notebook (see `matsuri.checks.session.start`)."""
    from matsuri.checks.session import start as _start

    _start(course, lesson, language)


def activity_off() -> None:
    """Stop the activity log in this workspace and delete what it held (see matsuri.checks.activity)."""
    from matsuri.checks.activity import opt_out

    print(opt_out())


__all__ = ["activity_off", "start"]
