"""`matsuri course grade`: screen submissions, autograde them in parallel, report every learner.

nbgrader grades one submission at a time. Here N worker processes (`--workers`) grade with
nbgrader's own engine, against one gradebook in WAL mode (writers take turns, readers never
block), forking their kernels from a warm process (forkserver.py). Each worker is handed the next
notebook as soon as it is free, whatever its lesson: a long notebook of one lesson never leaves
the other workers waiting for it. Grading keys are computed
first from the reference queries on this warehouse.
Nothing a learner sends stops the batch: unreadable notebooks are skipped and reported, endless
cells are interrupted by the per-cell timeout, and a failing submission is reported as failed.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass, field

import nbformat
from tqdm.auto import tqdm

from matsuri.errors import NotFound
from matsuri.grading import key_builder
from matsuri.grading.screen import Screened, released_cells, screen_lesson
from matsuri.grading.workspace import GradingError, Workspace

STOPPED = {"CellTimeoutError": "ran longer than {timeout} s and was stopped",
           "CellStopped": "ran longer than {timeout} s, did not stop when interrupted, and was "
                          "killed with its kernel",
           "KernelStopped": "stopped its kernel (out of memory?)"}


@dataclass
class Row:
    student: str
    lesson: str
    status: str                  # graded | skipped | failed | unchanged
    score: float | None = None
    max_score: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class GradeResult:
    rows: list[Row]
    exports: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)   # for the organiser, said once per run

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)


def submitted_students(ws: Workspace, lesson: str) -> list[str]:
    folder = ws.step("submitted")
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / lesson).is_dir())


def _unchanged(ws: Workspace, student: str, lesson: str) -> bool:
    """Already graded from this very submission (same timestamp.txt, autograded notebooks there)."""
    graded = ws.step("autograded", student, lesson)
    sent = ws.step("submitted", student, lesson, "timestamp.txt")
    stamp = graded / "timestamp.txt"
    return (any(graded.glob("*.ipynb")) and sent.is_file() and stamp.is_file()
            and sent.read_text().strip() == stamp.read_text().strip())


def grade(ws: Workspace, lesson: str | None = None, workers: int = 1, force: bool = False,
          feedback: bool = True, progress: bool = True,
          learners: list[str] | None = None, sandbox: bool = True, execute=None) -> GradeResult:
    """Grade what was submitted (only new or changed submissions unless `force`; only
    `learners` if given) and export the gradebook. Returns one report row per submission.

    Learners' code runs in grading kernels inside a sandbox (see confined.py); `sandbox=False`
    (--no-sandbox) runs them as this user, for a trusted rehearsal only. `execute(work)` may
    replace the local workers: it takes [(lesson, students)] and returns {lesson: {student:
    outcome}} as `run_workers` gives (remote.py runs them as SageMaker Processing jobs)."""
    from matsuri.grading import export

    if sandbox and execute is None:
        from matsuri.sandbox.box import require

        require()  # a clear message now rather than N workers failing later
    if workers < 1:
        raise GradingError(f"--workers must be 1 or more, not {workers}.")
    lessons = ws.course.select(lesson)
    if not ws.gradebook.exists():
        raise NotFound(f"No gradebook in {ws.root}: release the course first "
                       f"(`matsuri course release {ws.course.name}`).")
    ws.prepare()
    ws.use_wal()
    earlier = {item.id: _key(ws, item.id) for item in lessons}
    sql = [] if ws.course.plain else lessons  # a plain nbgrader course has no SQL keys
    key_builder.write_all(ws.course, sql, ws.warehouse, lambda x: ws.keys_dir, for_learners=False)
    rebuilt = warehouse_changes(earlier, {item.id: _key(ws, item.id) for item in lessons})
    before = warehouse_rows(ws)
    plans = [_plan(ws, item, learners, len(lessons) == 1, force or item.id in rebuilt)
             for item in lessons]
    work = [(lesson_id, todo) for lesson_id, _, todo in plans]
    if execute is None:
        outcomes = run_workers(ws, work, workers, feedback, progress, sandbox)
    else:
        outcomes = execute(work)
    rows: list[Row] = []
    for lesson_id, screened, todo in plans:
        found = lesson_rows(ws, lesson_id, screened, set(todo), outcomes.get(lesson_id, {}))
        outside = outside_scores(ws, lesson_id)
        for row in found:
            row.notes += outside.get(row.student, [])
            if lesson_id in rebuilt and row.status == "graded":
                row.notes.append("graded again: the warehouse changed since the last grading")
        rows += found
    result = GradeResult(rows)
    result.notices = [f"{lesson}: the warehouse changed since the last release or grading ({change}); "
                      "every submission of it was graded again" for lesson, change in rebuilt.items()]
    kept = sum(1 for row in rows for note in row.notes if note.startswith(OUTSIDE))
    if kept:
        result.notices.append(f"{kept} submission(s) have scores that grading did not write "
                              "(manual grades or extra credit); they are listed in the report")
    result.exports = export.write_all(ws, rows)
    if warehouse_rows(ws) != before:
        raise GradingError(
            f"The warehouse {ws.warehouse} changed while grading: code in a submission may have "
            "written to it (grading runs learners' code). Rebuild it with `matsuri data build "
            f"--force`, then grade again with --force. This run's report: {result.exports['report']}"
        )
    return result


def _plan(ws: Workspace, item, learners: list[str] | None, alone: bool, again: bool):
    """(lesson, every submission screened, the students to grade now) for one lesson."""
    known = {}
    for notebook in item.notebooks:
        released = ws.released_notebook(item.id, notebook)
        if not released.is_file():
            raise NotFound(f"Lesson {item.id} was never released: run `matsuri course "
                           f"release {ws.course.name} --lesson {item.id}` first.")
        known[notebook] = released_cells(released)
    students = submitted_students(ws, item.id)
    if learners:
        unknown = sorted(set(learners) - set(students))
        if unknown and alone:
            raise NotFound(f"No submission of {item.id} from {', '.join(unknown)}. "
                           f"Collect it first (`matsuri course collect {ws.course.name}`).")
        students = [s for s in students if s in learners]
    screened = [screen_lesson(s, ws.step("submitted", s, item.id), known) for s in students]
    todo = [s.student for s in screened if not s.problem
            and (again or not _unchanged(ws, s.student, item.id))]
    return item.id, screened, todo


def _key(ws: Workspace, lesson: str):
    from matsuri.checks.key_file import read

    try:
        return read(ws.keys_dir / f"{lesson}.json")
    except (OSError, ValueError, TypeError, KeyError):
        return None


def warehouse_changes(earlier: dict, now: dict) -> dict[str, str]:
    """lesson → "before → now" for lessons whose last grading used another warehouse."""
    def describe(key) -> str:
        return key.built_on.removeprefix("matsuri company · ") or f"signature {key.warehouse}"

    return {lesson: f"{describe(old)} → {describe(now[lesson])}"
            for lesson, old in earlier.items()
            if old is not None and now.get(lesson) is not None
            and old.warehouse != now[lesson].warehouse}


OUTSIDE = "kept a score grading did not write"


def outside_scores(ws: Workspace, lesson: str) -> dict[str, list[str]]:
    """student → notes on scores in the gradebook that autograding did not write: manual grades
    (formgrader) and extra credit. nbgrader keeps them over a regrade; the organiser should know."""
    from nbgrader.api import Gradebook, MissingEntry

    notes: dict[str, list[str]] = {}
    with Gradebook(ws.db_url, ws.course.name) as gb:
        try:
            submissions = gb.assignment_submissions(lesson)
        except MissingEntry:
            return {}
        for submission in submissions:
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    parts = []
                    if grade.manual_score is not None:
                        parts.append(f"manual {grade.manual_score:g}")
                    if grade.extra_credit:
                        parts.append(f"extra credit {grade.extra_credit:g}")
                    if parts:
                        notes.setdefault(submission.student.id, []).append(
                            f"{OUTSIDE}: {grade.name} {', '.join(parts)}")
    return notes


def warehouse_rows(ws: Workspace) -> str:
    from matsuri.checks.key_file import warehouse_signature
    from matsuri.warehouse.query import connect

    with connect(ws.warehouse) as con:
        return warehouse_signature(con)


def run_workers(ws: Workspace, work: list[tuple[str, list[str]]], workers: int, feedback: bool,
                progress: bool, sandbox: bool = True) -> dict[str, dict[str, dict]]:
    """Grade every (lesson, student) of `work` with up to `workers` processes, each given its next
    notebook when it reports the last one; returns {lesson: {student: outcome}}."""
    tasks = [(lesson, student) for lesson, students in work for student in students]
    outcomes: dict[str, dict[str, dict]] = {lesson: {} for lesson, _ in work}
    if not tasks:
        return outcomes
    env = dict(os.environ) | ws.kernel_env()
    lines: queue.Queue = queue.Queue()
    logs = ws.root / "logs"
    logs.mkdir(exist_ok=True)
    procs = []
    for number in range(1, min(workers, len(tasks)) + 1):
        cmd = [sys.executable, "-m", "matsuri.grading.worker", "--root", str(ws.root),
               *(["--no-feedback"] if not feedback else []), *([] if sandbox else ["--no-sandbox"])]
        with open(logs / f"grade-worker{number}.log", "w") as log:  # nbgrader's own log
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                    text=True, env=env, cwd=ws.root)
        threading.Thread(target=_pump, args=(proc, len(procs), lines), daemon=True).start()
        procs.append(proc)
    waiting = iter(tasks)

    def hand(proc: subprocess.Popen) -> None:
        """The next notebook to this worker, or, when none is left, the end of its work."""
        task = next(waiting, None)
        try:
            if task is None:
                proc.stdin.close()
            else:
                proc.stdin.write(json.dumps(task) + "\n")
                proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # the worker died: its notebook is reported as not graded

    lessons = len(work)
    bar = tqdm(total=len(tasks), desc=f"grade {work[0][0] if lessons == 1 else ws.course.name}",
               unit="notebook", disable=not progress)
    finished = 0
    try:
        for proc in procs:
            hand(proc)
        while finished < len(procs):
            number, line = lines.get()
            if line is None:
                finished += 1
                continue
            try:
                outcome = json.loads(line)
            except json.JSONDecodeError:
                continue
            outcomes.setdefault(outcome["lesson"], {})[outcome["student"]] = outcome
            bar.update(1)
            if lessons > 1:
                bar.set_postfix_str(outcome["lesson"])
            hand(procs[number])
    except KeyboardInterrupt:
        for proc in procs:
            proc.terminate()
        raise
    finally:
        bar.close()
        for proc in procs:
            proc.wait()
    return outcomes


def _pump(proc: subprocess.Popen, number: int, lines: queue.Queue) -> None:
    for line in proc.stdout:
        lines.put((number, line))
    lines.put((number, None))


def lesson_rows(ws: Workspace, lesson: str, screened: list[Screened], graded: set[str],
                outcomes: dict[str, dict]) -> list[Row]:
    from matsuri.grading.export import scores

    marks = scores(ws, lesson)
    rows = []
    for item in screened:
        row = Row(item.student, lesson, "skipped", notes=list(item.notes))
        if item.problem:
            row.notes.insert(0, item.problem)
            rows.append(row)
            continue
        if item.student not in graded:
            row.status = "unchanged"
        else:
            outcome = outcomes.get(item.student, {
                "ok": False, "error": f"the grader stopped early (see {ws.root / 'logs'})"})
            if not outcome["ok"]:
                row.status = "failed"
                row.notes.insert(0, outcome["error"])
                rows.append(row)
                continue
            row.status = "graded"
            row.notes += autograded_notes(ws, item.student, lesson)
        row.score, row.max_score = marks.get(item.student, (None, None))
        rows.append(row)
    return rows


def autograded_notes(ws: Workspace, student: str, lesson: str) -> list[str]:
    """What grading itself noticed in each notebook of a lesson."""
    names = ws.course.lesson(lesson).notebooks
    notes = []
    for name in names:
        path = ws.step("autograded", student, lesson, f"{name}.ipynb")
        if path.is_file():
            found = notebook_notes(ws, nbformat.read(path, as_version=4))
            notes += [f"{name}: {note}" for note in found] if len(names) > 1 else found
    return notes


def notebook_notes(ws: Workspace, nb) -> list[str]:
    """Cells grading stopped, and how answers were found (answers.py)."""
    notes = []
    number = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        number += 1
        stopped = [o["ename"] for o in cell.get("outputs", [])
                   if o.get("output_type") == "error" and o.get("ename") in STOPPED]
        if stopped:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            where = f"the SQL cell of {grade_id[:-4]}" if grade_id.endswith("-sql") else f"code cell {number}"
            notes.append(f"{where} {STOPPED[stopped[0]].format(timeout=ws.cell_timeout)}")
    return notes + list(nb.metadata.get("matsuri", {}).get("notes", []))
