"""`matsuri course grade --on sagemaker`: learners' notebooks run in SageMaker Processing jobs,
their grades decided here, into the course's gradebook as a local grade leaves them.

Three steps, so that no grade is decided where learners' code ran (DESIGN.md, trust boundary):

1. Here, no learner code: nbgrader's own sanitising steps of autograde (outputs cleared, check
   and locked cells put back from the gradebook, copied ids dropped) in a scratch copy of the
   course. The sanitised notebooks are what is sent; the gradebook, the private keys and the
   course's sources stay here.
2. There: `--workers` Processing jobs (processing.shard balances the learners by size), each
   running `notebook_entry grade` in the kit's image: the kit's ExecuteWithinLimits on every
   notebook, with the learners' warehouse and their own check keys (for the feedback they see).
3. Here: nbgrader's autograde and feedback on the real course, exactly as a local grade
   (grading/worker.py) runs them, except that ExecuteWithinLimits is replaced by
   ReplayExecution: it takes the outputs executed there, and only if the notebook that came back
   has the very cells that were sent. DecideGrades then runs every SQL answer again here, and
   SaveAutoGrades, late penalties, feedback and the exports follow as usual.

Only outputs cross back: a notebook whose cells were changed there is not graded (it is reported).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from matsuri.grading.workspace import GradingError, Workspace

MAX_NOTEBOOK_BYTES = 50_000_000


class ReplayExecution(NbGraderPreprocessor):
    """Execute's place in autograde: the outputs of a run done elsewhere, cell for cell."""

    executed = Unicode("", help="Folder of notebooks executed elsewhere: "
                                "<lesson>/<student>/<notebook>.ipynb.").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        path = Path(self.executed, info["assignment"], info["student"], f"{info['notebook']}.ipynb")
        if not path.is_file():
            raise GradingError(f"no executed copy of {info['notebook']} came back from SageMaker")
        ran = nbformat.read(path, as_version=4)
        if [(c.cell_type, c.source) for c in ran.cells] != [(c.cell_type, c.source) for c in nb.cells]:
            raise GradingError(f"the executed copy of {info['notebook']} that came back does not "
                               "have the cells that were sent, so it was not graded")
        for cell, done in zip(nb.cells, ran.cells, strict=True):
            if cell.cell_type == "code":  # outputs only: sources and nbgrader's metadata stay ours
                cell.outputs = done.get("outputs", [])
                cell.execution_count = done.get("execution_count")
                if "execution" in done.get("metadata", {}):
                    cell.metadata["execution"] = done.metadata["execution"]
        if "language_info" in ran.metadata:
            nb.metadata["language_info"] = ran.metadata["language_info"]
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        return cell, resources


@dataclass
class Shard:
    job: str
    output: str
    items: list[tuple[str, str]]   # (lesson, student)


def grade_on_sagemaker(ws: Workspace, lesson: str | None = None, workers: int = 1,
                       force: bool = False, feedback: bool = True, progress: bool = True,
                       learners: list[str] | None = None, settings=None):
    """`autograde.grade`, with the notebooks executed in `workers` Processing jobs (see above).
    `settings`: the infra settings (default: infra/settings.toml or MATSURI_INFRA_SETTINGS)."""
    from matsuri.grading import autograde as local
    from matsuri.infra import settings as infra_settings
    from matsuri.infra.aws.notebook_runs import ProcessingJobs

    if workers < 1:
        raise GradingError(f"--workers must be 1 or more, not {workers}.")
    jobs = ProcessingJobs(settings or infra_settings.load())
    jobs.require()  # settings, SDK and bucket: said before anything is done
    with tempfile.TemporaryDirectory(prefix="matsuri-sagemaker-grade-") as scratch:
        return local.grade(ws, lesson, workers, force, feedback, progress, learners, execute=lambda work:
                           run_remotely(ws, jobs, work, workers, feedback, Path(scratch), progress))


