"""Grading throughput, and what the sandbox costs it: stock sequential `nbgrader autograde`,
`matsuri course grade --workers 2` (sandboxed, the default) and the same with `--no-sandbox`, on
the same N submissions of one lesson (default 200), with the same scores.

Three sides, each on its own copy of one course folder (lesson 1 released for the `tiny` company):
- stock: nbgrader autograde, one notebook after another in one process;
- ours (sandboxed): `matsuri course grade --workers 2`, computing the grading keys, screening
  every notebook, then grading with two worker processes, each with its own sandbox (bubblewrap,
  cgroup, the grading identity) holding a warm kernel zygote (grading/forkserver.py, confined.py)
  that is emptied between notebooks;
- ours --no-sandbox: the same without the sandbox (kernels forked as root, nothing emptied).
Submissions (varied answers) arrive in ROUNDS batches; after each batch every side grades what is
new. The order of the sides is reversed every round (stock, sandboxed, unsandboxed; then the
other way round), so a busy neighbour on a shared machine slows all alike; the load average is
printed after each side. Feedback is off everywhere (stock autograde does not write it).

Reported: wall seconds per side, CPU seconds per notebook (the command and everything it started,
kernels and sandboxed processes included: counted in a cgroup-v1 `cpuacct` group per side when
this machine has one apart from `cpu`, else by getrusage of the waited-for children, which can
miss processes the sandbox kills and reaps outside that chain of waits), the ratios
stock / sandboxed (target ≥ 1.8× on 2 cores) and sandboxed / unsandboxed (the sandbox's cost for
grading), and whether all three gradebooks hold identical scores, as designed (learner i answers
exercise k right when bit k of i is set). Saved keys: the old ones (`workers2_seconds`, `ratio`
and `cpu_seconds["ours"]` are the sandboxed side's) plus the unsandboxed side's, the ratios,
CPU per notebook and each side's run per round with its load average.

Needs root, as sandboxed grading does: it creates a system user `mtbench<pid>` for the sandboxed
side (MATSURI_GRADING_USER), lets it through to this Python with ACL entries on the folders
`matsuri.sandbox.identities.closed_folders()` names, and makes the warehouse reachable by it (its
temporary folder 0711, the company folder 0755, the .duckdb 0644). The user, its processes, the
ACL entries and the cpuacct groups are removed at the end, also on Ctrl-C or SIGTERM.

For a lesson of Python answers (`--course ml-101 --lesson 04-push-classifier`) later answers build
on earlier ones, so learners alternate: even ones hand in the reference solutions, odd ones the
released notebook untouched. Stock kernels judge a model on the validation rows; ours, on rows the
learner never saw: the scores are expected to agree for the reference and blank notebooks.

Usage: python benchmarks/bench_grading.py [--course C --lesson L] [--submissions N] [--rounds R]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

from matsuri.checks.key_file import KEY_FILE, KEYS_ENV  # noqa: E402
from matsuri.grading import course as courses  # noqa: E402
from matsuri.grading import key_builder
from matsuri.grading.confined import USER_ENV  # noqa: E402
from matsuri.grading.export import scores  # noqa: E402
from matsuri.grading.reference import reference_queries  # noqa: E402
from matsuri.grading.release import release  # noqa: E402
from matsuri.grading.workspace import Workspace  # noqa: E402
from matsuri.sandbox import identities  # noqa: E402
from matsuri.warehouse.build import build  # noqa: E402

LESSON = "01-reading-a-table"  # the default; --lesson
BIN = Path(sys.executable).parent
SIDES = ("stock", "ours", "ours_no_sandbox")  # "ours" is sandboxed (the default), as in old results
LABELS = {"stock": "stock sequential", "ours": "--workers 2 (sandboxed)",
          "ours_no_sandbox": "--workers 2 --no-sandbox"}
CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def submissions(ws: Workspace, first: int, count: int) -> None:
    """Learners first…first+count-1; learner i answers exercise k right when bit k of i is set
    (SQL lessons), or every exercise when i is even (Python lessons)."""
    lesson = ws.course.lesson(LESSON)
    if any(e.kind == "python" for e in lesson.exercises):
        return python_submissions(ws, lesson, first, count)
    refs = reference_queries(lesson)
    released = nbformat.read(ws.released_notebook(LESSON), as_version=4)
    names = [e.answer for e in lesson.exercises]
    for i in range(first, first + count):
        nb = nbformat.from_dict(released)
        for cell in nb.cells:
            head = cell.source.split("\n", 1)[0]
            if cell.cell_type == "code" and head.startswith("%%sql ") and "<<" in head:
                var = head.split()[1]
                right = (i >> names.index(var)) & 1
                cell.source = f"{head}\n{refs[var] if right else 'SELECT 1 AS x'}"
        folder = ws.step("submitted", f"learner{i:03d}", LESSON)
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{LESSON}.ipynb")
        (folder / "timestamp.txt").write_text("2026-03-01 09:00:00.000000 UTC\n")


def python_submissions(ws: Workspace, lesson, first: int, count: int) -> None:
    source = nbformat.read(lesson.notebook, as_version=4)
    solutions = {grade_id(c): c.source for c in source.cells if grade_id(c).endswith("-code")}
    released = nbformat.read(ws.released_notebook(LESSON), as_version=4)
    for i in range(first, first + count):
        nb = nbformat.from_dict(released)
        if i % 2 == 0:
            for cell in nb.cells:
                cell.source = solutions.get(grade_id(cell), cell.source)
        folder = ws.step("submitted", f"learner{i:03d}", LESSON)
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{LESSON}.ipynb")
        (folder / "timestamp.txt").write_text("2026-03-01 09:00:00.000000 UTC\n")


def grade_id(cell) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


def expected_scores(lesson, count: int) -> dict[str, float]:
    if any(e.kind == "python" for e in lesson.exercises):
        return {f"learner{i:03d}": float(len(lesson.exercises)) * (i % 2 == 0) for i in range(count)}
    return {f"learner{i:03d}": float(bin(i % 64).count("1")) for i in range(count)}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# --- CPU of a command and all it starts --------------------------------------------------------
def cpuacct_base() -> Path | None:
    """This process's group in a cgroup-v1 cpuacct hierarchy mounted without `cpu` (the sandbox
    moves its processes into groups of `cpu`, `memory` and `pids`: with `cpu,cpuacct` mounted
    together it would take them out of ours), or None."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split()
            dash = fields.index("-")
            if fields[dash + 1] != "cgroup" or Path(fields[4]) != CPUACCT:
                continue
            options = set(fields[dash + 3].split(","))
            if "cpuacct" not in options or "cpu" in options or not os.access(CPUACCT, os.W_OK):
                return None
            for entry in Path("/proc/self/cgroup").read_text().splitlines():
                _, controllers, path = entry.split(":", 2)
                if "cpuacct" in controllers.split(","):
                    return CPUACCT / path.lstrip("/")
    return None


