"""One grading worker: autograde (and write feedback for) the submissions it is handed.

Run by `matsuri course grade --workers N` as N processes, so N notebooks execute at once. Reads
one JSON line `["lesson", "student"]` at a time from stdin (the next is sent when this one is
reported) and prints one JSON line per notebook, which the parent turns into progress and the
grading report. Every notebook is graded on its own: one failure never stops the others.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from matsuri.checks.key_file import KEY_FILE, KEYS_ENV
from matsuri.grading import confined, feedback_labels, forkserver
from matsuri.paths import WAREHOUSE_ENV


def kernel_key(root: Path, lesson: str) -> tempfile.TemporaryDirectory:
    """A fresh copy of the key learners have (released beside the notebook) for one notebook's
    kernel: its checks show the learner their feedback. Grades do not depend on it (answers.py),
    so a notebook that rewrites it changes only its own messages."""
    copy = tempfile.TemporaryDirectory(prefix="matsuri-key-")
    released = root / "release" / lesson / KEY_FILE
    if released.is_file():
        shutil.copy(released, Path(copy.name) / f"{lesson}.json")
    return copy


def grade_one(api, lesson: str, student: str, feedback: bool) -> dict:
    started = time.perf_counter()
    outcome = {"lesson": lesson, "student": student, "ok": True, "error": ""}
    steps = [("autograde", lambda: api.autograde(lesson, student, force=True, create=True))]
    if feedback:
        steps.append(("feedback", lambda: api.generate_feedback(lesson, student, force=True)))
        steps.append(("feedback labels", lambda: label_feedback(api, lesson, student)))
    for name, run in steps:
        try:
            result = run()
        except Exception as error:  # nbgrader raised instead of returning a result
            result = {"success": False, "log": "", "error": f"{type(error).__name__}: {error}"}
        print(f"--- {name} {student}\n{result.get('log') or ''}{result.get('error') or ''}",
              file=sys.stderr, flush=True)  # the grading log the parent keeps in logs/
        if not result.get("success"):
            text = "\n".join(filter(None, [result.get("log"), result.get("error")]))
            outcome.update(ok=False, error=explain(name, text))
            break
    outcome["seconds"] = round(time.perf_counter() - started, 3)
    return outcome


def label_feedback(api, lesson: str, student: str) -> dict:
    """The feedback page's frame in the course's language (feedback_labels)."""
    folder = Path(api.coursedir.format_path(api.coursedir.feedback_directory, student, lesson))
    feedback_labels.translate_folder(folder, api.config.ExecuteWithinLimits.get("language", "en"))
    return {"success": True}


def explain(step: str, log: str) -> str:
    """One sentence for the grading report instead of nbgrader's log."""
    if "DeadKernelError" in log or "Kernel died" in log:
        return "the notebook's kernel could not be started again, so this notebook was not graded"
    lines = [line.strip() for line in log.splitlines() if "Error" in line or "ERROR" in line]
    return f"{step} failed: " + " | ".join(lines[-2:] or ["see the nbgrader log"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--no-feedback", action="store_true")
    parser.add_argument("--no-sandbox", action="store_true", help="trusted: kernels as this user")
    args = parser.parse_args(argv)

    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(args.root)).load_config()
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    with contextlib.ExitStack() as stack:
        box = None if args.no_sandbox else stack.enter_context(
            confined.sandbox(Path(os.environ[WAREHOUSE_ENV])))
        stack.enter_context(forkserver.running(box))  # kernels forked warm: see forkserver.py
        for line in sys.stdin:
            lesson, student = json.loads(line)
            forkserver.reset()  # nothing of the last notebook reaches this one
            with kernel_key(args.root, lesson) as folder:
                os.environ[KEYS_ENV] = folder  # the kernel nbgrader starts next inherits it
                outcome = grade_one(api, lesson, student, not args.no_feedback)
                del os.environ[KEYS_ENV]
            print(json.dumps(outcome), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