def run_remotely(ws: Workspace, jobs, work: list[tuple[str, list[str]]], workers: int,
                 feedback: bool, scratch: Path, progress: bool) -> dict[str, dict[str, dict]]:
    """Sanitise here, execute there, grade here: {lesson: {student: outcome}} as run_workers gives."""
    outcomes: dict[str, dict[str, dict]] = {lesson: {} for lesson, _ in work}
    folders = {}
    for lesson, students in work:
        for student, result in sanitise(ws, lesson, students, scratch / "course").items():
            if isinstance(result, Path):
                folders[result] = (lesson, student)
            else:
                outcomes[lesson][student] = {"student": student, "ok": False, "error": result}
    if not folders:
        return outcomes
    shards: list[Shard] = []
    try:
        start_shards(ws, jobs, folders, workers, scratch, progress, shards)
    except BaseException:  # a shard that did not start: those that did are not left running
        for started in shards:
            jobs.stop(started.job)
        raise
    finished = jobs.wait([s.job for s in shards], jobs.sm.processing_max_minutes * 60)
    executed = scratch / "executed"
    sent = {item: folder for folder, item in folders.items()}
    for shard in shards:
        for (lesson, student), outcome in collect(ws, jobs, shard, finished[shard.job], executed,
                                                  sent).items():
            outcomes[lesson][student] = outcome
    for lesson, students in work:
        ready = [s for s in students if outcomes[lesson].get(s, {}).get("ok")]
        outcomes[lesson] |= replay(ws, lesson, ready, executed, feedback, progress)
    return outcomes


