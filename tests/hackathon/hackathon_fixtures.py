"""Fixtures shared by the hackathon and gallery tests, loaded as a plugin so each exists once.

Test modules declare `pytest_plugins = ["hackathon_fixtures"]`.

- `public_company`: a copy of the tiny company placed as the docs say: the warehouse readable by
  everyone, the labels store 0600 in a 0700 folder owned by the organiser (root here).
- `sandbox_user`: a real unprivileged system user for confined runs, removed afterwards.
- `make_event`: a fresh event folder with settings written from keyword overrides.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hackathon_kit import DEFAULTS, SETTINGS


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


@pytest.fixture(scope="session")
def sandbox_user():
    """A real system user for confined runs, allowed through to this Python, removed at the end."""
    from matsuri.hackathon import sandbox

    name = f"mts{os.getpid()}{secrets.token_hex(2)}"
    sandbox.create_user(name)
    granted = []
    try:
        for folder in sandbox.closed_folders():
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
