"""What the sandbox costs a notebook run, and that it changes no score.

1. Start to first cell, median of --rounds (20) runs per side, sides alternating, one warm-up each:
   - plain: today's alternative without a sandbox, a `python3` kernel as root (AsyncKernelManager
     start, client wait_for_ready, execute `1`, graceful shutdown);
   - sandboxed: the same, its kernel started by the `matsuri-sandbox` provisioner inside a
     `Sandbox(Spec(user, Limits()))` opened before and closed after (cgroup, run-folder tmpfs,
     setpriv, bubblewrap).
   Reported: each step's median, start → first reply and whole run (teardown included), their
   difference (target: under 0.3 s added per run) and ratio, and Sandbox.open() + close() alone.
2. The push-open-rate starter (templates/) submitted by one team of a fresh event on the tiny
   company, once with sandbox=True and once with sandbox=False, after one uncounted warm-up
   submission (the first in a process pays ≈ 2-3 s of one-time imports): both public scores must
   be equal; each run's wall time is shown.

Needs root: it creates an unprivileged system user (allowed through to this Python with an ACL),
and removes both at the end, also on Ctrl-C.
Usage: python benchmarks/bench_sandbox.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "tests"))
from common import median, save  # noqa: E402

from matsuri.errors import Interrupted  # noqa: E402
from matsuri.sandbox import identities, kernels  # noqa: E402
from matsuri.sandbox.box import Limits, Sandbox, Spec  # noqa: E402
from support.hackathon_kit import DEFAULTS, SETTINGS  # noqa: E402

TARGET_ADDED_S = 0.3
STEPS = ("sandbox open", "kernel started", "ready", "first cell reply", "kernel shutdown", "sandbox close")
console = Console()
OPEN: set[Sandbox] = set()  # closed at the end whatever happens (a Ctrl-C can land mid-teardown)


async def one_run(user: str | None) -> dict[str, float]:
    """Seconds of each step of one run: in a new sandbox of `user`, or a plain kernel if None."""
    steps: dict[str, float] = {}
    clock = time.perf_counter()

    def mark(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        steps[step], clock = now - clock, now

    box = _open(user) if user else None
    if box is not None:
        mark("sandbox open")
    try:
        await _first_cell(box, mark)
    finally:
        if box is not None:
            _close(box)
            mark("sandbox close")
    return steps


async def _first_cell(box: Sandbox | None, mark) -> None:
    """Start a kernel (in `box`, or plain), wait until ready, execute `1`, shut it down."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    km, kc = None, None
    with tempfile.TemporaryDirectory(prefix="matsuri-bench-kernel-") as folder:
        try:
            if box is not None:
                kernels.register(box)
                kernels.write_kernelspec(Path(folder), "run", "bench (sandboxed)", run=box)
                km = AsyncKernelManager(kernel_name="run", kernel_spec_manager=KernelSpecManager(
                    kernel_dirs=[f"{folder}/kernels"]))
                await km.start_kernel()
            else:
                km = AsyncKernelManager(kernel_name="python3")
                await km.start_kernel(cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            mark("kernel started")
            kc = km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=60)
            mark("ready")
            reply = await kc.execute("1", reply=True, timeout=60)
            assert reply["content"]["status"] == "ok", reply["content"]
            mark("first cell reply")
        finally:
            if kc is not None:
                kc.stop_channels()
            if km is not None and km.has_kernel:
                await km.shutdown_kernel()
                mark("kernel shutdown")
            if box is not None:
                kernels.unregister(box)


def _open(user: str) -> Sandbox:
    box = Sandbox(Spec(user, Limits())).open()
    OPEN.add(box)
    return box


def _close(box: Sandbox) -> None:
    box.close()
    OPEN.discard(box)


def open_close(user: str) -> tuple[float, float]:
    """Sandbox.open() and close() alone, nothing run inside."""
    started = time.perf_counter()
    box = _open(user)
    opened = time.perf_counter()
    _close(box)
    return opened - started, time.perf_counter() - opened