class CpuMeter:
    """CPU seconds of commands: one cpuacct group per side, or getrusage of children."""

    def __init__(self, name: str):
        base = cpuacct_base()
        self.groups: dict[str, Path] = {}
        if base is not None:
            try:
                for side in SIDES:
                    group = base / f"{name}-{side}"
                    group.mkdir()
                    self.groups[side] = group
            except OSError:
                self.close()
        self.source = "cgroup v1 cpuacct" if self.groups else "getrusage (children waited for)"

    def join(self, side: str):
        """A preexec_fn: the child (and all it starts) counts in `side`'s group."""
        group = self.groups.get(side)
        if group is None:
            return None
        procs = str(group / "cgroup.procs")

        def enter() -> None:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        return enter

    def read(self, side: str) -> float:
        group = self.groups.get(side)
        if group is None:
            return children_cpu()
        return int((group / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        for group in self.groups.values():
            for _ in range(50):  # a group goes only when empty
                try:
                    group.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
        self.groups = {}


# --- the grading identity and what it must reach ----------------------------------------------
def reachable(warehouse: Path, tmp: Path) -> None:
    """Let other users (the grading identity) reach the warehouse: read-only, nothing else."""
    tmp.chmod(0o711)
    for folder in warehouse.parents:
        if folder == tmp:
            break
        folder.chmod(0o755)
    warehouse.chmod(0o644)


def runs_as(uid: int) -> bool:
    import psutil

    for proc in psutil.process_iter(["uids"]):
        if proc.info["uids"] and proc.info["uids"].real == uid:
            return True
    return False


def run(side: str, cmd: list[str], kw: dict, meter: CpuMeter, log: Path,
        watch: int | None) -> tuple[float, float, bool]:
    """Run one side's command to completion: wall seconds, CPU seconds, and whether a process of
    uid `watch` (the grading identity) was seen meanwhile (polled every 2 s until seen)."""
    started, used = time.perf_counter(), meter.read(side)
    seen = False
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=meter.join(side), **kw)
        try:
            while proc.poll() is None:
                if watch is not None and not seen:
                    seen = runs_as(watch)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=2)
        except BaseException:  # Ctrl-C or SIGTERM: stop it as a Ctrl-C would, then for good
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    seconds, cpu = time.perf_counter() - started, meter.read(side) - used
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{side} failed with exit status {proc.returncode}:\n{tail}")
    return seconds, cpu, seen


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def main(course_name: str, count: int, rounds: int) -> int:
    if os.geteuid() != 0:
        print("bench_grading needs root: sandboxed grading creates cgroups and switches user.")
        return 2
    signal.signal(signal.SIGTERM, _interrupted)  # clean up as on Ctrl-C
    user = f"mtbench{os.getpid()}"
    meter = CpuMeter(f"matsuri-bench-grading-{os.getpid()}")
    course = courses.load(course_name)
    try:
        identities.create(user)
        identities.let_through([user])  # ACL entries on the closed folders above Python and the kit
        uid = identities.Identity.of(user).uid
        with tempfile.TemporaryDirectory(prefix="matsuri-bench-grading-") as tmp:
            tmp = Path(tmp)
            built = build("tiny", 7, out_dir=tmp / "company", progress=False)
            warehouse = built.warehouse
            reachable(warehouse, tmp)
            os.environ["MATSURI_LABELS"] = str(built.labels)  # the hidden rows' labels, for models
            ours, stock, trusted = (Workspace.open(course, workdir=tmp / name, warehouse=warehouse,
                                                   cell_timeout=60)
                                    for name in ("ours", "stock", "trusted"))
            release(ours, LESSON, progress=False)
            for copy in (stock, trusted):
                shutil.copytree(ours.root, copy.root)
            stock.prepare()  # its own nbgrader_config.py (root, gradebook, exchange)
            key_builder.write_all(course, [course.lesson(LESSON)], warehouse, lambda x: stock.keys_dir,
                           for_learners=False)
            workspaces = {"stock": stock, "ours": ours, "ours_no_sandbox": trusted}
            # stock kernels get the learners' key, as ours do (worker.kernel_key), so that both
            # run the same notebook work; grades are decided outside the kernel either way
            kernel_keys = tmp / "kernel-keys"
            kernel_keys.mkdir()
            shutil.copy(stock.step("release", LESSON, KEY_FILE), kernel_keys / f"{LESSON}.json")
            env = dict(os.environ) | stock.kernel_env() | {KEYS_ENV: str(kernel_keys)}

            def grade(ws: Workspace, *extra: str) -> list[str]:
                return [str(BIN / "matsuri"), "course", "grade", course.name, "--lesson", LESSON,
                        "--workers", "2", "--no-feedback", "--workdir", str(ws.root.parent),
                        "--warehouse", str(warehouse), *extra]

            commands = {
                "stock": ([str(BIN / "nbgrader"), "autograde", LESSON],
                          {"cwd": stock.root, "env": env}),
                "ours": (grade(ours), {"env": dict(os.environ) | {USER_ENV: user}}),
                "ours_no_sandbox": (grade(trusted, "--no-sandbox"), {"env": dict(os.environ)}),
            }
            seconds = dict.fromkeys(SIDES, 0.0)
            cpu = dict.fromkeys(SIDES, 0.0)  # user + system s of the command and all it started
            sandbox_seen = False
            detail = []
            batch = -(-count // rounds)
            print(f"grading identity {user}; CPU counted by {meter.source}", flush=True)
            for number, first in enumerate(range(0, count, batch)):
                size = min(batch, count - first)
                for ws in workspaces.values():
                    submissions(ws, first, size)
                order = SIDES if number % 2 == 0 else SIDES[::-1]
                for side in order:
                    log = tmp / f"round{number + 1}-{side}.log"
                    took, used, seen = run(side, *commands[side], meter, log,
                                           uid if side == "ours" and not sandbox_seen else None)
                    seconds[side] += took
                    cpu[side] += used
                    sandbox_seen |= seen
                    detail.append({"round": number + 1, "side": side, "notebooks": size,
                                   "seconds": took, "cpu_seconds": used,
                                   "load_average": list(os.getloadavg())})
                    print(f"  round {number + 1}: {LABELS[side]} graded {size} in {took:.1f} s, "
                          f"CPU {used / size:.2f} s per notebook (load {load()})", flush=True)
            graded = {side: scores(ws, LESSON) for side, ws in workspaces.items()}
    except KeyboardInterrupt:
        print("interrupted: removing the benchmark's user, its ACL entries and cpuacct groups")
        from matsuri.sandbox.box import reap

        with contextlib.suppress(Exception):
            reap()  # sandboxes whose worker was killed
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop the clean-up
        identities.remove(user)  # its processes, its ACL entries, the user
        meter.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    expected = expected_scores(course.lesson(LESSON), count)
    designed = {side: {s: v[0] for s, v in got.items()} == expected for side, got in graded.items()}
    same = (graded["stock"] == graded["ours"] == graded["ours_no_sandbox"]
            and len(graded["ours"]) == count)
    right = all(designed.values())
    per_notebook = {side: cpu[side] / count for side in SIDES}
    stock_s, ours_s, trusted_s = (seconds[side] for side in SIDES)
    ratio, cost = stock_s / ours_s, ours_s / trusted_s
    print(f"CPU per notebook (kernels and sandboxes included, {meter.source}): "
          + ", ".join(f"{LABELS[side]} {per_notebook[side]:.2f} s" for side in SIDES)
          + f"; sandboxed / unsandboxed {cpu['ours'] / cpu['ours_no_sandbox']:.2f}×")
    print(f"grading {count} notebooks in {rounds} rounds: "
          + ", ".join(f"{LABELS[side]} {seconds[side]:.1f} s ({seconds[side] / count:.2f} s each)"
                      for side in SIDES))
    print(f"stock / sandboxed {ratio:.2f}× faster "
          f"(target ≥ 1.8×: {'met' if ratio >= 1.8 else 'NOT met'}); "
          f"stock / unsandboxed {stock_s / trusted_s:.2f}×; sandboxed / unsandboxed {cost:.2f}× "
          f"(the sandbox adds {(ours_s - trusted_s) / count:+.2f} s per notebook)")
    print(f"same scores on all three sides: {same}; scores as designed: {right} "
          f"({', '.join(f'{side} {ok}' for side, ok in designed.items())}); "
          f"sandboxed side seen running as {user}: {sandbox_seen}")
    save("grading" if course_name == "sql-101" else f"grading-{course_name}", {
        "course": course_name, "lesson": LESSON, "submissions": count, "rounds": rounds, "stock_seconds": stock_s,
        "workers2_seconds": ours_s, "ratio": ratio, "cpu_seconds": cpu, "same_scores": same,
        "scores_as_designed": right,
        # new: the sandbox's cost (workers2_seconds and ratio are the sandboxed side's)
        "workers2_no_sandbox_seconds": trusted_s, "ratio_no_sandbox": stock_s / trusted_s,
        "sandbox_ratio": cost, "sandbox_added_seconds_per_notebook": (ours_s - trusted_s) / count,
        "cpu_per_notebook": per_notebook, "cpu_sandbox_ratio": cpu["ours"] / cpu["ours_no_sandbox"],
        "cpu_source": meter.source, "scores_as_designed_by_side": designed,
        "sandbox_seen": sandbox_seen, "runs": detail})
    return 0 if same and right and sandbox_seen else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", default="sql-101")
    parser.add_argument("--lesson", default=LESSON)
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    LESSON = args.lesson
    sys.exit(main(args.course, args.submissions, args.rounds))