def sanitise(ws: Workspace, lesson: str, students: list[str], root: Path) -> dict[str, Path | str]:
    """nbgrader's autograde without its execution steps, in a scratch course: {student: the
    sanitised folder, or why it could not be made}."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from matsuri.grading.worker import explain

    if not students:
        return {}
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "gradebook.db").exists():
        with sqlite3.connect(ws.gradebook) as source, sqlite3.connect(root / "gradebook.db") as copy:
            source.backup(copy)
    for step in ("source", "release"):
        if ws.step(step, lesson).is_dir() and not (root / step / lesson).exists():
            shutil.copytree(ws.step(step, lesson), root / step / lesson)
    for student in students:
        target = root / "submitted" / student / lesson
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ws.step("submitted", student, lesson), target)
    config = ws.config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}?timeout=120"
    config.Autograde.autograde_preprocessors = []
    os.environ["PATH"] = ws.kernel_env()["PATH"]  # nbgrader runs `alembic` by bare name
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    done = {}
    with _logged(ws, lesson):
        for student in students:
            result = api.autograde(lesson, student, force=True, create=True)
            print(f"--- sanitise {student}\n{result.get('log') or ''}{result.get('error') or ''}",
                  file=sys.stderr)
            done[student] = (root / "autograded" / student / lesson if result.get("success") else
                             explain("autograde", f"{result.get('log')}\n{result.get('error')}"))
    return done


def start_shards(ws: Workspace, jobs, folders: dict[Path, tuple[str, str]], workers: int,
                 scratch: Path, progress: bool, shards: list[Shard]) -> None:
    """One Processing job per shard of the sanitised folders, each added to `shards` once started."""
    from matsuri.checks.key_file import KEY_FILE
    from matsuri.infra.aws.notebook_runs import job_name
    from matsuri.infra.aws.processing import shard

    warehouse = jobs.shared(ws.warehouse)
    keys = scratch / "keys"
    keys.mkdir()
    for lesson in sorted({lesson for lesson, _ in folders.values()}):
        released = ws.step("release", lesson, KEY_FILE)
        if released.is_file():
            shutil.copy(released, keys / f"{lesson}.json")
    for index, group in enumerate(shard(sorted(folders), workers)):
        upload = scratch / f"shard-{index}"
        for folder in group:
            lesson, student = folders[folder]
            shutil.copytree(folder, upload / lesson / student)
        inputs = {"work": upload, "warehouse": warehouse} | ({"keys": keys} if any(keys.iterdir()) else {})
        name = job_name(jobs.settings.event.id, "grade")
        output = jobs.start(name, inputs, ["grade", "--timeout", str(ws.cell_timeout),
                                           "--language", ws.course.language],
                            jobs.sm.processing_max_minutes * 60, "course-grade")
        shards.append(Shard(name, output, [folders[f] for f in group]))
        if progress:
            print(f"Started SageMaker Processing job {name} for {len(group)} notebook folder(s)",
                  file=sys.stderr)


def collect(ws: Workspace, jobs, shard: Shard, finished, executed: Path,
            sent: dict[tuple[str, str], Path]) -> dict[tuple, dict]:
    """A shard's executed notebooks into executed/<lesson>/<student>/, and each learner's outcome:
    ok only if every notebook sent came back, size-bounded, with the very cells that were sent."""
    outcomes = {}
    failed = None
    if finished.status != "Completed":
        reason = " ".join(finished.reason.split())[:200]
        failed = (f"the SageMaker job that ran it ({shard.job}) "
                  + ("did not finish in time and was stopped" if finished.status == "TimedOut"
                     or "MaxRuntime" in reason else f"ended {finished.status}: {reason or 'no reason given'}"))
    listing = jobs.listing(shard.output) if not failed else {}
    if "grade.log" in listing:
        jobs.fetch(shard.output, "grade.log", ws.root / "logs" / f"sagemaker-{shard.job}.log",
                   MAX_NOTEBOOK_BYTES)
    reported = {}
    if "outcomes.jsonl" in listing:
        lines = scratch_read(jobs, shard.output, "outcomes.jsonl", executed.parent / f"{shard.job}.jsonl")
        for line in lines:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                item = json.loads(line)
                reported[(str(item["lesson"]), str(item["student"]))] = item
    for lesson, student in shard.items:
        item = reported.get((lesson, student))
        if failed or item is None:
            error = failed or f"no result came back from the SageMaker job {shard.job}"
        elif not item.get("ok"):
            error = str(item.get("error") or "the notebook could not be run")[:300]
        else:
            error = next(filter(None, (
                _came_back(jobs, shard.output, f"{lesson}/{student}/{path.name}", listing, path, executed)
                for path in sorted(sent[(lesson, student)].glob("*.ipynb")))), "")
        outcomes[(lesson, student)] = {"student": student, "ok": not error, "error": error}
    return outcomes


def _came_back(jobs, output: str, key: str, listing: dict, sent: Path, executed: Path) -> str:
    """Why the executed copy of a notebook cannot be graded, or "" if it can."""
    if key not in listing:
        return f"no executed copy of {sent.name} came back from SageMaker"
    if listing[key] > MAX_NOTEBOOK_BYTES or not jobs.fetch(output, key, executed / key,
                                                          MAX_NOTEBOOK_BYTES):
        return f"the executed {sent.name} is larger than {MAX_NOTEBOOK_BYTES // 1_000_000} MB"
    try:
        ran = nbformat.read(executed / key, as_version=4)
    except Exception:
        return f"the executed {sent.name} that came back is not a readable notebook"
    sent_cells = nbformat.read(sent, as_version=4).cells
    if [(c.cell_type, c.source) for c in ran.cells] != [(c.cell_type, c.source) for c in sent_cells]:
        (executed / key).unlink()
        return (f"the executed {sent.name} that came back does not have the cells that were sent, "
                "so it was not graded")
    return ""


def scratch_read(jobs, output: str, key: str, path: Path) -> list[str]:
    if not jobs.fetch(output, key, path, MAX_NOTEBOOK_BYTES):
        return []
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def replay(ws: Workspace, lesson: str, students: list[str], executed: Path, feedback: bool,
           progress: bool) -> dict[str, dict]:
    """nbgrader's autograde and feedback on the course, as a local worker runs them, with the
    outputs that came back in place of execution."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from tqdm.auto import tqdm

    from matsuri.grading.preprocessors import ExecuteWithinLimits
    from matsuri.grading.worker import grade_one

    if not students:
        return {}
    config = ws.config()
    config.Autograde.autograde_preprocessors = [
        ReplayExecution if step is ExecuteWithinLimits else step
        for step in config.Autograde.autograde_preprocessors]
    config.ReplayExecution.executed = str(executed)
    os.environ["PATH"] = ws.kernel_env()["PATH"]
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    outcomes = {}
    with _logged(ws, lesson):
        for student in tqdm(students, desc=f"grade {lesson}", unit="notebook", disable=not progress):
            outcomes[student] = grade_one(api, lesson, student, feedback)
    return outcomes


@contextlib.contextmanager
def _logged(ws: Workspace, lesson: str):
    """nbgrader's log of this grading into logs/, as the local workers keep it."""
    logs = ws.root / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / f"grade-{lesson}-sagemaker.log", "a", encoding="utf-8") as log, \
            contextlib.redirect_stderr(log):
        yield
