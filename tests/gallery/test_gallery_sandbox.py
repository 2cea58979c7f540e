"""With warm pools, does the gallery run only the teams' demos, each sandboxed as its team, none as root?

Voila's preheating runs every notebook it finds before anyone asks; this serves a real Voila with a
pool and looks at who owns each kernel process it started.
"""

from __future__ import annotations

import pwd
import time

import psutil

from conftest import free_port  # noqa: E402
from matsuri.gallery.server import serve  # noqa: E402
from matsuri.sandbox.box import runs_root  # noqa: E402
from support.hackathon_kit import add_team, notebook  # noqa: E402

DEMO = """
import os
from pathlib import Path
(Path(os.environ["MATSURI_CACHE"]) / "preheated").write_text(str(os.getuid()))
print("demo ready")
"""
STARTER = "from pathlib import Path\nPath({marker!r}).write_text('starter ran')"


def _kernels(voila_pid: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.Process(voila_pid).children(recursive=True):
        try:
            if proc.cmdline()[1:3] == ["-m", "ipykernel_launcher"]:
                found.append(proc)
        except psutil.Error:
            pass
    return found


def test_warm_pools_run_only_demos_each_as_its_team_and_nothing_of_a_team_as_root(
        make_event, sandbox_user, tmp_path):
    """Are the pooled demo kernels sandboxed as each team's identity, is no team notebook run as
    root, and is a team's starter (or any other notebook of theirs) never run at all?"""
    event = make_event()
    marker = tmp_path / "starter-ran"
    for team in ("alpha", "beta"):
        add_team(event, team, "push-open-rate")
        workspace = event.teams_dir / team
        notebook(workspace / "demo.ipynb", DEMO)
        notebook(workspace / "starter.ipynb", STARTER.format(marker=str(marker)))
        notebook(workspace / "analysis" / "other.ipynb", STARTER.format(marker=str(marker)))
    uids = {team: pwd.getpwnam(f"{sandbox_user}-{n}").pw_uid for n, team in ((1, "alpha"), (2, "beta"))}
    with serve(event, free_port(), preheat=True) as running:
        cache = running.gallery.scratch / "cache"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all((cache / t / "preheated").exists() for t in uids):
            time.sleep(0.5)
        kernels = _kernels(running.process.pid)
        owners = {}
        for proc in kernels:
            sandboxed = any(f"{runs_root()}/kernel-" in part for part in proc.cmdline())
            owners.setdefault("sandboxed" if sandboxed else "plain", []).append(proc.uids().real)
        notebooks = sorted(p.relative_to(running.gallery.root).as_posix()
                           for p in running.gallery.root.rglob("*.ipynb"))
        preheated = {t: (cache / t / "preheated").read_text() for t in uids}
    assert preheated == {t: str(uid) for t, uid in uids.items()}  # each demo ran as its own team
    assert sorted(owners["sandboxed"]) == sorted(uids.values())
    assert set(owners.get("plain", [])) <= {0} and len(owners.get("plain", [])) <= 3  # index, rubric, funnel
    assert notebooks == ["demos/alpha/demo.ipynb", "demos/beta/demo.ipynb", "funnel.ipynb", "index.ipynb",
                         "rubric.ipynb"]
    assert not marker.exists()
    assert _left(set(uids.values())) == []  # stopping the gallery ended every demo's sandbox


def _left(uids: set[int], wait: float = 10) -> list[int]:
    """Live processes of these users, once those that are ending have had `wait` seconds (an
    exited sandbox may show as a zombie until the machine's init collects it: not alive)."""
    deadline = time.monotonic() + wait
    while True:
        left = [p.pid for p in psutil.process_iter(["uids", "status"])
                if p.info["uids"] and p.info["uids"].real in uids
                and p.info["status"] != psutil.STATUS_ZOMBIE]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)
