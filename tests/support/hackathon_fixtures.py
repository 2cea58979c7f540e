"""Fixtures shared by the hackathon and gallery tests, loaded as a plugin so each exists once.

Loaded for every test by tests/conftest.py (`pytest_plugins`).

- `public_company`: a copy of the tiny company placed as the docs say: the warehouse readable by
  everyone, the labels store 0600 in a 0700 folder owned by the organiser (root here).
- `sandbox_user`: the prefix of a pool of real unprivileged system users, removed afterwards.
- `make_event`: a fresh event folder with settings written from keyword overrides.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from support.hackathon_kit import DEFAULTS, SETTINGS


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
    """The name prefix of a pool of real system users for sandboxed runs (`<prefix>-1` … `-3`),
    allowed through to this Python, removed at the end with anything they left running."""
    from matsuri.sandbox import identities

    prefix = f"mts{os.getpid()}{secrets.token_hex(2)}"
    users = identities.pool(prefix, DEFAULTS["identities"])
    identities.ensure_pool(prefix, len(users))
    identities.let_through(users)
    try:
        yield prefix
    finally:
        for user in users:
            identities.remove(user)


@contextlib.contextmanager
def event_for_module(folder: Path, company: Company, sandbox_user: str, **overrides):
    """An initialised Event in `folder` for a module-scoped fixture (warehouse and labels set in
    the environment while it lasts), its notebooks run by the session's sandbox users."""
    from matsuri.hackathon.event import init_event

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MATSURI_WAREHOUSE", str(company.warehouse))
        patch.setenv("MATSURI_LABELS", str(company.labels))
        values = DEFAULTS | {"run_as": sandbox_user} | overrides
        (folder / "event.toml").write_text(SETTINGS.format(**values), encoding="utf-8")
        event, _ = init_event(folder)
        yield event


@pytest.fixture
def make_event(tmp_path, public_company, sandbox_user, monkeypatch):
    """make_event(**overrides) -> an initialised Event in a fresh folder (warehouse/labels set),
    its notebooks run by the session's pool of sandbox users."""
    from matsuri.hackathon.event import init_event

    monkeypatch.setenv("MATSURI_WAREHOUSE", str(public_company.warehouse))
    monkeypatch.setenv("MATSURI_LABELS", str(public_company.labels))
    counter = iter(range(1000))

    def make(**overrides):
        folder = tmp_path / f"event{next(counter)}"
        folder.mkdir()
        values = DEFAULTS | {"run_as": sandbox_user} | overrides
        (folder / "event.toml").write_text(SETTINGS.format(**values), encoding="utf-8")
        event, _ = init_event(folder)
        return event

    return make
