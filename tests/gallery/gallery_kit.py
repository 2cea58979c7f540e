"""The gallery tests reuse the hackathon test kit (company copy, sandbox user, events).

Its fixtures come in as a plugin (`pytest_plugins = ["hackathon_fixtures"]` in each test module),
so there is one instance of each per test session; this module makes the kit importable and adds
gallery helpers.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hackathon"))

from hackathon_kit import (  # noqa: E402
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
