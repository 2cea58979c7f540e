"""The teams' demo kernels forked from a warm process: a cold demo page no longer waits for its
kernel to start and import scikit-learn, pandas and matplotlib (about 3 s of a 5 s page).

When the gallery starts, each team gets one sandbox, as its own identity with the limits of
`VIEWS` page views, and a zygote in it (`grading.forkserver`) that has imported what the themes'
demos import. Every page view's kernel is then a fork of it, inside that sandbox: a new process
with the demo's folder and environment, ready in milliseconds. So a team's page views share one
sandbox (its /tmp, its memory and process limits), which they did in part already through the
team's cache folder; no other team and nothing of the host is in it. A team whose zygote could
not start keeps a new sandbox per page view, as before.

MATSURI_WARM_KERNELS=off (as for learners' kernels) turns it off, for benchmarks to compare.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import replace

from tqdm.auto import tqdm

from matsuri import warm_kernels
from matsuri.gallery.build import DEMO_KERNEL, Gallery
from matsuri.grading import forkserver
from matsuri.sandbox import kernels
from matsuri.sandbox.box import Limits, Sandbox

# A team's sandbox holds the limits of this many page views, which share it: ten views of a theme
# demo open at once held about 1 GB in all, but a team's own demo may need more per view. Views
# beyond what it has room for get a sandbox of their own, as before (`sandbox/kernels.py`).
VIEWS = 4
# What the themes' demos import in their first cell, and the kernel itself. Not ipywidgets: it
# registers its messages with the kernel only when imported where a kernel already runs.
PRELOAD = ("ipykernel.kernelapp", "IPython", "matplotlib.pyplot", "pandas", "duckdb",
           "sklearn.pipeline", "sklearn.linear_model", "sklearn.ensemble", "matsuri.templates.charts",
           "matsuri.templates.push", "matsuri.templates.calls", "matsuri.templates.churn",
           "matsuri.templates.ordering", "matsuri.templates.cache", "matsuri.templates.tables",
           "matsuri.templates.demo_texts", "matsuri.widget_layout")


def enabled() -> bool:
    return os.environ.get(warm_kernels.ENV, "on").lower() not in ("off", "0", "no")


@contextlib.contextmanager
def started(gallery: Gallery, progress: bool = False) -> Iterator[dict[str, int]]:
    """Open each team's demo sandbox, start its zygote and point the team's kernelspec at it;
    yields the zygotes' pids by team once all are ready (a few seconds per team, two at a time on
    two cores). All stopped, and the sandboxes closed, on exit. What the zygote and its kernels
    print goes to the sandbox's own log, not the organiser's terminal."""
    if not enabled():
        yield {}
        return
    pids: dict[str, int] = {}
    stop, starting = threading.Event(), threading.BoundedSemaphore(os.cpu_count() or 2)
    with contextlib.ExitStack() as stack:
        keepers = []
        for team, demo in gallery.demos.items():
            folder = gallery.share / "kernels" / f"{DEMO_KERNEL}-{team}"
            spec = kernels.read_spec(folder)  # one page view's
            spec = replace(spec, read_only=(*spec.read_only, str(gallery.root / demo.parent)),
                           limits=_for_views(spec.limits))
            box = stack.enter_context(Sandbox(spec, "demo"))
            log = stack.enter_context(open(box.dir / "kernel.log", "ab"))
            ready = threading.Event()
            keeper = threading.Thread(target=_keep, args=(team, folder, box, log, ready, stop, starting,
                                                          pids), name=f"matsuri-demo-{team}", daemon=True)
            keepers.append((keeper, ready))
        stack.callback(_stop, keepers, stop)  # zygotes stopped before their sandboxes are closed
        for keeper, _ in keepers:
            keeper.start()
        with tqdm(total=len(keepers), desc="Warming the demos", unit="team", disable=not progress) as bar:
            for _, ready in keepers:
                ready.wait()
                bar.update()
        yield pids


def _for_views(view: Limits) -> Limits:
    """The team's sandbox: what `VIEWS` page views may hold together (not one file larger)."""
    return replace(view, memory_mb=view.memory_mb * VIEWS, max_processes=view.max_processes * VIEWS,
                   folder_mb=view.folder_mb * VIEWS, tmp_mb=view.tmp_mb * VIEWS)


def _keep(team: str, folder, box: Sandbox, log, ready: threading.Event, stop: threading.Event,
          starting: threading.BoundedSemaphore, pids: dict[str, int]) -> None:
    """One team's zygote, kept until `stop`. In a thread that lives as long as it: bubblewrap
    ends its sandbox when the thread that started it ends."""
    zygote = forkserver.started(box, PRELOAD, log=log)
    try:
        with starting:  # as many at once as there are cores: each imports for seconds
            warm = zygote.__enter__()
    except Exception:  # could not be started: this team's kernels get sandboxes of their own
        ready.set()
        return
    try:
        if warm is not None:
            kernels.fork_from(folder, box, warm.address)
            pids[team] = warm.pid
        ready.set()
        stop.wait()
    finally:
        ready.set()
        zygote.__exit__(None, None, None)


def _stop(keepers: list, stop: threading.Event) -> None:
    stop.set()
    for keeper, _ in keepers:
        keeper.join(30)