def first_cell(user: str, rounds: int) -> dict:
    """Part 1: both sides alternating, then medians, difference and ratio."""
    runs: dict[str, list[dict[str, float]]] = {"plain": [], "sandboxed": []}
    alone: list[tuple[float, float]] = []

    async def measure() -> None:
        for side in ("plain", "sandboxed"):  # warm-up: imports, disk cache, first cgroup
            await one_run(user if side == "sandboxed" else None)
        with Progress(console=console) as progress:
            task = progress.add_task("start to first cell", total=rounds)
            for r in range(rounds):
                order = ("plain", "sandboxed") if r % 2 == 0 else ("sandboxed", "plain")
                for side in order:
                    runs[side].append(await one_run(user if side == "sandboxed" else None))
                alone.append(open_close(user))
                progress.update(task, advance=1, description=(
                    f"start to first cell: plain {_first(runs['plain'][-1]):.2f} s, "
                    f"sandboxed {_first(runs['sandboxed'][-1]):.2f} s"))

    load_before = os.getloadavg()[0]
    asyncio.run(measure())
    load = (load_before, os.getloadavg()[0])
    steps = {side: {s: median([r.get(s, 0.0) for r in rs]) for s in STEPS} for side, rs in runs.items()}
    first = {side: median([_first(r) for r in rs]) for side, rs in runs.items()}
    total = {side: median([sum(r.values()) for r in rs]) for side, rs in runs.items()}
    opened, closed = median([a[0] for a in alone]), median([a[1] for a in alone])
    both = median([a[0] + a[1] for a in alone])

    table = Table("median of each step (s)", "plain", "sandboxed", "added",
                  title=f"Start to first cell, {rounds} runs per side")
    for step in STEPS:
        p, s = steps["plain"][step], steps["sandboxed"][step]
        table.add_row(step, f"{p:.3f}", f"{s:.3f}", f"{s - p:+.3f}")
    for name, values in (("start → first cell reply", first), ("whole run (teardown too)", total)):
        p, s = values["plain"], values["sandboxed"]
        table.add_row(f"[bold]{name}[/]", f"{p:.3f}", f"{s:.3f}", f"{s - p:+.3f} ({s / p:.2f}×)")
    table.add_row("Sandbox.open() + close() alone", "", f"{both:.3f}",
                  f"open {opened:.3f} + close {closed:.3f}")
    console.print(table)
    added = total["sandboxed"] - total["plain"]
    console.print(f"sandbox adds {first['sandboxed'] - first['plain']:.2f} s before the first cell and "
                  f"{added:.2f} s per run in all ({total['sandboxed'] / total['plain']:.2f}×); target "
                  f"< {TARGET_ADDED_S} s: {'met' if added < TARGET_ADDED_S else 'NOT met'} "
                  f"(1-min load average {load[0]:.1f} before, {load[1]:.1f} after)")
    return {"rounds": rounds, "steps_s": steps, "first_cell_s": first, "whole_run_s": total,
            "added_first_cell_s": first["sandboxed"] - first["plain"], "added_per_run_s": added,
            "ratio_first_cell": first["sandboxed"] / first["plain"],
            "ratio_whole_run": total["sandboxed"] / total["plain"],
            "open_s": opened, "close_s": closed, "open_close_s": both, "load_average": load,
            "runs": runs}


def starter_scores(prefix: str, tmp: Path) -> dict:
    """Part 2: the real starter submitted with and without the sandbox, on the tiny company."""
    from matsuri.hackathon import submissions, teams
    from matsuri.hackathon.event import init_event
    from matsuri.warehouse.build import build

    company = tmp / "company"  # world-readable warehouse, labels organiser-only (0600 in 0700)
    built = build("tiny", 7, out_dir=company, progress=False)
    company.chmod(0o755)
    built.warehouse.chmod(0o644)
    os.environ |= {"MATSURI_WAREHOUSE": str(built.warehouse), "MATSURI_LABELS": str(built.labels)}
    (tmp / "event").mkdir()
    values = DEFAULTS | {"run_as": prefix, "identities": 1}
    (tmp / "event" / "event.toml").write_text(SETTINGS.format(**values), encoding="utf-8")
    event, _ = init_event(tmp / "event")
    teams.add_team(event, "bench", ["bench-member"])
    starter = teams.new_workspace(event, "bench", "push-open-rate").workspace / "starter.ipynb"

    with console.status("warm-up submission (not counted: the first in a process pays for imports)"):
        submissions.submit(event, "bench", starter, built.warehouse, built.labels, sandbox=False)
    results, table = {}, Table("run", "status", "public scores", "wall (s)",
                               title="push-open-rate starter.ipynb, tiny company")
    for side, sandbox in (("sandboxed", True), ("trusted", False)):
        started = time.perf_counter()
        with console.status(f"submitting the starter ({side})"):
            sub = submissions.submit(event, "bench", starter, built.warehouse, built.labels, sandbox=sandbox)
        seconds = time.perf_counter() - started
        results[side] = {"status": sub.status, "public": sub.public, "private": sub.private, "seconds": seconds}
        table.add_row(side, sub.status, ", ".join(f"{k} {v:.6f}" for k, v in sorted(sub.public.items())),
                      f"{seconds:.1f}")
    console.print(table)
    same = all(r["status"] == "scored" for r in results.values()) and \
        results["sandboxed"]["public"] == results["trusted"]["public"]
    private = results["sandboxed"]["private"] == results["trusted"]["private"]
    console.print(f"public scores identical: {same} (private too: {private})")
    return results | {"identical_public": same, "identical_private": private}


def _first(run: dict[str, float]) -> float:
    """Seconds from the start of a run to the first cell's reply."""
    return sum(run.get(step, 0.0) for step in STEPS[:STEPS.index("first cell reply") + 1])


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def main(rounds: int) -> int:
    if os.geteuid() != 0:
        print("bench_sandbox needs root: it creates a system user and sandboxes (cgroups, mounts).")
        return 2
    signal.signal(signal.SIGTERM, _interrupted)  # clean up as on Ctrl-C
    prefix = f"mtsbench{os.getpid()}"
    user = identities.pool(prefix, 1)[0]
    tmp = Path(tempfile.mkdtemp(prefix="matsuri-bench-sandbox-"))
    tmp.chmod(0o755)
    try:
        identities.create(user)
        identities.let_through([user])
        results = {"first_cell": first_cell(user, rounds), "starter": starter_scores(prefix, tmp)}
    except (KeyboardInterrupt, Interrupted):
        console.print("interrupted: removing the benchmark's user, its ACL entries and sandboxes")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop the clean-up
        for box in list(OPEN):
            _close(box)
        identities.remove(user)  # its processes, its ACL entries, the user
        shutil.rmtree(tmp, ignore_errors=True)
    console.print(f"saved {save('sandbox', results)}")
    return 0 if results["starter"]["identical_public"] else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    sys.exit(main(args.rounds))
