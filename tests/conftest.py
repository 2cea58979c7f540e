"""Shared fixtures: a tiny warehouse built once per test worker, the CLI runner, a real browser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# the shared fixtures (company copy, sandbox users, events, the grading identity), one instance
# of each per test session
pytest_plugins = ["support.hackathon_fixtures", "support.grading_fixtures"]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]

os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"


# The modules that take longest (whole courses released and graded, SageMaker jobs played here,
# the starters at `small`, browsers), longest first. They are handed out before the rest, so that
# the two test workers end together: `make test` runs xdist's loadscope with
# --no-loadscope-reorder, which gives modules out in the order collected.
LONGEST_FIRST = (
    "grading/test_ml101.py", "grading/test_pipeline.py", "grading/test_python_answers.py",
    "templates/test_theme_starters.py", "templates/test_sql_first.py", "sandbox/test_hostile.py",
    "infra/test_course_grade_sagemaker_moto.py", "infra/test_sagemaker_moto.py",
    "test_lab_for_learners.py", "builder/test_builder_browser.py", "courses/test_sql101.py",
    "hackathon/test_self_service.py", "gallery/test_pages_layout_browser.py", "builder/test_builder.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {f"tests/{path}": i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@dataclass
class Built:
    warehouse: Path
    labels: Path
    seed: int
    scale: str


def build_company(out: Path, scale: str = "tiny", seed: int = 7) -> Built:
    from matsuri.warehouse.build import build

    result = build(scale, seed, out_dir=out, progress=False)
    return Built(result.warehouse, result.labels, seed, scale)


@pytest.fixture(scope="session")
def tiny_company(tmp_path_factory) -> Built:
    """A tiny company (seconds to build), shared by every test in this worker. Do not modify it."""
    return build_company(tmp_path_factory.mktemp("company"))


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_matsuri(args: list[str], exit_code: int | None = 0, env: dict | None = None, cwd=None,
                timeout: float = 600) -> Run:
    """Run the real `matsuri` command; check its exit code unless exit_code is None."""
    full_env = dict(os.environ) | (env or {})
    proc = subprocess.run(
        [str(BIN / "matsuri"), *args], capture_output=True, text=True, env=full_env,
        cwd=cwd or ROOT, timeout=timeout,
    )
    if exit_code is not None:
        assert proc.returncode == exit_code, (
            f"matsuri {' '.join(args)} exited {proc.returncode}, expected {exit_code}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser():
    """Debian chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run scripts/setup.sh (it installs it).")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
