"""Gallery helpers on top of the hackathon test kit (company copy, sandbox user, events), whose
fixtures every test has (tests/conftest.py loads them once per session)."""

from __future__ import annotations

from support.hackathon_kit import (
    DEFAULTS,
    SETTINGS,
    add_team,
    notebook,
    push_predictions,
    write_csv,
)

__all__ = ["DEFAULTS", "SETTINGS", "add_team", "child_commands", "notebook", "push_predictions", "write_csv"]


def child_commands(pid: int) -> list[str]:
    """Command lines of the live processes under `pid` (ones ending meanwhile are skipped)."""
    import psutil

    commands = []
    for proc in psutil.Process(pid).children(recursive=True):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                commands.append(" ".join(proc.cmdline()))
        except psutil.Error:
            pass
    return commands
