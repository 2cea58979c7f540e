"""Look at each submission before grading: is it there, is it a notebook, what did the learner
delete or edit? Unreadable ones are reported and skipped; changes are reported (nbgrader and
RestoreLockedCells put the cells back for grading)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from matsuri.grading.reference import SETUP_CELL


@dataclass
class Screened:
    student: str
    notebook: Path
    problem: str = ""               # why it cannot be graded ("" = gradable)
    notes: list[str] = field(default_factory=list)


def locked_cells(released: Path) -> dict[str, str]:
    """grade id → nbgrader checksum of every locked cell of the released notebook."""
    nb = nbformat.read(released, as_version=4)
    cells = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked") and meta.get("grade_id"):
            cells[meta["grade_id"]] = meta.get("checksum", "")
    return cells


def screen(student: str, notebook: Path, released: dict[str, str]) -> Screened:
    from nbgrader.utils import compute_checksum

    result = Screened(student, notebook)
    if not notebook.is_file():
        result.problem = f"no {notebook.name} in the submission"
        return result
    try:
        nb = nbformat.read(notebook, as_version=4)
        nbformat.validate(nb)
    except json.JSONDecodeError as error:
        result.problem = f"{notebook.name} is not valid JSON (line {error.lineno}); it was not graded"
        return result
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        result.problem = f"{notebook.name} is not a readable notebook ({first[:120]}); it was not graded"
        return result
    present = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            present[grade_id] = cell
    for grade_id, checksum in released.items():
        what = "setup cell" if grade_id == SETUP_CELL else f"check cell {grade_id}"
        if grade_id not in present:
            result.notes.append(f"{what} was deleted; restored for grading")
        elif checksum and compute_checksum(present[grade_id]) != checksum:
            result.notes.append(f"{what} was edited; restored for grading")
    return result
