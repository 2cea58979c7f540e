"""Helpers for grading tests: submissions crafted from a real released notebook."""

from __future__ import annotations

import copy
import fcntl
import os
import pickle
from pathlib import Path

import nbformat

ENDLESS = "SELECT sum(i) AS n FROM range(1000000000000000) t(i)"


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def answered(released, answers: dict[str, str], drop=(), edit=None, after=None):
    """A copy of the released notebook with SQL answers filled in, cells dropped or edited, and
    extra code cells inserted after a given cell id ({grade_id: source})."""
    nb = copy.deepcopy(released)
    cells = []
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in drop:
            continue
        first = cell.source.split("\n", 1)[0]
        if cell.cell_type == "code" and first.startswith("%%sql ") and "<<" in first:
            var = first.split()[1]
            if var in answers:
                cell.source = f"{first}\n{answers[var]}"
        if edit and gid in edit:
            cell.source = edit[gid]
        cells.append(cell)
        if after and gid in after:
            cells.append(nbformat.v4.new_code_cell(after[gid]))
    nb.cells = cells
    return nb


def craft(released_path: Path, refs: dict[str, str], out: Path, lesson: str) -> dict[str, float | None]:
    """Write one folder per learner into `out`; return the score each should get (None: skipped)."""
    released = nbformat.read(released_path, as_version=4)
    wrong = dict(refs) | {"q1_result": "SELECT product_id, name FROM products"}
    partial = {k: v for k, v in refs.items() if k in ("q1_result", "q2_result", "q3_result")}
    partial["q4_result"] = refs["q4_result"].replace("LIMIT 10", "LIMIT 9")
    by_hand = (
        "q6_result = __matsuri_warehouse__.sql(\"\"\"" + refs["q6_result"] + "\"\"\").df()"
    )
    sabotage = ("import os, pathlib\n"
                "for key in pathlib.Path(os.environ['MATSURI_CHECK_KEYS']).glob('*.json'):\n"
                "    key.write_text('{}')")
    planter = ("import pathlib, subprocess\n"
               "startup = pathlib.Path.home() / '.ipython' / 'profile_default' / 'startup'\n"
               "startup.mkdir(parents=True, exist_ok=True)\n"
               "(startup / '00-pass.py').write_text('from matsuri.checks import exercise\\n'\n"
               "                                    'exercise.Exercise.check = exercise.Exercise.verify = '\n"
               "                                    'lambda self: None\\n')\n"
               "subprocess.Popen(['sleep', '600'], start_new_session=True)")
    notebooks = {
        # graded first by its worker, before `blank`: it leaves a process and an IPython startup
        # file that would pass every check of the notebooks its worker grades next
        "aaa-planter": (answered(released, {}, after={"setup": planter}), 0),
        # graded first by the other worker: it breaks its grading key, which must not hurt the others
        "aaa-saboteur": (answered(released, {}, after={"setup": sabotage}), 0),
        "blank": (answered(released, {}), 0),
        "solution": (answered(released, refs), 6),
        "partial": (answered(released, partial), 3),
        # q1 is wrong, and its check cell (and the setup cell) were edited to hide it
        "tampered": (answered(released, wrong, edit={"q1": "pass", "setup": "print('no setup')"}), 5),
        "deleted-test": (answered(released, refs, drop=("q2",)), 6),
        "deleted-setup": (answered(released, refs, drop=("setup",)), 6),
        "endless": (answered(released, dict(refs) | {"q1_result": ENDLESS}), 5),
        "dropper": (answered(released, dict(refs) | {
            "q1_result": "DROP TABLE users",
            "q2_result": "INSERT INTO products VALUES (999, 'x', 'book', 1, NULL)",
        }), 4),
        "handmade": (answered(released, {k: v for k, v in refs.items() if k != "q6_result"},
                              after={"q6-sql": by_hand, "q5-sql": "del q5"}), 4),
    }
    for student, (nb, _) in notebooks.items():
        folder = out / student / lesson
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{lesson}.ipynb")
    (out / "broken" / lesson).mkdir(parents=True)
    (out / "broken" / lesson / f"{lesson}.ipynb").write_text('{"cells": [ oops')
    (out / "missing" / lesson).mkdir(parents=True)
    (out / "missing" / lesson / "notes.txt").write_text("I renamed my notebook")
    (out / "bad+id").mkdir()
    (out / "bad+id" / f"{lesson}.ipynb").write_text("{}")
    expected = {student: float(score) for student, (_, score) in notebooks.items()}
    return expected | {"broken": None, "missing": None}


def exchange_submit(exchange: Path, course: str, lesson: str, student: str, notebook, home: Path):
    """Submit like a learner does with nbgrader's own exchange code."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default.submit import ExchangeSubmit
    from traitlets.config import Config

    folder = home / lesson
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / f"{lesson}.ipynb")
    config = Config()
    config.Exchange.root = str(exchange)
    config.Exchange.assignment_dir = str(home)
    config.Exchange.cache = str(home / ".cache")
    config.CourseDirectory.course_id = course
    config.CourseDirectory.assignment_id = lesson
    config.CourseDirectory.student_id = student
    coursedir = CourseDirectory(config=config)
    ExchangeSubmit(coursedir=coursedir, authenticator=Authenticator(config=config), config=config).start()


def once_per_run(tmp_path_factory, name: str, build):
    """Build a costly session result once for all xdist workers: the first worker builds it, the
    others wait for it and read it back (xdist_group does not keep our tests on one worker with
    pytest 9 and xdist 3.8, and the grading run is the costliest fixture of the area)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cache = shared / f"{name}.pickle"
        if cache.exists():
            return pickle.loads(cache.read_bytes())
        result = build()
        cache.write_bytes(pickle.dumps(result))
        return result
