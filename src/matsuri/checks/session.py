"""The lesson session inside a learner's kernel: warehouse connection, SQL cells and exercises.

`start(course, lesson)` is the only call a notebook makes (in its locked setup cell). It opens
the warehouse read-only, sets jupysql up on that connection (telemetry off), loads the lesson's
check key and puts one `Exercise` per question (`q1`, `q2`, …) in the notebook's namespace.
"""

from __future__ import annotations

import os
from pathlib import Path

from matsuri.checks import activity, messages, sqlcells
from matsuri.checks import key_file as keys
from matsuri.checks.display import Feedback
from matsuri.checks.exercise import Exercise
from matsuri.checks.outcomes import NotAttempted, Outcome, SqlProblem, Uncheckable

_current: Session | None = None


REFERENCE_ENV = "MATSURI_REFERENCE_RUN"  # the organiser's run of a source notebook: no key yet


def load_key(course: str, lesson: str, lang: str) -> keys.LessonKey:
    """The key released beside the notebook (while grading, a fresh copy of it from the grader:
    grades are decided outside the kernel, so this key only shapes the learner's messages)."""
    if os.environ.get(REFERENCE_ENV):  # building the key from the reference answers
        return keys.LessonKey(course, lesson, lang, False, "", [])
    folder = os.environ.get(keys.KEYS_ENV)
    path = Path(folder) / f"{lesson}.json" if folder else Path.cwd() / keys.KEY_FILE
    if not path.is_file():
        raise Uncheckable("key_missing", lang, file=path.name)
    try:
        key = keys.read(path)
    except (OSError, ValueError, TypeError, KeyError):
        raise Uncheckable("key_unreadable", lang, file=path.name) from None
    if (key.course, key.lesson) != (course, lesson):
        raise Uncheckable("key_unreadable", lang, file=path.name)
    return key


