"""Self-service submissions: how long a team waits for its score beyond its notebook's own run,
and how many submissions the runner service gets through.

1. Latency: --rounds (20) notebook submissions by one participant, one after another on an idle
   machine: `matsuri hackathon submit NOTEBOOK` run as the participant's own account (drop box →
   runner service with 2 slots → sandbox → score → the line the participant reads). For each,
   the command's wall time minus the notebook's own run time (its cells, first start to last
   end, from the executed notebook). Median and p95; target: under 10 s.
   The same notebook submitted by the organiser (`sudo matsuri hackathon submit --team`, run in
   the terminal, no queue) is measured in the same way, in alternating order, as the baseline.
2. Throughput: 12 notebook submissions handed in at once by two teams (6 each, --no-wait); time
   from the first hand-in to the last score, with 1 slot and with 2 slots.

Needs root (real accounts, the sandbox). Usage: python benchmarks/bench_submit.py [--rounds N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from rich.console import Console
from rich.progress import track
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "tests"))
from common import median, save  # noqa: E402

from matsuri.sandbox import identities  # noqa: E402
from support.festival import self_service_event  # noqa: E402
from support.hackathon_kit import WRITE_PUSH_PREDICTIONS, notebook  # noqa: E402

TARGET_S = 10.0
console = Console()


class Company:
    def __init__(self, folder: Path, warehouse: Path, labels: Path):
        self.folder, self.warehouse, self.labels = folder, warehouse, labels


def notebook_seconds(executed: Path) -> float:
    """The notebook's own run: first cell's start to the last cell's end (nbclient's timing)."""
    cells = [c for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"]
    starts = [c.metadata["execution"]["iopub.execute_input"] for c in cells if "execution" in c.metadata]
    ends = [c.metadata["execution"]["shell.execute_reply"] for c in cells if "execution" in c.metadata]
    parse = dt.datetime.fromisoformat
    return (parse(max(ends).replace("Z", "+00:00")) - parse(min(starts).replace("Z", "+00:00"))).total_seconds()


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def latency(festival, entry: Path, rounds: int) -> dict[str, list[float]]:
    mine = festival.give("alpha", entry)
    waits: dict[str, list[float]] = {"participant (drop box, runner)": [], "organiser (in the terminal)": []}
    for _ in track(range(rounds), description="latency", console=console):
        for side in waits:
            started = time.perf_counter()
            if side.startswith("participant"):
                proc = festival.matsuri("alpha", "submit", str(mine))
                out, err = proc.communicate(timeout=600)
            else:
                done = subprocess.run([str(Path(sys.executable).parent / "matsuri"), "hackathon", "--event",
                                       str(festival.event.root), "submit", str(entry), "--team", "alpha"],
                                      capture_output=True, text=True, env=festival.env, timeout=600)
                proc, out, err = done, done.stdout, done.stderr
            wall = time.perf_counter() - started
            assert proc.returncode == 0, out + err
            newest = festival.rows("alpha")[-1]
            assert newest["status"] == "scored", newest
            executed = festival.event.submission_dir(newest["id"]) / "executed.ipynb"
            waits[side].append(wall - notebook_seconds(executed))
    return waits


def throughput(festival, entry: Path, slots: int, each: int) -> float:
    """Seconds from the first hand-in to the last score, for 2 × `each` submissions at once."""
    festival.stop_runner()
    festival.start_runner("--slots", str(slots))
    copies = {team: festival.give(team, entry) for team in ("alpha", "beta")}
    before = {team: len(festival.rows(team)) for team in copies}
    started = time.perf_counter()
    procs = [festival.matsuri(team, "submit", str(copies[team]), "--no-wait")
             for _ in range(each) for team in copies]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, out + err
    while True:
        rows = [r for team in copies for r in festival.rows(team)[before[team]:]]
        if len(rows) == 2 * each and all(r["status"] in ("scored", "rejected") for r in rows):
            break
        time.sleep(0.2)
    assert all(r["status"] == "scored" for r in rows), [r["message"] for r in rows]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--each", type=int, default=6)
    args = parser.parse_args()
    from matsuri.warehouse.build import build

    tmp = Path(tempfile.mkdtemp(prefix="matsuri-bench-submit-"))
    tmp.chmod(0o755)
    prefix = f"mtb{os.getpid()}"
    pool = identities.pool(prefix, 3)
    try:
        built = build("tiny", 7, out_dir=tmp / "company", progress=False)
        (tmp / "company").chmod(0o755)
        built.warehouse.chmod(0o644)
        company = Company(tmp / "company", built.warehouse, built.labels)
        identities.ensure_pool(prefix, 3)
        identities.let_through(pool)
        entry = notebook(tmp / "entry.ipynb", WRITE_PUSH_PREDICTIONS)
        with self_service_event(company, prefix, identities=3, daily_limit=500, total_limit=1000) as festival:
            festival.start_runner("--slots", "2")
            festival.matsuri("alpha", "submit", str(festival.give("alpha", entry))).communicate(timeout=600)  # warm-up
            waits = latency(festival, entry, args.rounds)
            spans = {slots: throughput(festival, entry, slots, args.each) for slots in (1, 2)}
    finally:
        for user in pool:
            identities.remove(user)
        shutil.rmtree(tmp, ignore_errors=True)

    table = Table("submit → score, minus the notebook's run", "median s", "p95 s", title=f"{args.rounds} rounds")
    for side, values in waits.items():
        table.add_row(side, f"{median(values):.2f}", f"{p95(values):.2f}")
    console.print(table)
    mine, organiser = (median(v) for v in waits.values())
    console.print(f"participant / organiser: {mine / organiser:.2f}×; target under {TARGET_S:g} s: "
                  f"{'met' if p95(next(iter(waits.values()))) < TARGET_S else 'NOT met'} at p95")
    count = 2 * args.each
    for slots, span in spans.items():
        console.print(f"{count} submissions at once, {slots} slot(s): {span:.1f} s, "
                      f"{count / span * 60:.1f} per minute")
    console.print(f"2 slots / 1 slot: {spans[1] / spans[2]:.2f}× faster")
    save("submit", {"rounds": args.rounds, "waits": waits, "throughput_seconds": spans, "count": count,
                    "median": {side: median(v) for side, v in waits.items()},
                    "p95": {side: p95(v) for side, v in waits.items()}})


if __name__ == "__main__":
    main()
