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

__all__ = ["DEFAULTS", "SETTINGS", "add_team", "child_commands", "forked_kernels", "notebook", "push_predictions",
           "write_csv"]
ZYGOTE = ["-m", "matsuri.grading.forkserver"]


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


def forked_kernels(pid: int) -> list[int]:
    """Pids of the live kernels under `pid` that a zygote forked (the gallery's demo kernels):
    a fork keeps its zygote's command line, and its parent is that zygote."""
    import psutil

    found = []
    for proc in psutil.Process(pid).children(recursive=True):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and proc.cmdline()[1:3] == ZYGOTE \
                    and proc.parent().cmdline()[1:3] == ZYGOTE:
                found.append(proc.pid)
        except psutil.Error:
            pass
    return found
