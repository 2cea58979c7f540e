"""Helpers for checks tests: a real lesson key on the tiny warehouse, and a real kernel run."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from matsuri.checks.key_file import KEY_FILE
from matsuri.grading import course as courses
from matsuri.grading import key_builder
from matsuri.warehouse.query import connect

LESSON = "01-reading-a-table"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
PYTHON_TRACEBACK = ("Traceback (most recent call last)", "-----------------------------------")


def lesson_key(warehouse: Path, folder: Path, solutions: bool = False) -> Path:
    """Write the learner key of lesson 1 (computed on `warehouse`) into `folder`."""
    course = dataclasses.replace(courses.load("sql-101"), solutions=solutions)
    with connect(warehouse) as con:
        built = key_builder.build(course, course.lesson(LESSON), con, for_learners=True)
    folder.mkdir(parents=True, exist_ok=True)
    return built.key.write(folder / KEY_FILE)


def run_cells(cells: dict[str, str], cwd: Path, env: dict[str, str], timeout: int = 60) -> dict:
    """Execute the cells in order in a fresh kernel; return each cell's outputs by name."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells.values()]
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                       resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {name: cell.outputs for name, cell in zip(cells, nb.cells, strict=True)}


def text_of(outputs) -> str:
    """Everything a learner reads in these outputs (plain text, errors without colour codes)."""
    parts = []
    for output in outputs:
        if output.output_type == "error":
            parts.append("\n".join(output.traceback))
        elif output.output_type == "stream":
            parts.append(output.text)
        else:
            parts.append(output.get("data", {}).get("text/plain", ""))
    return ANSI.sub("", "\n".join(parts))


def errors(outputs) -> list:
    return [o for o in outputs if o.output_type == "error"]
