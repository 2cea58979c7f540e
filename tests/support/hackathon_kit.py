"""Builders shared by the hackathon and gallery tests (their fixtures are in hackathon_fixtures).

Event settings for tests, valid predictions (optionally perfect, read from the labels), small
notebooks, a snapshot of the state store and the check that a submission was rejected harmlessly.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pandas as pd
import pytest

if TYPE_CHECKING:
    from hackathon_fixtures import Company

SETTINGS = """
[event]
name = "テストまつり"
starts = {starts}
ends = {ends}
timezone = "Asia/Tokyo"
language = "{language}"
split_seed = 11

[teams]
min_size = 1
max_size = 3

[submissions]
run_as = "{run_as}"
identities = {identities}
timeout_seconds = {timeout}
memory_mb = {memory_mb}
max_processes = {max_processes}
folder_mb = {folder_mb}
max_file_mb = {max_file_mb}
threads = 1
slots = {slots}
max_queued = {max_queued}

[themes.push-open-rate]
daily_limit = {daily_limit}
total_limit = {total_limit}
public_share = 0.3

[themes.call-keywords]
public_share = 0.3

[themes.product-ordering]
public_share = 0.3
{extra_themes}
[rubric]
scale = [1, 5]

[[rubric.criteria]]
id = "impact"
name = "ビジネスへの効果"
name_en = "Business impact"
weight = 0.5
description = "判断を変えられそうですか。"
description_en = "Would it change a decision?"

[[rubric.criteria]]
id = "demo"
name = "デモの分かりやすさ"
weight = 0.5
description = "同僚がひとりで使えますか。"

[judging]
judges = {judges}

[awards]
metric_weight = 0.5
rubric_weight = 0.5

[gallery]
preheat = false
pool_size = 1
cull_idle_seconds = 600
demo_memory_mb = 3072
"""

DEFAULTS = dict(starts="2020-01-01", ends="2099-12-31", run_as="matsuri-test", identities=3,
                timeout=60, memory_mb=4096, max_processes=256, folder_mb=1024,
                max_file_mb=5, daily_limit=50, total_limit=100, slots=2, max_queued=100, judges='["佐藤", "鈴木"]',
                extra_themes="", language="ja")


@contextlib.contextmanager
def connect(event) -> Iterator[sqlite3.Connection]:
    """A plain connection to the event store, committed and then closed.

    Closed on purpose: `with sqlite3.connect(...)` only commits, and the connection stays open until
    the garbage collector finds it. A test that forks while it is open gives every child SQLite's
    lock bookkeeping for the store without the locks; a child that then closes it breaks the
    store's locking (writes lost, 'cannot rollback', 'disk I/O error').
    """
    con = sqlite3.connect(event.db)
    try:
        with con:
            yield con
    finally:
        con.close()


def open_store_files(event) -> list[str]:
    """The store's files this process holds open (a fork would hand them to its children)."""
    fds = Path(f"/proc/{os.getpid()}/fd")
    names = []
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):  # the descriptor listing the folder is gone already
            names.append(os.readlink(fd))
    return [n for n in names if n.startswith(str(event.db))]


def add_team(event, team: str, theme: str, members=None, display_name: str = ""):
    from matsuri.hackathon.teams import add_team as add

    add(event, team, members or [f"{team}-member"], display_name)
    with connect(event) as con:
        con.execute("UPDATE teams SET theme = ? WHERE team = ?", (theme, team))


# ---- valid predictions -------------------------------------------------------------------

def push_predictions(company: Company, perfect: bool = False, seed: int = 0) -> pd.DataFrame:
    frame = company.query("SELECT delivery_id FROM holdout_push_deliveries ORDER BY 1")
    if perfect:
        truth = company.query("SELECT delivery_id, opened FROM push_open_labels", labels=True)
        frame = frame.merge(truth, on="delivery_id")
        frame["probability"] = frame.pop("opened").astype(float) * 0.8 + 0.1
    else:
        frame["probability"] = pd.Series(range(len(frame))).sample(frac=1, random_state=seed).to_numpy() / len(frame)
    return frame


def call_predictions(company: Company, perfect: bool = False) -> pd.DataFrame:
    frame = company.query("SELECT call_id FROM holdout_sales_calls ORDER BY 1")
    if perfect:
        truth = company.query("SELECT call_id, won FROM call_outcome_labels", labels=True)
        frame = frame.merge(truth, on="call_id")
        frame["probability"] = frame.pop("won").astype(float)
    else:
        frame["probability"] = 0.5
    return frame


def ordering_predictions(company: Company, perfect: bool = False) -> pd.DataFrame:
    users = company.query("SELECT user_id FROM holdout_ordering_users ORDER BY 1")["user_id"]
    popular = company.query("SELECT product_id FROM products ORDER BY product_id LIMIT 10")["product_id"].tolist()
    truth = company.query("SELECT user_id, product_id FROM ordering_labels", labels=True) if perfect else None
    rows = []
    for user in users:
        items = truth[truth.user_id == user]["product_id"].tolist()[:10] if perfect else []
        items += [p for p in popular if p not in items][: 10 - len(items)]
        rows += [(user, p, r) for r, p in enumerate(items, start=1)]
    return pd.DataFrame(rows, columns=["user_id", "product_id", "rank"])


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def notebook(path: Path, *cells: str, parameters: str = "warehouse = ''\noutput_dir = '.'") -> Path:
    """A small notebook: a papermill parameters cell, then the given code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


WRITE_PUSH_PREDICTIONS = """
import duckdb
from pathlib import Path
con = duckdb.connect(warehouse, read_only=True)
ids = con.execute("SELECT delivery_id, extract(hour FROM delivered_at) AS h FROM holdout_push_deliveries").df()
ids["probability"] = ids.pop("h").isin([7, 8, 12, 19, 20, 21]).astype(float) * 0.5 + 0.25
ids.to_csv(Path(output_dir) / "predictions.csv", index=False)
"""


def state_snapshot(event, without: int | None = None) -> dict[str, list]:
    """Every row of every table of the store, except the submission `without` (and its scores)."""
    with connect(event) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        snapshot = {}
        for table in sorted(tables):
            rows = con.execute(f"SELECT * FROM {table}").fetchall()
            columns = [d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description]
            if table == "submissions" and without is not None:
                rows = [r for r in rows if r[columns.index("id")] != without]
            if table == "scores" and without is not None:
                rows = [r for r in rows if r[columns.index("submission_id")] != without]
            if table == "sqlite_sequence":
                continue
            snapshot[table] = sorted(rows, key=repr)
    return snapshot


def assert_rejected(event, team: str, path: Path, *expected: str) -> str:
    """Submit, expect a rejection whose one-paragraph message holds `expected`; nothing else changed."""
    from matsuri.hackathon.predictions import InvalidSubmission
    from matsuri.hackathon.submissions import get_submission, submit

    before = state_snapshot(event)
    with pytest.raises(InvalidSubmission) as caught:
        submit(event, team, path)
    message = str(caught.value)
    assert "\n" not in message and 60 < len(message) < 700, message
    assert "Traceback" not in message and 'File "' not in message, message  # no stack traces
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in: {message}"
    assert re.search(r"submit again|Choose your final|submit again from|You can submit|Ask the organisers",
                     message), f"no way forward in: {message}"
    newest = max(r[0] for r in state_snapshot(event)["submissions"])
    record = get_submission(event, newest)
    assert (record.status, record.message, record.public, record.private) == ("rejected", message, {}, {})
    assert state_snapshot(event, without=newest) == before
    return message
