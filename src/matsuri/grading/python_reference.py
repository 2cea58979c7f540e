"""Reference answers of a Python lesson: its source notebook (solutions in place) run once by the
organiser, each `qN_answer` read back as a table.

The source notebook is the course's own content, so it runs as the organiser, in a fresh kernel
in a temporary folder, with the warehouse read-only. Its check cells are left out (there is no key
yet: this run makes it); a last cell exports every answer exactly as grading kernels do.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import NamedTuple

import nbformat

from matsuri.errors import UsageError
from matsuri.grading.course import Lesson
from matsuri.grading.reference import nbgrader_meta

EXPORT = """
from matsuri.checks.python_answers import export_any
for __var in {names!r}:
    export_any(__var, globals().get(__var), {folder!r})
"""


class Run(NamedTuple):
    """What a run's answers depend on: the lesson, its answer names, the notebook and warehouse
    as they are now."""
    lesson_id: str
    notebook: Path
    notebook_version: int
    names: tuple
    warehouse: Path | None
    warehouse_version: int

    @classmethod
    def of(cls, lesson: Lesson, warehouse: Path | None) -> Run:
        where = Path(warehouse) if warehouse else None
        return cls(lesson.id, lesson.notebook, lesson.notebook.stat().st_mtime_ns,
                   tuple(e.answer for e in lesson.exercises if e.kind == "python"), where,
                   where.stat().st_mtime_ns if where and where.exists() else 0)


_known: dict[Run, dict] = {}  # answers of each run already made


def all_reference_answers(lessons: list[Lesson], warehouse: Path | None, timeout: int = 300,
                          workers: int = 2) -> dict[str, dict]:
    """{lesson id: its reference answers}, `workers` notebooks at a time, each run once per notebook
    version and warehouse (releasing builds two keys from the same answers). Each runs in its own
    kernel, forked warm: a cold kernel's imports were half of a short reference notebook's time."""
    from concurrent.futures import ThreadPoolExecutor

    from matsuri.grading import forkserver

    runs = {lesson.id: Run.of(lesson, warehouse) for lesson in lessons}
    todo = [run for run in runs.values() if run not in _known and run.names]
    if todo:
        with forkserver.running(), ThreadPoolExecutor(max(1, workers)) as pool:
            list(pool.map(lambda run: _known_answers(run, timeout), todo))
    return {lesson_id: _known_answers(run, timeout) for lesson_id, run in runs.items()}


def reference_answers(lesson: Lesson, warehouse: Path | None, timeout: int = 300) -> dict:
    """{answer variable: DataFrame or estimator} for the lesson's Python exercises."""
    return _known_answers(Run.of(lesson, warehouse), timeout)


def _known_answers(run: Run, timeout: int) -> dict:
    if run not in _known:
        _known[run] = (_answers(run.lesson_id, run.notebook, run.names, run.warehouse, timeout)
                       if run.names else {})
    return dict(_known[run])


def _answers(lesson_id: str, notebook: Path, names: tuple, warehouse: Path | None, timeout: int) -> dict:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from matsuri.checks import estimators
    from matsuri.checks.python_answers import read_exported
    from matsuri.checks.session import REFERENCE_ENV
    from matsuri.paths import WAREHOUSE_ENV

    nb = nbformat.read(notebook, as_version=4)
    nb.cells = [c for c in nb.cells if not nbgrader_meta(c).get("grade")]  # the checks need the key
    with tempfile.TemporaryDirectory(prefix="matsuri-reference-") as folder:
        nb.cells.append(nbformat.v4.new_code_cell(EXPORT.format(names=list(names), folder=folder)))
        env = dict(os.environ) | {REFERENCE_ENV: "1"} | ({WAREHOUSE_ENV: str(warehouse)} if warehouse else {})
        from jupyter_client.manager import KernelManager

        kernel = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(folder) / "k"))
        try:  # IPC sockets in its own folder: no port, nothing else on the machine can talk to it
            NotebookClient(nb, km=kernel, timeout=timeout,
                           resources={"metadata": {"path": folder}}).execute(env=env)
        except CellExecutionError as error:
            raise UsageError(f"{lesson_id}: the reference notebook failed: "
                             f"{str(error).strip().splitlines()[-1]}") from None
        finally:
            if kernel.has_kernel:  # nbclient leaves a kernel it was handed running
                kernel.shutdown_kernel(now=True)
        answers = {name: estimators.load(Path(folder), name) or read_exported(Path(folder), name)
                   for name in names}
    missing = [name for name, value in answers.items()
               if not (hasattr(value, "columns") or estimators.is_estimator(value))]
    if missing:
        raise UsageError(f"{lesson_id}: the reference notebook sets no {', '.join(missing)}; each "
                         "Python exercise's solution cell must assign its answer variable.")
    return answers
