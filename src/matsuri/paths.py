"""Where things live by default. Environment variables override, so servers and kernels agree;
`festival_env` is the environment every Jupyter process of the festival starts with."""

from __future__ import annotations

import os
import sys
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


def festival_env() -> dict[str, str]:
    """Our environment, plus what every Jupyter process of the festival needs: the warehouse and
    the project found as here, jupysql's telemetry off, and this environment's bin/ first on PATH
    (nbgrader calls `alembic` by bare name)."""
    env = dict(os.environ)
    env.setdefault(WAREHOUSE_ENV, str(warehouse_path()))
    env["PLOOMBER_STATS_ENABLED"] = "false"  # jupysql's telemetry stays off in a company kit
    env["MATSURI_HOME"] = str(project_root())
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env
