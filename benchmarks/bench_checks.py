"""Instant checks: q.check() latency in a running kernel, against `nbgrader validate` of the same
notebook in the same run, and every reference query of sql-101 on the `large` company.

1. Lessons of sql-101 are released for the `small` company and answered with their reference
   queries. In one running kernel each `qN.check()` is timed ROUNDS times, from the client (what
   the learner waits for) and inside the kernel. Target: median < 50 ms.
2. `nbgrader validate` of the answered lesson 1 notebook (what the Validate button runs), median
   of 3 runs.
3. Each reference query on the `large` company (≈1 M users, ≈20 M events), median of 3 warm runs,
   as the key builder runs them (`keys.reference_connection`, `con.sql(q).df()`), against the same
   with DuckDB's default of one thread per core, in turn. Target: < 1 s, slowest < 0.7 s.

Usage: python benchmarks/bench_checks.py [--skip-large]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).parent))
from common import median, save  # noqa: E402

from matsuri.grading import course as courses  # noqa: E402
from matsuri.grading.key_builder import reference_connection  # noqa: E402
from matsuri.grading.reference import reference_queries  # noqa: E402
from matsuri.grading.release import release  # noqa: E402
from matsuri.grading.workspace import Workspace  # noqa: E402
from matsuri.warehouse.build import build  # noqa: E402
from matsuri.warehouse.query import THREADS  # noqa: E402

ROUNDS = 20
LESSONS = ["01-reading-a-table", "06-cohort-retention", "08-window-functions-ctes"]
BIN = Path(sys.executable).parent


def answered_copy(ws: Workspace, lesson, folder: Path) -> Path:
    """The released notebook with every SQL cell answered by its reference query, plus its key."""
    refs = reference_queries(lesson)
    nb = nbformat.read(ws.released_notebook(lesson.id), as_version=4)
    for cell in nb.cells:
        first = cell.source.split("\n", 1)[0]
        if cell.cell_type == "code" and first.startswith("%%sql ") and "<<" in first:
            cell.source = f"{first}\n{refs[first.split()[1]]}"
    target = folder / lesson.id
    target.mkdir(parents=True)
    (target / "checks.json").write_bytes((ws.step("release", lesson.id) / "checks.json").read_bytes())
    path = target / f"{lesson.id}.ipynb"
    nbformat.write(nb, path)
    return path


def time_checks(notebook: Path, env: dict) -> tuple[list[float], list[float]]:
    """Client round trips and in-kernel times of every q.check() in the notebook, ROUNDS each."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(notebook.parent), env=env)
    try:
        nb = nbformat.read(notebook, as_version=4)
        exercises = []
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
                exercises.append(cell.metadata["nbgrader"]["grade_id"])
                continue
            if cell.cell_type == "code":
                kc.execute_interactive(cell.source, timeout=120, output_hook=lambda msg: None)
        client, inside = [], []
        kc.execute_interactive("import time as _t\n_times = []", output_hook=lambda msg: None)
        for name in exercises:
            for _ in range(ROUNDS):
                code = f"_s = _t.perf_counter(); {name}.check(); _times.append(_t.perf_counter() - _s)"
                started = time.perf_counter()
                reply = kc.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
                client.append(time.perf_counter() - started)
                assert reply["content"]["status"] == "ok", (name, reply["content"])
        reply = kc.execute_interactive("", user_expressions={"t": "_times"}, output_hook=lambda m: None)
        inside = [float(x) for x in reply["content"]["user_expressions"]["t"]["data"]["text/plain"]
                  .strip("[]").split(",")]
        return client, inside
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def time_validate(notebook: Path, env: dict, runs: int = 3) -> list[float]:
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run([str(BIN / "nbgrader"), "validate", str(notebook)], cwd=notebook.parent,
                             env=env, capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        assert "Success! Your notebook passes all the tests." in out.stdout, out.stdout + out.stderr
    return walls


def time_reference_queries(warehouse: Path, course) -> dict[str, dict[str, float]]:
    """{query: {"shipped": s, "per_core": s}}: each query with the connection's THREADS, and with
    DuckDB's default of one thread per core, median of 3 warm runs each, the sides taking turns.
    Each side opens the file afresh: connections to one file in one process share its threads."""
    medians = {}
    for number, (name, sql) in enumerate((f"{lesson.id}/{var.removesuffix('_result')}", sql)
                                         for lesson in course.lessons
                                         for var, sql in reference_queries(lesson).items()):
        sides = ["shipped", "per_core"][::1 if number % 2 else -1]
        medians[name] = {}
        for side in sides:
            with reference_connection(warehouse) as con:
                if side == "per_core":
                    con.execute(f"SET threads = {os.cpu_count()}")
                con.sql(sql).df()  # warm: first touch of the file's pages
                runs = []
                for _ in range(3):
                    started = time.perf_counter()
                    con.sql(sql).df()
                    runs.append(time.perf_counter() - started)
            medians[name][side] = median(runs)
    return medians


def main(skip_large: bool) -> int:
    course = courses.load("sql-101")
    results: dict = {"rounds": ROUNDS}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        small = build("small", 42, out_dir=tmp / "small", progress=False).warehouse
        ws = Workspace.open(course, workdir=tmp / "work", warehouse=small)
        env = dict(os.environ) | {"MATSURI_WAREHOUSE": str(small), "PLOOMBER_STATS_ENABLED": "false",
                                  "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        env.pop("MATSURI_CHECK_KEYS", None)
        client, inside, notebooks = [], [], {}
        for lesson_id in LESSONS:
            release(ws, lesson_id, progress=False)
            notebooks[lesson_id] = answered_copy(ws, course.lesson(lesson_id), tmp / "learner")
            c, i = time_checks(notebooks[lesson_id], env)
            client += c
            inside += i
            print(f"  {lesson_id}: check() median {median(c) * 1000:.1f} ms round trip, "
                  f"{median(i) * 1000:.1f} ms in the kernel ({len(c)} calls)", flush=True)
        validate = time_validate(notebooks[LESSONS[0]], env)
        results["check_round_trip_ms"] = {"median": median(client) * 1000,
                                          "p95": statistics.quantiles(client, n=20)[-1] * 1000}
        results["check_in_kernel_ms"] = {"median": median(inside) * 1000}
        results["nbgrader_validate_s"] = {"median": median(validate), "runs": validate}
        results["validate_over_check"] = median(validate) / median(client)
        print(f"check(): median {median(client) * 1000:.1f} ms (p95 "
              f"{results['check_round_trip_ms']['p95']:.1f} ms), in kernel {median(inside) * 1000:.1f} ms; "
              f"nbgrader validate of the same notebook: median {median(validate):.2f} s "
              f"→ check() is {results['validate_over_check']:.0f}× faster")
        if not skip_large:
            started = time.perf_counter()
            large = build("large", 42, out_dir=tmp / "large", progress=False).warehouse
            print(f"  large company built in {time.perf_counter() - started:.0f} s", flush=True)
            timed = time_reference_queries(large, course)
            results["reference_queries_large_s"] = timed
            for side, label in (("shipped", f"{THREADS} threads"),
                                ("per_core", f"{os.cpu_count()} threads (one per core)")):
                queries = {name: both[side] for name, both in timed.items()}
                slowest = max(queries, key=queries.get)
                over = {k: v for k, v in queries.items() if v >= 1.0}
                print(f"reference queries on large, {label}: {len(queries)} queries, median "
                      f"{median(list(queries.values())):.3f} s, total {sum(queries.values()):.2f} s, "
                      f"slowest {slowest} {queries[slowest]:.3f} s, {len(over)} at or over 1 s {sorted(over)}")
    print(f"results: {save('checks', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main("--skip-large" in sys.argv[1:]))
