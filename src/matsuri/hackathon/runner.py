"""Run a submission notebook with papermill in a clean, confined kernel, and collect its files.

The notebook gets two parameters, `warehouse` (the learners' read-only DuckDB file, nothing else)
and `output_dir` (its empty working folder); it must write predictions.csv there (and, for
call-keywords, keywords.csv). The kernel starts through `matsuri.hackathon.sandbox`: another
user, a memory limit, an allow-listed environment. papermill stops a cell that runs longer than
the timeout; a watchdog kills the whole process tree if papermill itself does not end in time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from matsuri.hackathon import sandbox
from matsuri.hackathon.predictions import InvalidSubmission
from matsuri.hackathon.settings import Settings

KERNEL = "matsuri-submission"
OUTPUT_FILES = ("predictions.csv", "keywords.csv")
GRACE_SECONDS = 60
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class RunResult:
    executed: Path
    log: Path
    seconds: float


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    procs = [*parent.children(recursive=True), parent]
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)


def _first_error(executed: Path) -> tuple[int, str, str] | None:
    """(cell number counted from 1 among code cells, error name, first line of its value)."""
    import nbformat

    try:
        nb = nbformat.read(executed, as_version=4)
    except Exception:
        return None
    code_cells = [c for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in
                  c.get("metadata", {}).get("tags", [])]
    for number, cell in enumerate(code_cells, start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                value = ANSI.sub("", str(output.get("evalue", ""))).strip().splitlines()
                return number, output.get("ename", "Error"), (value[0] if value else "")[:200]
    return None


def _failure_message(settings: Settings, executed: Path, log_text: str, name: str) -> str:
    limit = f"{settings.memory_mb:,} MB"
    where = "`matsuri hackathon submissions TEAM --id N` shows where its run log is kept"
    if "CellTimeoutError" in log_text or "Cell execution timed out" in log_text:
        return (f"{name} did not finish within the {settings.timeout_seconds} seconds allowed for "
                "a cell, so it was stopped. Make the slow step faster (use less data or a simpler "
                "model while you try ideas) and check that the notebook has no endless loop, then "
                "submit again.")
    error = _first_error(executed)
    if error and error[1] == "MemoryError":
        return (f"{name} ran out of memory in code cell {error[0]}: it tried to use more than the "
                f"{limit} each run may use. Load only the columns and rows you need (filter in SQL), "
                "use smaller data types, or free large tables you no longer need, then submit again.")
    if "DeadKernelError" in log_text or "Kernel died" in log_text:
        return (f"{name} stopped suddenly: its Python process ended without an error message, which "
                f"usually means it needed more than the {limit} of memory each run may use. Use less "
                f"data at once (filter in SQL, smaller types) and submit again; {where}.")
    if error:
        return (f"{name} stopped with an error in code cell {error[0]} ({error[1]}: "
                f"{error[2].rstrip('.')}). Fix that cell, check that the whole notebook runs from top "
                f"to bottom (Restart Kernel and Run All Cells), then submit again; {where}.")
    return (f"{name} could not be run to the end; the run log says why ({where}). Check that it "
            "opens in JupyterLab and runs from top to bottom, then submit again.")


def _find_outputs(workdir: Path) -> dict[str, Path]:
    """Output files at the top of the working folder, else in exactly one sub-folder."""
    found = {n: workdir / n for n in OUTPUT_FILES if (workdir / n).is_file()}
    if "predictions.csv" in found:
        return found
    candidates = [p for p in workdir.rglob("predictions.csv") if not p.parent.name.startswith("kernel-")]
    if len(candidates) == 1:
        folder = candidates[0].parent
        return {n: folder / n for n in OUTPUT_FILES if (folder / n).is_file()}
    return {}


def _copy_output(path: Path, dest: Path, user: str, max_bytes: int, notebook: str) -> None:
    """Copy a file the confined run wrote, refusing links and files it could not itself read.

    Opened without following a final symlink, and the opened file must belong to the sandbox
    user: a notebook that links predictions.csv to a secret file gets nothing out of it.
    """
    import os
    import pwd
    import stat

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
        owner_ok = not user or info.st_uid == pwd.getpwnam(user).pw_uid
        if not stat.S_ISREG(info.st_mode) or not owner_ok:
            raise refused
        if info.st_size > max_bytes:
            raise InvalidSubmission(
                f"{path.name} written by {notebook} is {info.st_size / 1e6:.1f} MB, more than the "
                f"{max_bytes / 1e6:.1f} MB this event accepts. Keep only the expected columns, one "
                "line per prediction, and submit again."
            )
        with open(dest, "wb") as target:
            shutil.copyfileobj(source, target)


def run_notebook(notebook: Path, out_dir: Path, files_dir: Path, settings: Settings,
                 warehouse: Path, kernels_dir: Path, max_bytes: int) -> RunResult:
    """Execute `notebook` confined; copy its output files to `files_dir`; raise InvalidSubmission."""
    import time

    from matsuri.lab import festival_env

    user = settings.run_as
    workdir = sandbox.scratch_dir("matsuri-run-", user)
    sandbox.write_kernelspec(
        kernels_dir, KERNEL, "matsuri submission (confined)", user=user,
        memory_mb=settings.memory_mb, threads=settings.threads, scratch=workdir,
        env={"MATSURI_WAREHOUSE": str(warehouse)},
    )
    executed, log = out_dir / "executed.ipynb", out_dir / "log.txt"
    env = festival_env()
    env.pop("MATSURI_LABELS", None)
    env["MATSURI_WAREHOUSE"] = str(warehouse)
    env["JUPYTER_PATH"] = str(kernels_dir)
    command = [
        sys.executable, "-m", "papermill", str(notebook), str(executed), "-k", KERNEL, "--language", "python",
        "--cwd", str(workdir), "-p", "warehouse", str(warehouse), "-p", "output_dir", str(workdir),
        "--execution-timeout", str(settings.timeout_seconds), "--no-progress-bar", "--log-output",
    ]
    started = time.monotonic()
    name = f"The notebook {notebook.name}"
    try:
        with open(log, "w", encoding="utf-8") as log_file:
            proc = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                                    cwd=out_dir, start_new_session=True)
            try:
                code = proc.wait(timeout=settings.timeout_seconds + GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _kill_tree(proc.pid)
                proc.wait()
                raise InvalidSubmission(
                    f"{name} did not finish within {settings.timeout_seconds} seconds, so it was "
                    "stopped. Make the slow steps faster and check for endless loops, then submit again."
                ) from None
        log_text = log.read_text(encoding="utf-8", errors="replace")
        if code != 0:
            raise InvalidSubmission(_failure_message(settings, executed, log_text, name))
        outputs = _find_outputs(workdir)
        if "predictions.csv" not in outputs:
            raise InvalidSubmission(
                f"{name} ran to the end but wrote no predictions.csv into its working folder. Save "
                "your predictions with something like "
                "`predictions.to_csv(Path(output_dir) / \"predictions.csv\", index=False)` "
                "(output_dir is a parameter the runner sets) and submit again."
            )
        files_dir.mkdir(parents=True, exist_ok=True)
        for file_name, path in outputs.items():
            _copy_output(path, files_dir / file_name, user, max_bytes, notebook.name)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return RunResult(executed, log, time.monotonic() - started)
