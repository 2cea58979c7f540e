"""What runs inside a SageMaker Processing job: `python -m matsuri.infra.aws.notebook_entry MODE`.

The job's container (the kit's image) is the isolation: this module runs the participant's or
learner's notebooks the way this machine's trusted path does (`sandbox.notebooks.execute` with no
sandbox; nbgrader's ExecuteWithinLimits for grading), and writes only data back. Nothing here
decides a score or a grade: the organiser's side does that from the files written here
(notebook_runs.py, grading/remote.py).

    run    input/notebook/<one>.ipynb, input/warehouse/<one file>  →  output/executed.ipynb,
           output/log.txt, output/files/<prediction files>, output/outcome.json
    grade  input/work/<lesson>/<learner>/ (notebooks already sanitised by nbgrader at home),
           input/warehouse/<one file>, input/keys/<lesson>.json (the learners' own check keys,
           if the course has any)  →  output/<lesson>/<learner>/<notebook>.ipynb (executed),
           output/outcomes.jsonl, output/grade.log

This process makes itself the "subreaper" of what it starts: a process a notebook leaves behind
(even a double-forked one) becomes its child and is killed before the next notebook starts and
before any file is written out. Each notebook also gets its own HOME, IPython folder and working
folder, so an IPython startup file planted by one does not run in the next. What one notebook
writes elsewhere in the container (as its user) can still reach later notebooks of the same job:
one job per learner (`--workers` = learners) isolates them completely.

`MATSURI_PROCESSING_ROOT` moves /opt/ml/processing under another folder (tests play a job with it).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import shutil
import stat
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT_ENV = "MATSURI_PROCESSING_ROOT"
PR_SET_CHILD_SUBREAPER = 36
OUTCOME, FILES = "outcome.json", "files"


def base() -> Path:
    return Path(os.environ.get(ROOT_ENV, "/")) / "opt" / "ml" / "processing"


def become_subreaper() -> None:
    """Orphans of our descendants are re-parented to us, not to init: we can end them all."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def end_children() -> int:
    """Kill every process this one started (directly or not) and reap it; returns how many."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(children, timeout=10)
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    return len(children)


@contextlib.contextmanager
def fresh_home():
    """A HOME, IPYTHONDIR and TMPDIR of the notebook's own, removed afterwards."""
    saved = {k: os.environ.get(k) for k in ("HOME", "IPYTHONDIR", "TMPDIR")}
    home = Path(tempfile.mkdtemp(prefix="matsuri-home-"))
    os.environ.update(HOME=str(home), IPYTHONDIR=str(home / ".ipython"), TMPDIR=str(home / "tmp"))
    (home / "tmp").mkdir()
    try:
        yield home
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(home, ignore_errors=True)


def only(folder: Path, pattern: str = "*") -> Path:
    found = sorted(p for p in folder.glob(pattern) if p.is_file()) if folder.is_dir() else []
    if len(found) != 1:
        raise SystemExit(f"expected exactly one {pattern} in {folder}, found {len(found)}")
    return found[0]


# --- run: one hackathon submission ---------------------------------------------------------------

def run(timeout: int, deadline: float, max_bytes: int) -> dict:
    from matsuri.paths import WAREHOUSE_ENV
    from matsuri.sandbox import notebooks

    inputs, out = base() / "input", base() / "output"
    notebook, warehouse = only(inputs / "notebook", "*.ipynb"), only(inputs / "warehouse")
    out.mkdir(parents=True, exist_ok=True)
    executed, log = out / "executed.ipynb", out / "log.txt"
    workdir = Path(tempfile.mkdtemp(prefix="matsuri-run-"))
    os.environ[WAREHOUSE_ENV] = str(warehouse)
    outcome: dict = {"ok": True}
    timer = threading.Timer(deadline, end_children)  # the whole run's limit, as the sandbox has
    started = time.monotonic()
    timer.start()
    try:
        with fresh_home():
            notebooks.execute(notebook, executed, log,
                              {"warehouse": str(warehouse), "output_dir": str(workdir)},
                              timeout, None, workdir)
    except Exception as error:
        outcome = {"ok": False, "error": type(error).__name__, "message": str(error)[:4000],
                   "deadline": time.monotonic() - started >= deadline}
    finally:
        timer.cancel()
        end_children()  # nothing of the run goes on while its files are read
    outcome |= take_out(workdir, out / FILES, max_bytes)
    outcome["seconds"] = round(time.monotonic() - started, 3)
    shutil.rmtree(workdir, ignore_errors=True)
    return outcome


