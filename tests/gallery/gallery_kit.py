"""The gallery tests reuse the hackathon test kit (company copy, sandbox user, events)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hackathon"))

from hackathon_kit import *  # noqa: E402, F403


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
