"""Where things live by default. Environment variables override, so servers and kernels agree."""

from __future__ import annotations

import os
from pathlib import Path

WAREHOUSE_ENV = "MATSURI_WAREHOUSE"
LABELS_ENV = "MATSURI_LABELS"


def project_root() -> Path:
    """The checkout that holds courses/, templates/ and datasets/ (or the current directory)."""
    env = os.environ.get("MATSURI_HOME")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "datasets").is_dir() and (candidate / "pyproject.toml").is_file():
            return candidate
    source = Path(__file__).resolve().parents[2]
    if (source / "datasets").is_dir():
        return source
    return here


def build_dir() -> Path:
    return project_root() / "datasets" / "build"


def warehouse_path() -> Path:
    """The learners' DuckDB file."""
    env = os.environ.get(WAREHOUSE_ENV)
    return Path(env) if env else build_dir() / "company.duckdb"


def labels_path() -> Path:
    """The organiser-only store of hackathon labels and planted ground truth."""
    env = os.environ.get(LABELS_ENV)
    return Path(env) if env else build_dir() / "organiser" / "labels.duckdb"