def take_out(workdir: Path, dest: Path, max_bytes: int) -> dict:
    """The run's output files (by the themes' names), regular files only, each at most max_bytes:
    the rest is listed, never copied (the organiser's side says what was wrong)."""
    from matsuri.hackathon.runner import find_outputs

    dest.mkdir(parents=True, exist_ok=True)
    taken, refused, too_large = [], [], {}
    for name, path in sorted(find_outputs(workdir).items()):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            refused.append(name)
            continue
        with os.fdopen(fd, "rb") as source:
            info = os.fstat(source.fileno())
            if not stat.S_ISREG(info.st_mode):
                refused.append(name)
            elif info.st_size > max_bytes:
                too_large[name] = info.st_size
            else:
                with open(dest / name, "wb") as target:
                    shutil.copyfileobj(source, target, max_bytes + 1)
                taken.append(name)
    return {"files": taken, "refused": refused, "too_large": too_large}


# --- grade: a shard of a course's submissions ----------------------------------------------------

def grade(timeout: int, language: str, restarts: int) -> list[dict]:
    import nbformat
    from traitlets.config import Config

    from matsuri.checks.key_file import KEYS_ENV
    from matsuri.grading.preprocessors import ExecuteWithinLimits
    from matsuri.paths import WAREHOUSE_ENV

    inputs, out = base() / "input", base() / "output"
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=out / "grade.log", level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    os.environ[WAREHOUSE_ENV] = str(only(inputs / "warehouse"))
    config = Config()
    config.Execute.timeout = timeout
    config.Execute.interrupt_on_timeout = True
    config.ExecuteWithinLimits.language = language
    config.ExecuteWithinLimits.restarts = restarts
    outcomes, executed = [], {}
    for folder in sorted(p for p in (inputs / "work").glob("*/*") if p.is_dir()):
        lesson, student = folder.parent.name, folder.name
        started = time.monotonic()
        outcome = {"lesson": lesson, "student": student, "ok": True, "error": ""}
        work = Path(tempfile.mkdtemp(prefix="matsuri-grade-"))
        try:
            shutil.copytree(folder, work, dirs_exist_ok=True)
            with fresh_home() as home, _key(inputs / "keys", lesson, home) as keys:
                os.environ[KEYS_ENV] = keys
                for path in sorted(work.glob("*.ipynb")):
                    nb = nbformat.read(path, as_version=4)
                    ExecuteWithinLimits(config=config).preprocess(nb, {"metadata": {"path": str(work)}})
                    executed[(lesson, student, path.name)] = nbformat.writes(nb)
                    end_children()
        except Exception as error:  # one learner's failure never stops the shard
            outcome.update(ok=False, error=f"the notebook could not be run ({type(error).__name__}: "
                                           f"{str(error)[:300]})")
            executed = {k: v for k, v in executed.items() if k[:2] != (lesson, student)}
        finally:
            os.environ.pop(KEYS_ENV, None)
            end_children()
            shutil.rmtree(work, ignore_errors=True)
        outcome["seconds"] = round(time.monotonic() - started, 3)
        print(json.dumps(outcome), flush=True)
        outcomes.append(outcome)
    end_children()  # only now, with nothing of any learner left running, are results written
    for (lesson, student, name), text in executed.items():
        target = out / lesson / student / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    (out / "outcomes.jsonl").write_text("".join(json.dumps(o) + "\n" for o in outcomes))
    return outcomes


@contextlib.contextmanager
def _key(keys: Path, lesson: str, home: Path):
    """A fresh copy of the learners' key of the lesson, for the kernel's checks (feedback only:
    grades are decided at home)."""
    folder = home / "keys"
    folder.mkdir()
    source = keys / f"{lesson}.json"
    if source.is_file():
        shutil.copy(source, folder / f"{lesson}.json")
    yield str(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m matsuri.infra.aws.notebook_entry",
                                     description=__doc__.split("\n\n")[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    one = modes.add_parser("run", help="run one hackathon submission")
    one.add_argument("--timeout", type=int, required=True, help="seconds a cell may run")
    one.add_argument("--deadline", type=float, required=True, help="seconds the whole run may take")
    one.add_argument("--max-bytes", type=int, required=True, help="largest output file taken out")
    many = modes.add_parser("grade", help="execute a shard of a course's sanitised submissions")
    many.add_argument("--timeout", type=int, required=True, help="seconds a cell may run")
    many.add_argument("--language", default="en")
    many.add_argument("--restarts", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
    become_subreaper()
    if args.mode == "run":
        outcome = run(args.timeout, args.deadline, args.max_bytes)
        (base() / "output" / OUTCOME).write_text(json.dumps(outcome), encoding="utf-8")
        print(json.dumps(outcome), flush=True)
    else:
        outcomes = grade(args.timeout, args.language, args.restarts)
        print(f"graded {sum(o['ok'] for o in outcomes)} of {len(outcomes)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
