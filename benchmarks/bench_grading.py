"""Grading throughput: `matsuri course grade --workers 2` against stock sequential
`nbgrader autograde`, on the same N submissions of one lesson (default 200), same scores.

Both start from one copy of the same course folder (lesson 1 released for the `tiny` company).
Submissions (varied answers) arrive in ROUNDS batches; after each batch both sides grade what is
new: stock nbgrader one notebook after another in one process, ours computing the grading keys,
screening every notebook, then grading with two worker processes whose kernels are forked from a
warm process (grading/forkserver.py). Which side goes first
alternates, so a busy neighbour on a shared machine slows both alike. Feedback is off on both
sides (stock autograde does not write it). Target: ratio ≥ 1.8× on 2 cores.

Usage: python benchmarks/bench_grading.py [--submissions N] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

from matsuri.grading import course as courses  # noqa: E402
from matsuri.grading import keys  # noqa: E402
from matsuri.grading.export import scores  # noqa: E402
from matsuri.grading.reference import reference_queries  # noqa: E402
from matsuri.grading.release import release  # noqa: E402
from matsuri.grading.workspace import Workspace  # noqa: E402
from matsuri.warehouse.build import build  # noqa: E402

LESSON = "01-reading-a-table"
BIN = Path(sys.executable).parent


def submissions(ws: Workspace, first: int, count: int) -> None:
    """Learners first…first+count-1; learner i answers exercise k right when bit k of i is set."""
    lesson = ws.course.lesson(LESSON)
    refs = reference_queries(lesson)
    released = nbformat.read(ws.released_notebook(LESSON), as_version=4)
    names = [e.answer for e in lesson.exercises]
    for i in range(first, first + count):
        nb = nbformat.from_dict(released)
        for cell in nb.cells:
            first = cell.source.split("\n", 1)[0]
            if cell.cell_type == "code" and first.startswith("%%sql ") and "<<" in first:
                var = first.split()[1]
                right = (i >> names.index(var)) & 1
                cell.source = f"{first}\n{refs[var] if right else 'SELECT 1 AS x'}"
        folder = ws.step("submitted", f"learner{i:03d}", LESSON)
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{LESSON}.ipynb")
        (folder / "timestamp.txt").write_text("2026-03-01 09:00:00.000000 UTC\n")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(count: int, rounds: int) -> int:
    course = courses.load("sql-101")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        warehouse = build("tiny", 7, out_dir=tmp / "company", progress=False).warehouse
        ours = Workspace.open(course, workdir=tmp / "ours", warehouse=warehouse, cell_timeout=60)
        release(ours, LESSON, progress=False)
        stock = Workspace.open(course, workdir=tmp / "stock", warehouse=warehouse, cell_timeout=60)
        shutil.copytree(ours.root, stock.root)
        stock.prepare()  # its own nbgrader_config.py (root, gradebook, exchange)
        keys.write_all(course, [course.lesson(LESSON)], warehouse, lambda x: stock.keys_dir,
                       for_learners=False)
        env = dict(os.environ) | stock.kernel_env()
        commands = {
            "stock": ([str(BIN / "nbgrader"), "autograde", LESSON], {"cwd": stock.root, "env": env}),
            "ours": ([str(BIN / "matsuri"), "course", "grade", course.name, "--lesson", LESSON,
                      "--workers", "2", "--no-feedback", "--workdir", str(tmp / "ours"),
                      "--warehouse", str(warehouse)], {}),
        }
        seconds = {"stock": 0.0, "ours": 0.0}
        cpu = {"stock": 0.0, "ours": 0.0}  # user + system seconds of the command and its children
        batch = -(-count // rounds)
        for number, first in enumerate(range(0, count, batch)):
            size = min(batch, count - first)
            for ws in (ours, stock):
                submissions(ws, first, size)
            order = ["stock", "ours"] if number % 2 == 0 else ["ours", "stock"]
            for side in order:
                cmd, kw = commands[side]
                started, used = time.perf_counter(), children_cpu()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
                seconds[side] += time.perf_counter() - started
                cpu[side] += children_cpu() - used
                print(f"  round {number + 1}: {side} graded {size} in "
                      f"{time.perf_counter() - started:.1f} s (load {load()})", flush=True)
        stock_scores, our_scores = scores(stock, LESSON), scores(ours, LESSON)
        same = stock_scores == our_scores and len(our_scores) == count
        expected = {f"learner{i:03d}": float(bin(i % 64).count("1")) for i in range(count)}
        right = {s: v[0] for s, v in our_scores.items()} == expected
    stock_s, ours_s = seconds["stock"], seconds["ours"]
    ratio = stock_s / ours_s
    print(f"CPU per notebook (kernels included): stock {cpu['stock'] / count:.2f} s, "
          f"ours {cpu['ours'] / count:.2f} s")
    print(f"grading {count} notebooks: stock sequential {stock_s:.1f} s ({stock_s / count:.2f} s each), "
          f"--workers 2 {ours_s:.1f} s ({ours_s / count:.2f} s each) → {ratio:.2f}× faster; "
          f"same scores: {same}; scores as designed: {right}")
    save("grading", {"submissions": count, "rounds": rounds, "stock_seconds": stock_s,
                     "workers2_seconds": ours_s, "ratio": ratio, "cpu_seconds": cpu, "same_scores": same,
                     "scores_as_designed": right})
    return 0 if same and right else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    sys.exit(main(args.submissions, args.rounds))
