"""The event state store: teams, submissions, scores, final picks and judges' marks.

Why SQLite in WAL mode: several processes write at once (each judge's Voila kernel, submission
runs started from several terminals, the report). SQLite lets many processes share one file;
in WAL mode readers never block the writer, and `busy_timeout` makes a writer wait its turn
instead of failing. Every write is one short `BEGIN IMMEDIATE` transaction, taken before reading
what it depends on (e.g. a limit count), so two writers cannot both pass the same check. Long work
(running a notebook) happens outside any transaction. DuckDB was the alternative, but one DuckDB
file allows a single writing process, which would need a server in front of it.
WAL needs a local disk (not NFS), which is where the organiser's state folder lives.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

SCHEMA_VERSION = 3
UPGRADES = {  # columns added since version 1, for stores made before
    "runner": "ALTER TABLE submissions ADD COLUMN runner TEXT",
    "sandbox": "ALTER TABLE submissions ADD COLUMN sandbox TEXT NOT NULL DEFAULT 'on'",
    "started_at": "ALTER TABLE submissions ADD COLUMN started_at TEXT",
    "attempts": "ALTER TABLE submissions ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
    "submitted_by": "ALTER TABLE submissions ADD COLUMN submitted_by TEXT",
}
BUSY_TIMEOUT_MS = 30_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS teams (
    team TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    theme TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
    team TEXT NOT NULL REFERENCES teams(team),
    member TEXT NOT NULL,
    PRIMARY KEY (team, member)
);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    team TEXT NOT NULL REFERENCES teams(team),
    theme TEXT NOT NULL,
    kind TEXT NOT NULL,              -- notebook | file | folder
    source TEXT NOT NULL,            -- the path given, for the record
    submitted_at TEXT NOT NULL,      -- UTC, ISO 8601
    finished_at TEXT,
    status TEXT NOT NULL,            -- queued | running | scored | rejected | cancelled
    message TEXT,
    digest TEXT,
    runner TEXT,                     -- pid:start time of the organiser process running it
    sandbox TEXT NOT NULL DEFAULT 'on',  -- off: a trusted run without a sandbox (--no-sandbox)
    started_at TEXT,                 -- when a run last began (queued ones wait for a slot)
    attempts INTEGER NOT NULL DEFAULT 0, -- runs begun: one cut off by a restart is retried once
    submitted_by TEXT                -- the account that dropped it in the drop box, if any
);
CREATE INDEX IF NOT EXISTS submissions_team ON submissions (team, status);
CREATE TABLE IF NOT EXISTS scores (
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    part TEXT NOT NULL,              -- public | private
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (submission_id, part, metric)
);
CREATE TABLE IF NOT EXISTS selections (
    team TEXT PRIMARY KEY REFERENCES teams(team),
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    selected_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS marks (
    judge TEXT NOT NULL,
    team TEXT NOT NULL REFERENCES teams(team),
    criterion TEXT NOT NULL,
    value REAL NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (judge, team, criterion)
);
CREATE TABLE IF NOT EXISTS notes (
    judge TEXT NOT NULL,
    team TEXT NOT NULL REFERENCES teams(team),
    note TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (judge, team)
);
"""


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def connect(path: Path) -> sqlite3.Connection:
    """One connection in autocommit mode; writes go through `write()` (BEGIN IMMEDIATE)."""
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    con.row_factory = sqlite3.Row
    con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a crash loses no committed data
    return con


def create(path: Path) -> None:
    """Create the store (or upgrade nothing if it is current); switching to WAL is persistent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = connect(path)
    try:
        con.execute("PRAGMA journal_mode = WAL")
        con.executescript(SCHEMA)  # every statement is IF NOT EXISTS: running init twice is harmless
        columns = {r[1] for r in con.execute("PRAGMA table_info(submissions)")}
        for column, statement in UPGRADES.items():
            if column not in columns:
                con.execute(statement)
        con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),))
    finally:
        con.close()
    path.chmod(0o600)


@contextlib.contextmanager
def write(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A short write transaction that holds the write lock from its first statement."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
