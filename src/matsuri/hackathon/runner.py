"""Run a submission notebook with papermill, its kernel in a sandbox, and collect its files.

The notebook gets two parameters, `warehouse` (the learners' read-only DuckDB file, nothing else)
and `output_dir` (its run folder); it must write its theme's prediction files there (the files
of `templates/<theme>/theme.toml`). The kernel runs in `matsuri.sandbox` as the team's own identity with the event's
limits (memory and processes for the whole run, file and folder sizes, no network); papermill
stops a cell that runs longer than the timeout, and the whole run is ended once it has run longer
than any run may. Files are taken out only as regular files the run's user wrote, size-bounded.

Backends run a `NotebookJob`: `sandbox` here (the default), `trusted` (no sandbox, as the
organiser, for a rehearsal; every log and the leaderboard say so). Another backend (a Kubernetes
Job, a SageMaker Processing job) takes the same job and returns the same result.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from matsuri import theme_spec
from matsuri.errors import UsageError
from matsuri.hackathon.predictions import InvalidSubmission
from matsuri.hackathon.settings import Settings
from matsuri.sandbox.box import Limits, Sandbox, Spec
from matsuri.sandbox.cgroups import Usage
from matsuri.sandbox.text import printable, quoted
from matsuri.templates.contract import ZONE_ENV

GRACE_SECONDS = 60


@dataclass(frozen=True)
class NotebookJob:
    """One submission run, described so that any backend can carry it out."""

    notebook: Path        # the organiser's copy of what was handed in
    out_dir: Path         # the submission's folder: executed.ipynb and log.txt go here
    files_dir: Path       # where the output files are copied
    settings: Settings
    warehouse: Path
    user: str             # the team's identity
    max_bytes: int        # largest output file accepted
    team: str = ""        # for messages: who handed it in, and which submission it is
    submission_id: int = 0
    extra_outputs: tuple[str, ...] = ()  # files taken out besides the themes' (a hand-off's model)


@dataclass
class RunResult:
    executed: Path
    log: Path
    seconds: float


class Backend(Protocol):
    def run(self, job: NotebookJob) -> RunResult: ...


def limits(settings: Settings) -> Limits:
    return Limits(memory_mb=settings.memory_mb, max_processes=settings.max_processes,
                  cpu_weight=settings.cpu_weight, file_mb=max(1, int(settings.max_file_mb + 0.999)),
                  folder_mb=settings.folder_mb, threads=settings.threads)


def notebook_spec(user: str, limits: Limits, warehouse: str, writable: tuple[str, ...] = (),
                  env: dict[str, str] | None = None) -> Spec:
    """A sandbox for a template notebook: the warehouse and the theme specs (public, read by the
    notebooks' writers) readable, nothing else of the organiser's."""
    templates = str(theme_spec.templates_dir().resolve())
    return Spec(user, limits, read_only=(warehouse, templates), writable=writable,
                env={"MATSURI_WAREHOUSE": warehouse, theme_spec.TEMPLATES_ENV: templates} | (env or {}))


class SandboxBackend:
    """On this machine, in a sandbox (bubblewrap, cgroup, the team's identity)."""

    def run(self, job: NotebookJob) -> RunResult:
        spec = notebook_spec(job.user, limits(job.settings), str(job.warehouse),
                             env={ZONE_ENV: job.settings.timezone})  # dates in the event's zone
        with Sandbox(spec) as box:
            return _run(job, box, box.work)


class TrustedBackend:
    """On this machine as the organiser, without a sandbox: only for code you trust."""

    def run(self, job: NotebookJob) -> RunResult:
        workdir = Path(tempfile.mkdtemp(prefix="matsuri-trusted-"))
        try:
            return _run(job, None, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


BACKENDS: dict[str, Backend] = {"sandbox": SandboxBackend(), "trusted": TrustedBackend()}
OPTIONAL = {"sagemaker": "matsuri.infra.aws.notebook_runs"}  # loaded when chosen: an optional extra


def backend(name: str) -> Backend:
    if name in OPTIONAL and name not in BACKENDS:
        import importlib

        BACKENDS[name] = importlib.import_module(OPTIONAL[name]).Backend()
    if name not in BACKENDS:
        raise UsageError(f"There is no runner backend '{name}'; backends: "
                         f"{', '.join([*BACKENDS, *OPTIONAL])}.")
    return BACKENDS[name]


def _run(job: NotebookJob, box: Sandbox | None, workdir: Path) -> RunResult:
    from matsuri.sandbox import notebooks

    settings = job.settings
    executed, log = job.out_dir / "executed.ipynb", job.out_dir / "log.txt"
    shown = quoted(job.notebook.name, 80)  # a participant's file name: no escape sequences
    name = f"The notebook {shown}"
    started = time.monotonic()
    if box is None:
        log.write_text("WARNING: trusted run without a sandbox (--no-sandbox): the notebook ran as "
                       "the organiser and could read everything the organiser can.\n", encoding="utf-8")
    try:
        notebooks.execute(job.notebook, executed, log,
                          {"warehouse": str(job.warehouse), "output_dir": str(workdir)},
                          settings.timeout_seconds, box, workdir,
                          deadline=settings.timeout_seconds + GRACE_SECONDS)
    except Exception as error:
        usage = box.end_processes() if box else Usage(False, False)
        where = (f"`matsuri hackathon submissions {job.team} --id {job.submission_id}` shows where "
                 "its run log is kept" if job.team else f"its run log is {log}")
        raise InvalidSubmission(failure_message(settings, executed, error, usage, name, where)) from None
    finally:
        if box is not None:
            box.end_processes()  # nothing of the run may go on while its files are read
    outputs = find_outputs(workdir, job.extra_outputs)
    if "predictions.csv" not in outputs:
        raise InvalidSubmission(
            f"{name} ran to the end but wrote no predictions.csv into its working folder. Save "
            "your predictions with something like "
            "`predictions.to_csv(Path(output_dir) / \"predictions.csv\", index=False)` "
            "(output_dir is a parameter the runner sets) and submit again."
        )
    job.files_dir.mkdir(parents=True, exist_ok=True)
    owner = box.identity.uid if box else os.geteuid()
    for file_name, path in outputs.items():
        _copy_output(path, job.files_dir / file_name, owner, job.max_bytes, shown)
    return RunResult(executed, log, time.monotonic() - started)


def _code_cells(executed: Path) -> list:
    """The executed notebook's code cells as the participant numbers them (no injected cell)."""
    import nbformat

    try:
        nb = nbformat.read(executed, as_version=4)
    except Exception:
        return []
    return [c for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in
            c.get("metadata", {}).get("tags", [])]


def _first_error(executed: Path) -> tuple[int, str, str] | None:
    """(cell number counted from 1 among code cells, error name, first line of its value)."""
    for number, cell in enumerate(_code_cells(executed), start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                # the participant's text, shown to the organiser: no escape sequences or controls
                # (an OSC title, a bidi override), not only the colours a traceback carries
                value = printable(str(output.get("evalue", ""))).strip().splitlines()
                name = " ".join(printable(str(output.get("ename", ""))).split()) or "Error"
                return number, name, (value[0] if value else "")[:200]
    return None


def _last_started(executed: Path) -> int | None:
    """The code cell (counted as in `_first_error`) that was running when the run was stopped."""
    started = [n for n, c in enumerate(_code_cells(executed), start=1)
               if c.get("metadata", {}).get("papermill", {}).get("start_time")]
    return started[-1] if started else None


def failure_message(settings: Settings, executed: Path, error: Exception, usage: Usage,
                     name: str, where: str) -> str:
    """What stopped the run, in plain words, from the error and what the run's cgroup saw."""
    kind = type(error).__name__
    limit = f"{settings.memory_mb:,} MB"
    if kind == "CellTimeoutError" or "timed out" in str(error):
        return (f"{name} did not finish within the {settings.timeout_seconds} seconds allowed for "
                "a cell, so it was stopped. Make the slow step faster (use less data or a simpler "
                "model while you try ideas) and check that the notebook has no endless loop, then "
                "submit again.")
    found = _first_error(executed)
    if usage.out_of_memory or (found and found[1] == "MemoryError"):
        number = found[0] if found else _last_started(executed)
        cell = f" in code cell {number}" if number else ""
        return (f"{name} ran out of memory{cell}: together, its processes tried to use more than "
                f"the {limit} each run may use. Load only the columns and rows you need (filter in "
                "SQL), use smaller data types, or free large tables you no longer need, then submit "
                "again.")
    if usage.too_many_processes:
        return (f"{name} tried to start more than the {settings.max_processes} processes a run may "
                "have at once. Use fewer parallel workers (for example n_jobs=1 or 2) and submit again.")
    if found and ("File too large" in found[2] or found[1] == "OSError" and "[Errno 27]" in found[2]):
        return (f"{name} tried to write a file larger than {settings.max_file_mb:g} MB in code cell "
                f"{found[0]}, the most a run may write in one file. Save only what you need (the "
                "predictions) and submit again.")
    if found and "No space left on device" in found[2]:
        return (f"{name} filled its run folder in code cell {found[0]}: a run may keep at most "
                f"{settings.folder_mb:,} MB of files. Save only what you need and submit again.")
    if kind == "DeadKernelError" or "Kernel died" in str(error) or "dead" in str(error).lower():
        return (f"{name} stopped suddenly: its Python process ended without an error message, which "
                f"usually means it needed more than the {limit} of memory each run may use or ran "
                f"longer than a run may. Use less data at once (filter in SQL, smaller types) and "
                f"submit again; {where}.")
    if found:
        return (f"{name} stopped with an error in code cell {found[0]} ({found[1]}: "
                f"{found[2].rstrip('.')}). Fix that cell, check that the whole notebook runs from top "
                f"to bottom (Restart Kernel and Run All Cells), then submit again; {where}.")
    return (f"{name} could not be run to the end; the run log says why ({where}). Check that it "
            "opens in JupyterLab and runs from top to bottom, then submit again.")


def _regular_files(folder: Path, extra: tuple[str, ...] = ()) -> dict[str, Path]:
    """The known output names directly in `folder`, looked at without following links (a link
    or special file by that name is kept, to be refused with a clear message when copied)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return {}
    names = set(theme_spec.output_files()) | set(extra)
    return {e.name: Path(e.path) for e in entries if e.name in names and not e.is_dir(follow_symlinks=False)}


def find_outputs(workdir: Path, extra: tuple[str, ...] = ()) -> dict[str, Path]:
    """Output files at the top of the run folder, else in exactly one of its sub-folders."""
    found = _regular_files(workdir, extra)
    if "predictions.csv" in found:
        return found
    subfolders = [Path(e.path) for e in os.scandir(workdir) if e.is_dir(follow_symlinks=False)]
    candidates = [f for f in (_regular_files(d, extra) for d in subfolders) if "predictions.csv" in f]
    return candidates[0] if len(candidates) == 1 else {}


def _copy_output(path: Path, dest: Path, owner: int, max_bytes: int, notebook: str) -> None:
    """Copy a file the run wrote, refusing links, special files and files the run did not own
    (a notebook that links predictions.csv to a secret file gets nothing out of it)."""
    refused = InvalidSubmission(
        f"{path.name} written by {notebook} is not an ordinary file (it is a link or a special "
        "file). Write the predictions themselves into the file and submit again."
    )
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        raise refused from None
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != owner:
            raise refused
        if info.st_size > max_bytes:
            raise InvalidSubmission(
                f"{path.name} written by {notebook} is {info.st_size / 1e6:.1f} MB, more than the "
                f"{max_bytes / 1e6:.1f} MB this event accepts. Keep only the expected columns, one "
                "line per prediction, and submit again."
            )
        with open(dest, "wb") as target:
            shutil.copyfileobj(source, target, max_bytes + 1)
