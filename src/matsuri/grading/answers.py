"""Grades decided on the organiser's side, from the learner's answers as data.

Python answers (`q1_answer = …`) cannot be run again here: the grading kernel's check cell
exports each as a table (checks/python_answers.py) and `decide_python` compares that with the
private key. SQL answers are run again, as follows.

The grading kernel runs a learner's notebook in the sandbox so that feedback shows their tables
and messages, but it decides nothing: code in a notebook can patch the checks, forge outputs or
rewrite its copy of the key, and none of that reaches a grade. For each exercise the grader reads
the SQL of the learner's answer cell from the notebook itself, runs it again here on its own
read-only connection to the warehouse, and compares the table with the private key.

Why run the SQL again rather than take the table the kernel made: a table that leaves the kernel
can be typed in by hand or computed by any means, while a query run here gives what it gives. It
costs milliseconds in DuckDB and needs no channel out of the sandbox. The query runs outside the
sandbox, so the connection is read-only with file access off, one thread, a memory cap, settings
locked, a time limit, and a new connection per notebook (nothing one learner's SQL creates, such
as a temporary table, is seen by the next).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path

from matsuri.checks import sqlcells
from matsuri.checks.compare import compare
from matsuri.checks.display import Feedback
from matsuri.checks.key_file import ExerciseKey
from matsuri.checks.messages import pick, render
from matsuri.checks.outcomes import Incorrect, NotAttempted, Outcome, SqlProblem, Uncheckable

MAX_SQL = 100_000            # characters of one answer; more is not a query a learner wrote
MEMORY = "2GB"               # for one answer's query, outside the sandbox's own limits
TIMEOUT_ERRORS = {"CellTimeoutError", "CellStopped"}


@dataclass
class Answer:
    """The SQL cell that answers one exercise, as found in the notebook."""
    sql: str | None          # the query without comments; None: no SQL cell fills the variable
    cell: int | None         # its number among the notebook's code cells (1-based)
    copies: int              # SQL cells that fill the same variable
    stopped: bool            # grading stopped that cell (time limit or crash): not run again


def find_answer(cells: list, var: str, before: int) -> Answer:
    """The `%%sql var <<` cell the check at index `before` would have seen: the last one above
    it, else the last one anywhere (a learner who moved it below)."""
    found: list[tuple[int, int, object]] = []
    number = 0
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        number += 1
        parsed = sqlcells.parse(cell.get("source", ""))
        if parsed is not None and parsed.var == var:
            found.append((index, number, cell))
    if not found:
        return Answer(None, None, 0, False)
    above = [f for f in found if f[0] < before]
    _, number, cell = (above or found)[-1]
    stopped = any(o.get("output_type") == "error" and o.get("ename") in TIMEOUT_ERRORS
                  for o in cell.get("outputs", []))
    return Answer(sqlcells.parse(cell.source).body, number, len(found), stopped)


class Rerun:
    """The organiser's connection for learners' queries (see the module docstring)."""

    def __init__(self, warehouse: Path, timeout: float):
        import duckdb

        self.timeout = timeout
        self.con = duckdb.connect(str(warehouse), read_only=True, config={
            "enable_external_access": False, "autoload_known_extensions": False,
            "autoinstall_known_extensions": False, "threads": 1, "memory_limit": MEMORY,
            "lock_configuration": True,
        })

    def table(self, sql: str):
        timer = threading.Timer(self.timeout, self.con.interrupt)
        timer.start()
        try:
            return sqlcells.run_again(self.con, sql)
        finally:
            timer.cancel()

    def close(self) -> None:
        self.con.close()


@dataclass
class Verdict:
    exercise: str
    correct: bool
    feedback: Feedback
    note: str = ""           # for the grading report (organiser's words), "" if nothing to say
    share: float | None = None  # partial credit (0 < share < 1) for a model answer


def decide(key: ExerciseKey, answer: Answer, rerun: Rerun, lang: str) -> Verdict:
    """Right or not, from the answer's SQL run again here; the learner's message either way."""
    var = key.answer
    note = ""
    if answer.copies > 1:
        note = (f"{key.name}: {answer.copies} SQL cells fill {var}; the one in code cell "
                f"{answer.cell} counted")
    try:
        if answer.sql is None:
            raise Incorrect("from_sql", lang, var=var)
        if not answer.sql:
            raise NotAttempted("not_attempted", lang, var=var)
        if answer.stopped:
            raise SqlProblem("interrupted", lang)
        if len(answer.sql) > MAX_SQL:
            raise SqlProblem("sql_error", lang, detail=f"more than {MAX_SQL:,} characters")
        if "{{" in answer.sql or "{%" in answer.sql:
            raise Incorrect("templated", lang, var=var)
        try:
            frame = rerun.table(answer.sql)
        except Exception as error:
            raise SqlProblem("sql_error", lang, detail=sqlcells.database_message(error)) from None
        compare(key, frame, lang)
    except Outcome as outcome:
        return Verdict(key.name, False, outcome.feedback(), note)
    lines = [text] if (text := pick(key.explanation, lang)) else []
    return Verdict(key.name, True, Feedback("correct", render("correct", lang), lines), note)


def decide_python(key: ExerciseKey, exported, lang: str) -> Verdict:
    """Right or not, from the answer the grading kernel exported as data (python_answers.py)."""
    from matsuri.checks.python_answers import UNANSWERED, compare_answer

    try:
        if exported is None:
            raise Uncheckable("not_checked_while_grading", lang)
        if isinstance(exported, str) and exported == UNANSWERED:
            raise NotAttempted("not_assigned", lang, var=key.answer)
        compare_answer(key, exported, lang)
    except Outcome as outcome:
        return Verdict(key.name, False, outcome.feedback())
    lines = [text] if (text := pick(key.explanation, lang)) else []
    return Verdict(key.name, True, Feedback("correct", render("correct", lang), lines))


def decide_model(key: ExerciseKey, folder: Path, rerun: Rerun, lang: str) -> Verdict:
    """A model answer scored here on rows the learner never saw, with credit in tiers."""
    from matsuri import paths
    from matsuri.checks import estimators
    from matsuri.checks.python_answers import UNANSWERED, read_exported
    from matsuri.warehouse.query import connect

    rules, var = key.estimator, key.answer
    try:
        model = estimators.load(folder, var)
        if model is None:
            if read_exported(folder, var) is UNANSWERED:
                raise NotAttempted("not_assigned", lang, var=var)
            raise Uncheckable("not_checked_while_grading", lang)
        rows = rerun.table(rules["hidden"])
        with connect(paths.labels_path()) as labels:  # the organiser's: never in any kernel
            truth = labels.sql(rules["hidden_labels"]).df()
        rows = rows.merge(truth.set_axis([rules["id"], "__truth"], axis=1), on=rules["id"])
        share, text = estimators.judge(model, rows.drop(columns=[rules["id"], "__truth"]), rows["__truth"],
                                       rules, rules["tiers_hidden"], var, lang, "model_graded")
    except Outcome as outcome:
        return Verdict(key.name, False, outcome.feedback())
    if share == 0:
        return Verdict(key.name, False, Incorrect("model_graded", lang, text=text).feedback())
    lines = [text, *([e] if share == 1 and (e := pick(key.explanation, lang)) else [])]
    title = render("correct" if share == 1 else "incorrect", lang)
    return Verdict(key.name, share == 1, Feedback("correct" if share == 1 else "hint", title, lines),
                   share=None if share == 1 else share)


def outputs(verdict: Verdict, points: float = 1.0) -> list[dict]:
    """The check cell's outputs as the gradebook and the feedback see them: the verdict only.
    nbgrader scores a test cell with an error output 0, a number as that many points (partial
    credit), and full points otherwise."""
    from nbformat.v4 import new_output

    shown = new_output("display_data", data={"text/html": verdict.feedback._repr_html_(),
                                             "text/plain": verdict.feedback.text()})
    if verdict.share is not None:
        earned = round(points * verdict.share, 4)
        return [shown, new_output("execute_result", data={"text/plain": repr(earned)}, execution_count=None)]
    if verdict.correct:
        return [shown]
    return [new_output("error", ename="Incorrect", evalue=verdict.feedback.text(),
                       traceback=verdict.feedback.ansi())]


@contextlib.contextmanager
def rerunning(warehouse: Path, timeout: float):
    rerun = Rerun(warehouse, timeout)
    try:
        yield rerun
    finally:
        rerun.close()