class Session:
    def __init__(self, shell, key: keys.LessonKey, con, lang: str):
        self.shell, self.key, self.con, self.lang = shell, key, con, lang
        self.sql_sources: dict[str, str] = {}
        self.exercises = {e.name: Exercise(e, self) for e in key.exercises}
        self._cell: str = ""
        self.workspace = activity.workspace()  # where the activity log goes; None: not logged

    # --- what exercises use -------------------------------------------------------------
    def note(self, exercise: str, event: str, outcome: str | None = None) -> None:
        """One line in the learner's activity log (matsuri.checks.activity); never raises."""
        activity.record(self.workspace, self.key.course, self.key.lesson, exercise, event, outcome)

    def value(self, name: str):
        return self.shell.user_ns.get(name)

    def show(self, feedback: Feedback) -> None:
        from IPython.display import display

        display(feedback)

    def query(self, sql: str):
        """The table a SELECT gives on the warehouse, as a pandas DataFrame (Python lessons)."""
        try:
            return sqlcells.run_again(self.con, sql)
        except Exception as error:
            raise self._sql_problem(error) from None

    def rerun(self, sql: str):
        return sqlcells.run_again(self.con, sql)

    def empty_sql_cell(self, var: str | None) -> None:
        """Run in place of a SQL cell that holds only comments: forget any old result, say so."""
        if var:
            self.shell.user_ns.pop(var, None)
            self.sql_sources.pop(var, None)
        raise NotAttempted("empty_query", self.lang)

    # --- IPython hooks ------------------------------------------------------------------
    def install(self) -> None:
        shell = self.shell
        os.environ["PLOOMBER_STATS_ENABLED"] = "false"  # jupysql telemetry stays off
        if "sql" not in shell.extension_manager.loaded:
            # Loading, jupysql looks for its settings in the first pyproject.toml above the
            # notebook (in a local workspace, the kit's own) and in ~/.jupysql/config, and says so
            # below the setup cell: "pip install toml" without the `toml` package, tips naming those
            # files with it. The kit sets jupysql up itself (just below): not for learners' eyes.
            from IPython.utils.capture import capture_output

            with capture_output():
                shell.run_line_magic("load_ext", "sql")
        for setting in ("displaycon = False", "autopandas = True", "feedback = 0"):
            shell.run_line_magic("config", f"SqlMagic.{setting}")
        shell.user_ns["__matsuri__"] = self
        shell.user_ns["__matsuri_warehouse__"] = self.con
        shell.user_ns["query"] = self.query
        shell.run_line_magic("sql", "__matsuri_warehouse__ --alias warehouse")
        shell.input_transformers_cleanup.append(sqlcells.transform)
        shell.events.register("pre_run_cell", self._before)
        shell.events.register("post_run_cell", self._after)
        shell.set_custom_exc((Exception,), self._on_error)
        shell.user_ns.update(self.exercises)

    def close(self) -> None:
        shell = self.shell
        if sqlcells.transform in shell.input_transformers_cleanup:
            shell.input_transformers_cleanup.remove(sqlcells.transform)
        for event, hook in (("pre_run_cell", self._before), ("post_run_cell", self._after)):
            try:
                shell.events.unregister(event, hook)
            except ValueError:
                pass
        shell.set_custom_exc((), None)
        try:
            self.con.close()
        except Exception:
            pass

    def _before(self, info) -> None:
        self._cell = info.raw_cell or ""

    def _after(self, result) -> None:
        cell = sqlcells.parse(result.info.raw_cell or "")
        if cell is None or not cell.var or not result.success:
            return
        self.sql_sources[cell.var] = cell.body
        table = self.shell.user_ns.get(cell.var)
        if hasattr(table, "columns"):
            self.show_table(table)

    def show_table(self, table) -> None:
        from IPython.display import display

        display(table)

    def _on_error(self, shell, etype, value, tb, tb_offset=None):
        """Our outcomes render themselves; SQL errors become plain words; the rest is untouched."""
        if not isinstance(value, Outcome) and sqlcells.parse(self._cell) is not None:
            value = self._sql_problem(value)
            etype, tb = type(value), None
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)
        return None

    def _sql_problem(self, error: BaseException) -> SqlProblem:
        from matsuri.warehouse.query import is_write_refusal

        detail = sqlcells.database_message(error)
        if is_write_refusal(Exception(detail)):
            return SqlProblem("read_only", self.lang)
        if detail.strip() == "Query interrupted":
            return SqlProblem("interrupted", self.lang)
        return SqlProblem("sql_error", self.lang, detail=detail)


def start(course: str, lesson: str, language: str | None = None) -> None:
    """Set up a lesson notebook: read-only warehouse, SQL cells, and its exercises q1, q2, …"""
    global _current
    from IPython import get_ipython

    lang = messages.language(language)
    shell = get_ipython()
    if shell is None:
        raise Uncheckable("outside_notebook", lang)
    if _current is not None:
        _current.close()
        _current = None
    key = load_key(course, lesson, lang)
    lang = messages.language(language or key.language)
    con = _connect(lang)
    session = Session(shell, key, con, lang)
    session.install()
    _current = session
    names = messages.listing(list(session.exercises))
    lines = [messages.render("ready", lang, names=names)]
    if key.warehouse and keys.warehouse_signature(con) != key.warehouse:
        lines.append(messages.render("warehouse_changed", lang))
    session.show(Feedback("info", f"{course} · {lesson}", lines))


def _connect(lang: str):
    from matsuri.errors import MatsuriError
    from matsuri.warehouse.query import connect

    try:
        con = connect()
    except MatsuriError as error:
        raise Uncheckable("warehouse_missing", lang, detail=str(error)) from None
    # One DuckDB thread per learner kernel: with more, DuckDB 2.0 often misses the interrupt
    # (the stop button, or the grading timeout), so an endless query could never be stopped.
    # It is also fair on a shared server: one learner's query does not take every core.
    con.execute("SET threads = 1")
    return con


def current() -> Session | None:
    return _current
