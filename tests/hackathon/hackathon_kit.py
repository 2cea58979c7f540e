"""Fixtures and builders shared by the hackathon and gallery tests.

- `public_company`: a copy of the tiny company placed as the docs say: the warehouse readable by
  everyone, the labels store 0600 in a 0700 folder owned by the organiser (root here).
- `sandbox_user`: a real unprivileged system user for confined runs, removed afterwards.
- `make_event`: a fresh event folder with settings written from keyword overrides.
- builders for valid predictions (optionally perfect, from the labels) and small notebooks.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import nbformat
import pandas as pd
import pytest

SETTINGS = """
[event]
name = "テストまつり"
starts = {starts}
ends = {ends}
timezone = "Asia/Tokyo"
split_seed = 11

[teams]
min_size = 1
max_size = 3

[submissions]
run_as = "{run_as}"
timeout_seconds = {timeout}
memory_mb = {memory_mb}
max_file_mb = {max_file_mb}
threads = 1

[themes.push-open-rate]
daily_limit = {daily_limit}
total_limit = {total_limit}
public_share = 0.3

[themes.call-keywords]
public_share = 0.3

[themes.product-ordering]
public_share = 0.3

[rubric]
scale = [1, 5]

[[rubric.criteria]]
id = "impact"
name = "ビジネスへの効果"
weight = 0.5
description = "Would it change a decision?"

[[rubric.criteria]]
id = "demo"
name = "デモの分かりやすさ"
weight = 0.5
description = "Can a colleague use it alone?"

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

DEFAULTS = dict(starts="2020-01-01", ends="2099-12-31", run_as="", timeout=60, memory_mb=4096,
                max_file_mb=5, daily_limit=50, total_limit=100, judges='["佐藤", "鈴木"]')


@dataclass
class Company:
    folder: Path
    warehouse: Path
    labels: Path

    def query(self, sql: str, labels: bool = False) -> pd.DataFrame:
        with duckdb.connect(str(self.labels if labels else self.warehouse), read_only=True) as con:
            return con.execute(sql).df()


@pytest.fixture(scope="session")
def public_company(tiny_company):
    """The tiny company copied to a world-traversable folder, labels kept organiser-only."""
    folder = Path(tempfile.mkdtemp(prefix="matsuri-test-company-"))
    folder.chmod(0o755)
    warehouse = folder / "company.duckdb"
    shutil.copyfile(tiny_company.warehouse, warehouse)
    warehouse.chmod(0o644)
    (folder / "organiser").mkdir(mode=0o700)
    labels = folder / "organiser" / "labels.duckdb"
    shutil.copyfile(tiny_company.labels, labels)
    labels.chmod(0o600)
    try:
        yield Company(folder, warehouse, labels)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _blocking_dirs() -> list[Path]:
    """Folders above this Python that other users cannot pass through (e.g. /root for pyenv)."""
    executable = Path(os.path.realpath(sys.executable))
    return [p for p in executable.parents if not os.stat(p).st_mode & 0o001]


@pytest.fixture(scope="session")
def sandbox_user():
    """A real system user for confined runs, allowed through to this Python, removed at the end."""
    from matsuri.hackathon import sandbox

    name = f"mts{os.getpid()}{secrets.token_hex(2)}"
    sandbox.create_user(name)
    granted = []
    try:
        for folder in _blocking_dirs():
            subprocess.run(["setfacl", "-m", f"u:{name}:x", str(folder)], check=True)
            granted.append(folder)
        yield name
    finally:
        import psutil

        uid = pwd.getpwnam(name).pw_uid
        for proc in psutil.process_iter(["uids"]):
            if proc.info["uids"] and proc.info["uids"].real == uid:
                proc.kill()
        for folder in granted:
            subprocess.run(["setfacl", "-x", f"u:{name}", str(folder)], check=False)
        for _ in range(10):  # userdel fails while /etc/passwd is busy (other tests add users too)
            if subprocess.run(["userdel", name], capture_output=True).returncode in (0, 6):
                break
            time.sleep(0.3)


@pytest.fixture
def make_event(tmp_path, public_company, monkeypatch):
    """make_event(**overrides) -> an initialised Event in a fresh folder (warehouse/labels set)."""
    from matsuri.hackathon.event import init_event

    monkeypatch.setenv("MATSURI_WAREHOUSE", str(public_company.warehouse))
    monkeypatch.setenv("MATSURI_LABELS", str(public_company.labels))
    counter = iter(range(1000))

    def make(**overrides):
        folder = tmp_path / f"event{next(counter)}"
        folder.mkdir()
        values = DEFAULTS | overrides
        (folder / "event.toml").write_text(SETTINGS.format(**values), encoding="utf-8")
        event, _ = init_event(folder)
        return event

    return make


def add_team(event, team: str, theme: str, members=None, display_name: str = ""):
    from matsuri.hackathon.teams import add_team as add

    add(event, team, members or [f"{team}-member"], display_name)
    with sqlite3.connect(event.db) as con:
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
    with sqlite3.connect(event.db) as con:
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
