"""The starters' `%%sql` cell: jupysql on the theme's read-only warehouse connection.

A participant who knows a little SQL changes what a model learns from by editing the load query
in a SQL cell. `%%sql rows <<` keeps the result in `rows` (a pandas DataFrame, the one
`tables.read` returns for the same query); `query("rows")` gives the SQL that made it, which the
hand-off serves the model with. jupysql is set up as the courses set it up
(matsuri.checks.session): telemetry off, its notices quiet, comments taken out before it sees the
query (jupysql 0.11 returns an empty table when a comment ends a query), and a query that fails
says what the database said instead of showing jupysql's traceback.
"""

from __future__ import annotations

import os

from matsuri.checks import messages, sqlcells
from matsuri.errors import MatsuriError, UsageError

CONNECTION = "__matsuri_warehouse__"  # the connection's name in the notebook (jupysql needs one)
_queries: dict[str, str] = {}  # variable -> the SQL, as written, of the cell that last filled it
_running = {"cell": ""}        # the source of the cell being run


def connect(con, shell=None) -> None:
    """Let the notebook's `%%sql` cells query `con` (from tables.open_warehouse: read-only, with
    the template's table names even when the company's tables are named otherwise)."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        raise UsageError("SQL cells run in a notebook. Outside one, use tables.read(con, sql).")
    os.environ["PLOOMBER_STATS_ENABLED"] = "false"  # jupysql's telemetry stays off
    if "sql" not in shell.extension_manager.loaded:
        from IPython.utils.capture import capture_output

        with capture_output():  # jupysql's notices about its settings files are not for learners
            shell.run_line_magic("load_ext", "sql")
    for setting in ("displaycon = False", "autopandas = True", "feedback = 0"):
        shell.run_line_magic("config", f"SqlMagic.{setting}")
    shell.user_ns[CONNECTION] = _Cursors(con)
    shell.run_line_magic("sql", f"{CONNECTION} --alias warehouse")
    if _without_comments not in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.append(_without_comments)
        shell.events.register("pre_run_cell", _before)
        shell.events.register("post_run_cell", _remember)
        plain_errors(shell)


class _Cursors:
    """The connection as jupysql holds it. jupysql runs each query on a new cursor: a second DuckDB
    connection to the same database, read-only and without file access like the first, but blind
    to the first one's temporary views, which give a company's own tables the template's names
    (tables.open_warehouse). Each cursor gets those views again."""

    def __init__(self, con):
        self._con = con
        self._views = [sql for (sql,) in con.execute(
            "SELECT sql FROM duckdb_views() WHERE temporary AND NOT internal").fetchall()]

    def cursor(self):
        cursor = self._con.cursor()
        for sql in self._views:
            cursor.execute(sql)
        return cursor

    def __getattr__(self, name):
        return getattr(self._con, name)


def query(var: str) -> str:
    """The SQL of the `%%sql var <<` cell that last ran without error."""
    if var not in _queries:
        raise UsageError(f"No SQL cell has made `{var}` yet: run the cell that starts with "
                         f"`%%sql {var} <<` first.")
    return _queries[var]


def _without_comments(lines: list[str]) -> list[str]:
    cell = sqlcells.parse("".join(lines))
    if cell is None or not cell.body:  # not a SQL cell, or an empty one (jupysql says so)
        return lines
    return [f"%%sql{cell.args}\n", f"{cell.body}\n"]


def _before(info) -> None:
    _running["cell"] = info.raw_cell or ""


def plain_errors(shell=None) -> None:
    """From now on the notebook shows the kit's own errors as their message alone, in the reader's
    language (no traceback: they say what was wrong and what to do), and a failing SQL cell as the
    database's words. Outside a notebook this does nothing."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((Exception,), _plain_error)


def _plain_error(shell, etype, value, tb, tb_offset=None):
    """A failing SQL cell shows the database's words (in the learner's language), the kit's own
    errors their message; other cells' errors are shown as always."""
    cell = sqlcells.parse(_running["cell"])
    if cell is None and isinstance(value, MatsuriError):
        from matsuri.language import configured

        etype, value, tb = type(value), MatsuriError(value.text(configured())), None
    elif cell is not None:
        from matsuri.warehouse.query import is_write_refusal

        lang, detail = messages.language(), sqlcells.database_message(value)
        key = "empty_query" if not cell.body else "read_only" if is_write_refusal(Exception(detail)) else "sql_error"
        etype, value, tb = UsageError, UsageError(messages.render(key, lang, detail=detail)), None
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)


def _remember(result) -> None:
    source = (result.info.raw_cell or "").lstrip("\n")
    cell = sqlcells.parse(source)
    if cell is not None and cell.var and result.success:
        _queries[cell.var] = sqlcells.SQL_MAGIC.match(source)["body"] or ""
