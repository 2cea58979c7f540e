"""Fixtures for the hackathon templates: starter runs through papermill, a small company, renamed tables."""

from __future__ import annotations

import importlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import nbformat
import pandas as pd
import pytest

from conftest import ROOT, build_company
from matsuri.theme_spec import all_themes

# the tables and columns each theme's notebooks read (its library's NEEDS)
NEEDS = {t.id: importlib.import_module(t.library).NEEDS for t in all_themes().values() if t.library}


@pytest.fixture(scope="session")
def warm_process():
    """One zygote per test worker that the templates' notebook kernels fork from."""
    from matsuri.grading import forkserver

    with forkserver.started() as warm:
        yield warm


@pytest.fixture(autouse=True)
def forked_kernels(warm_process):
    """The starters' and demos' kernels fork warm, as learners' and grading kernels do: their
    notebooks run as before, each seconds sooner (a cold kernel's imports)."""
    from matsuri.grading import forkserver

    with forkserver.forking(warm_process):
        yield


@dataclass
class StarterRun:
    notebook: Path      # the executed notebook
    submission: Path    # output_dir
    baseline: Path      # baseline_dir
    seconds: float

    def text(self) -> str:
        """Everything the notebook printed or displayed as text."""
        nb = nbformat.read(self.notebook, as_version=4)
        parts = []
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                parts.append(out.get("text", "") + str(out.get("data", {}).get("text/plain", "")))
        return "\n".join(parts)

    def images(self) -> int:
        nb = nbformat.read(self.notebook, as_version=4)
        return sum("image/png" in out.get("data", {}) for c in nb.cells for out in c.get("outputs", []))

    def read(self, name: str = "predictions.csv", baseline: bool = False) -> pd.DataFrame:
        return pd.read_csv((self.baseline if baseline else self.submission) / name)


def run_starter(theme: str, warehouse: Path, out: Path, notebook: Path | None = None, **parameters) -> StarterRun:
    """Execute templates/<theme>/starter.ipynb (or an edited copy, `notebook`) in a real kernel, as
    the hackathon runner would."""
    import papermill

    out.mkdir(parents=True, exist_ok=True)
    executed = out / "starter.ipynb"
    started = time.perf_counter()
    papermill.execute_notebook(
        str(notebook or ROOT / "templates" / theme / "starter.ipynb"), str(executed),
        parameters={"warehouse": str(warehouse), "output_dir": str(out / "submission"),
                    "baseline_dir": str(out / "baseline"), **parameters},
        kernel_name="python3", cwd=str(out), progress_bar=False,
    )
    return StarterRun(executed, out / "submission", out / "baseline", time.perf_counter() - started)


@pytest.fixture(scope="session")
def small_company(tmp_path_factory):
    """The `small` company (about 2 s to build): big enough for the baselines' claims to hold."""
    return build_company(tmp_path_factory.mktemp("small-company"), scale="small", seed=7)


@pytest.fixture(scope="session")
def tiny_starter(tiny_company, tmp_path_factory):
    """Each starter run once on the tiny company (for every test worker), shared by the tests
    that read it."""
    from support.grading_kit import once_per_run

    def get(theme: str) -> StarterRun:
        return once_per_run(tmp_path_factory, f"tiny-starter-{theme}", lambda: run_starter(
            theme, tiny_company.warehouse, tmp_path_factory.mktemp(f"tiny-{theme}")))

    return get


def renamed_copy(warehouse: Path, folder: Path, theme: str) -> tuple[Path, dict, dict]:
    """A copy of the warehouse where every table and column the theme reads has another name.

    Returns the copy and the table_names / column_names parameters that map our names to them.
    """
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "acme.duckdb"
    shutil.copy(warehouse, copy)
    table_names, column_names = {}, {}
    with duckdb.connect(str(copy)) as con:
        for table, contract in NEEDS[theme].items():
            for column in contract.column_names:
                con.execute(f'ALTER TABLE "{table}" RENAME COLUMN "{column}" TO "acme_{column}"')
                column_names[f"{table}.{column}"] = f"acme_{column}"
            con.execute(f'ALTER TABLE "{table}" RENAME TO "acme_{table}"')
            table_names[table] = f"acme_{table}"
    return copy, table_names, column_names

