"""With warm pools, does the gallery run only the teams' demos, each sandboxed as its team, none as root?

Voila's preheating runs every notebook it finds before anyone asks; this serves a real Voila with a
pool and looks at who owns each kernel process started for it: the apps' kernels Voila starts
itself, the demos' kernels the teams' zygotes fork (`gallery/warm_demos.py`).
"""

from __future__ import annotations

import json
import os
import pwd
import time
from pathlib import Path

import psutil

from conftest import free_port  # noqa: E402
from matsuri.gallery import warm_demos  # noqa: E402
from matsuri.gallery.server import serve  # noqa: E402
from matsuri.sandbox.box import runs_root  # noqa: E402
from matsuri.sandbox.cgroups import RunGroup  # noqa: E402
from support.gallery_kit import forked_kernels  # noqa: E402
from support.hackathon_kit import add_team, notebook  # noqa: E402

DEMO = """
import os
from pathlib import Path
(Path(os.environ["MATSURI_CACHE"]) / "preheated").write_text(str(os.getuid()))
print("demo ready")
"""
STARTER = "from pathlib import Path\nPath({marker!r}).write_text('starter ran')"


def _kernels() -> dict[str, list[int]]:
    """The real uids of the kernels under this process, by how they started: "plain" (by Voila,
    as it is), "sandboxed" (by Voila, in a sandbox of their own) or "forked" (by a zygote)."""
    found: dict[str, list[int]] = {}
    for proc in psutil.Process().children(recursive=True):
        try:
            command = proc.cmdline()
            if command[1:3] == ["-m", "ipykernel_launcher"]:
                how = "sandboxed" if any(f"{runs_root()}/kernel-" in part for part in command) else "plain"
                found.setdefault(how, []).append(proc.uids().real)
        except psutil.Error:
            pass
    for pid in forked_kernels(os.getpid()):
        found.setdefault("forked", []).append(psutil.Process(pid).uids().real)
    return found


def _shared_sandbox(kernelspec: Path) -> tuple[int, int, bool, bool]:
    """A demo kernelspec's memory for a page view's own sandbox and for the team's shared one,
    and whether the shared one's cgroup has room for just under and just over that."""
    config = json.loads((kernelspec / "kernel.json").read_text())["metadata"]["kernel_provisioner"]["config"]
    own, shared = config["spec"]["limits"]["memory_mb"], config["zygote"]["spec"]["limits"]["memory_mb"]
    record = json.loads((Path(config["zygote"]["run"]) / "sandbox.json").read_text())
    group = RunGroup.from_record(record["cgroup"])
    return own, shared, group.has_room(shared - 1024, 0), group.has_room(shared + 1, 0)


def test_warm_pools_run_only_demos_each_as_its_team_and_nothing_of_a_team_as_root(
        make_event, sandbox_user, tmp_path):
    """Are the pooled demo kernels forked in each team's sandbox as its identity, is no team
    notebook run as root, and is a team's starter (or any other notebook of theirs) never run?"""
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
        owners = _kernels()
        shared = {t: _shared_sandbox(running.gallery.share / "kernels" / f"matsuri-demo-{t}") for t in uids}
        notebooks = sorted(p.relative_to(running.gallery.root).as_posix()
                           for p in running.gallery.root.rglob("*.ipynb"))
        preheated = {t: (cache / t / "preheated").read_text() for t in uids}
    assert preheated == {t: str(uid) for t, uid in uids.items()}  # each demo ran as its own team
    assert sorted(owners["forked"]) == sorted(uids.values()) and "sandboxed" not in owners
    # A page view's own sandbox (when the team's has no room) keeps one view's limits; the team's
    # shared one holds VIEWS views', in memory as its cgroup says.
    view_mb = event.settings.demo_memory_mb
    assert shared == {t: (view_mb, view_mb * warm_demos.VIEWS, True, False) for t in uids}
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
