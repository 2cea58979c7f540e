"""Grading fixtures (a plugin: `pytest_plugins = ["grading_fixtures"]`). Grading runs learners' code in a
sandbox as the grading identity: a real system user for this session, allowed through to this
Python, and a copy of the warehouse it can reach."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def grading_identity():
    from matsuri.grading.confined import USER_ENV
    from matsuri.sandbox import identities

    user = f"mtg{os.getpid()}{secrets.token_hex(2)}"
    identities.create(user)
    identities.let_through([user])
    previous = os.environ.get(USER_ENV)
    os.environ[USER_ENV] = user
    try:
        yield user
    finally:
        if previous is None:
            os.environ.pop(USER_ENV, None)
        else:
            os.environ[USER_ENV] = previous
        identities.remove(user)


@pytest.fixture(scope="session")
def reachable_company(tiny_company):
    """The tiny company's warehouse in a folder the grading identity may pass through."""
    folder = Path(tempfile.mkdtemp(prefix="matsuri-test-grading-"))
    folder.chmod(0o755)
    warehouse = folder / "company.duckdb"
    shutil.copyfile(tiny_company.warehouse, warehouse)
    warehouse.chmod(0o644)
    try:
        yield warehouse
    finally:
        shutil.rmtree(folder, ignore_errors=True)
