"""Helpers for grading tests: submissions crafted from a real released notebook."""

from __future__ import annotations

import copy
import csv
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
    full = len(refs)  # one point per exercise
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
        "solution": (answered(released, refs), full),
        "partial": (answered(released, partial), 3),
        # q1 is wrong, and its check cell (and the setup cell) were edited to hide it
        "tampered": (answered(released, wrong, edit={"q1": "pass", "setup": "print('no setup')"}), full - 1),
        "deleted-test": (answered(released, refs, drop=("q2",)), full),
        "deleted-setup": (answered(released, refs, drop=("setup",)), full),
        "endless": (answered(released, dict(refs) | {"q1_result": ENDLESS}), full - 1),
        "dropper": (answered(released, dict(refs) | {
            "q1_result": "DROP TABLE users",
            "q2_result": "INSERT INTO products VALUES (999, 'x', 'book', 1, NULL)",
        }), full - 2),
        "handmade": (answered(released, {k: v for k, v in refs.items() if k != "q6_result"},
                              after={"q6-sql": by_hand, "q5-sql": "del q5"}), full - 1),
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


def exchange_fetch(exchange: Path, course: str, lesson: str, home: Path, language: str = "") -> Path:
    """Fetch like a learner's server on the hub does: nbgrader's own command, with the hub's fetch
    class and the learner's MATSURI_LANG. Returns the fetched lesson's folder."""
    import os
    import subprocess
    import sys

    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "MATSURI_LANG"}
    env |= {"MATSURI_LANG": language} if language else {}
    env["JUPYTER_CONFIG_DIR"] = env["JUPYTER_CONFIG_PATH"] = str(home / ".jupyter")  # no stray config
    subprocess.run([sys.executable, "-m", "nbgrader", "fetch_assignment", lesson, "--course", course,
                    f"--Exchange.root={exchange}", "--Exchange.path_includes_course=False",
                    "--ExchangeFactory.fetch_assignment=matsuri.grading.language_fetch.FetchInReadersLanguage"],
                   cwd=home, env=env, check=True, capture_output=True, text=True, timeout=120)
    return home / lesson


def once_per_run(tmp_path_factory, name: str, build):
    """Build a costly session result once for all xdist workers: the first worker builds it, the
    others wait for it and read it back (`--dist loadscope` keeps a module on one worker, but not
    two modules that share a fixture, and the grading run is the costliest fixture of the area)."""
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


def _cells(nb, change):
    """A copy of `nb` with its cell list passed through `change(cells) -> cells`."""
    nb = copy.deepcopy(nb)
    nb.cells = change(list(nb.cells))
    return nb


def _index(cells, gid: str) -> int:
    return next(i for i, c in enumerate(cells) if grade_id(c) == gid)


def _duplicate(gid: str, first_source: str | None = None):
    """Copy-paste of a cell (ids and all, as JupyterLab does), the first copy optionally edited."""
    def change(cells):
        i = _index(cells, gid)
        twin = copy.deepcopy(cells[i])
        if first_source is not None:
            cells[i].source = first_source
        return cells[:i + 1] + [twin] + cells[i + 1:]
    return change


def _retype(gid: str, cell_type: str):
    def change(cells):
        i = _index(cells, gid)
        old = cells[i]
        make = {"markdown": nbformat.v4.new_markdown_cell, "raw": nbformat.v4.new_raw_cell}[cell_type]
        cells[i] = make(old.source, metadata=old.metadata)
        return cells
    return change


def _move_below_check(gid: str):
    def change(cells):
        i = _index(cells, f"{gid}-sql")
        sql = cells.pop(i)
        j = _index(cells, gid)
        return cells[:j + 1] + [sql] + cells[j + 1:]
    return change


