"""Grading fixtures (a plugin loaded by tests/conftest.py). Grading runs learners' code in a
sandbox as the grading identity: a real system user for this session, allowed through to this
Python, and a copy of the warehouse it can reach."""

from __future__ import annotations

import os
import secrets

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