def hostile(released_path: Path, refs: dict[str, str], secrets: dict[str, Path],
            other_lesson: Path) -> dict[str, tuple]:
    """Learners who try to cheat or who make common mistakes: student → (notebook, score, note).
    `secrets` are files a grading kernel must not read (source, keys, gradebook, another
    learner's work, labels); `other_lesson` is another lesson's released notebook."""
    released = nbformat.read(released_path, as_version=4)
    full = len(refs)  # one point per exercise
    nothing = {var: "SELECT 1 AS x" for var in refs}
    right = dict(refs)
    no_op = "lambda *args, **kwargs: None"
    patches = {
        # every way of making the checks pass in the kernel, with no right answer
        "patch-compare": ("import matsuri.checks.compare as c, matsuri.checks.exercise as e\n"
                          f"c.compare = e.compare = {no_op}"),
        "patch-class": f"from matsuri.checks.exercise import Exercise\nExercise.check = Exercise.verify = {no_op}",
        "patch-objects": "".join(f"q{n}.check = q{n}.verify = lambda: None\n" for n in range(1, full + 1)),
        "patch-rendering": ("from matsuri.checks import outcomes\n"
                            "outcomes.Outcome._render_traceback_ = lambda self: []\n"
                            f"get_ipython().set_custom_exc((BaseException,), {no_op})"),
        "patch-transformer": ("get_ipython().input_transformers_cleanup.append(\n"
                              "    lambda lines: ['pass\\n'] if 'check()' in ''.join(lines) else lines)"),
        "patch-hook": ("import matsuri.checks.session as s\n"
                       "s.current().key.exercises.clear()\n"
                       "get_ipython().events.register('pre_run_cell', lambda info: None)\n"
                       "import builtins; builtins.q1 = builtins.q2 = None"),
        "forge-outputs": ("from IPython.display import HTML, display\n"
                          "display(HTML('<b>✓ Correct!</b>'))\n"
                          "print('q1 ✓ Correct! 1/1')"),
        "rewrite-key": ("import json, os, pathlib\n"
                        "from matsuri.checks import start\n"
                        "from matsuri.checks.fingerprint import column_names, fingerprint\n"
                        "frame = __matsuri_warehouse__.sql('SELECT 1 AS x').df()\n"
                        "for path in pathlib.Path(os.environ['MATSURI_CHECK_KEYS']).glob('*.json'):\n"
                        "    key = json.loads(path.read_text())\n"
                        "    for e in key['exercises']:\n"
                        "        fp = fingerprint(frame, ['x'], [], e['places'], e['name'])\n"
                        "        e.update(columns=['x'], rows=1, order_by=[], order_hash=None,\n"
                        "                 column_hashes=fp.column_hashes, row_hash=fp.row_hash)\n"
                        "    path.write_text(json.dumps(key))\n"
                        f"start('sql-101', {released_path.stem!r})"),
    }
    learners = {name: (answered(released, nothing, after={"setup": code}), 0, "")
                for name, code in patches.items()}
    template = ("{{ get_ipython().ex('from matsuri.checks.exercise import Exercise; "
                "Exercise.check = Exercise.verify = lambda self: None') }}\nSELECT 1 AS x")
    learners["sql-templating"] = (answered(released, nothing | {"q1_result": template}), 0,
                                  "")
    # reads what grading keeps private, prints it into feedback, and writes where it can
    reads = "".join(
        f"try:\n    print({name!r}, open({str(path)!r}, 'rb').read()[:2000])\n"
        f"except Exception as error:\n    print({name!r}, 'refused:', type(error).__name__)\n"
        for name, path in secrets.items())
    writes = (f"import sqlite3\ntry:\n    db = sqlite3.connect({str(secrets['gradebook'])!r})\n"
              "    db.execute('UPDATE grade SET extra_credit = 10, manual_score = 0')\n"
              "    db.commit()\nexcept Exception as error:\n    print('gradebook refused:', error)\n")
    learners["snoop"] = (answered(released, right, after={"setup": reads + writes}), full, "")
    # honest learners' mistakes: grading must not lose their points
    wrong_then_right = "%%sql q1_result <<\nSELECT 1 AS x"
    # the copy counted is the one right below q1's SQL cell (lessons add teaching cells above it)
    twin = 1 + sum(c.cell_type == "code" for c in released.cells[:_index(released.cells, "q1-sql") + 1])
    learners["copied-answer"] = (_cells(answered(released, right), _duplicate("q1-sql", wrong_then_right)),
                                 full, f"q1: 2 SQL cells fill q1_result; the one in code cell {twin} counted")
    learners["copied-check"] = (_cells(answered(released, right), _duplicate("q2")), full, "")
    learners["moved-answer"] = (_cells(answered(released, right), _move_below_check("q3")), full, "")
    learners["retyped-check"] = (_cells(answered(released, right), _retype("q4", "raw")), full, "")
    learners["retyped-answer"] = (_cells(answered(released, right), _retype("q5-sql", "markdown")), full,
                                  "answer cell of q5 was changed to markdown; graded as code")
    # endless work that will not stop when interrupted: killed, the rest still graded
    stubborn = ("import time\nwhile True:\n    try:\n        time.sleep(0.1)\n"
                "    except KeyboardInterrupt:\n        pass")
    learners["stubborn-loop"] = (answered(released, right, after={"q2": stubborn}), full,
                                 "did not stop when interrupted, and was killed with its kernel")
    threads = "%%sql\nSET threads = 8"
    learners["threads-endless"] = (answered(released, right | {"q3_result": ENDLESS},
                                            after={"setup": threads}), full - 1, "the SQL cell of q3")
    learners["exits"] = (answered(released, right, after={"q3": "import os\nos._exit(0)"}), full,
                         "stopped its kernel")
    wrong_lesson = nbformat.read(other_lesson, as_version=4)
    learners["wrong-lesson"] = (wrong_lesson, None, f"this notebook is lesson {other_lesson.stem}")
    return learners


def rows(path: Path) -> list[dict]:
    """A CSV export as dicts, one per row."""
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))
