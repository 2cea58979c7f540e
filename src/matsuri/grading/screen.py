"""Look at each submission before grading: is it there, is it a notebook, is it this lesson, what
did the learner delete, edit, copy or retype? Unreadable notebooks and other lessons are reported
and skipped; changes are reported (nbgrader and our preprocessors put the cells back for
grading, and a copy of a cell is graded once)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from matsuri.grading.reference import SETUP_CELL

START = re.compile(r"""start\(\s*["']([^"']+)["']\s*,\s*["']([^"']+)["']""")


@dataclass
class Screened:
    student: str
    notebook: Path
    problem: str = ""               # why it cannot be graded ("" = gradable)
    notes: list[str] = field(default_factory=list)


@dataclass
class Released:
    """What screening compares a submission with, read from the released notebook."""
    lesson: str | None                              # None: a notebook that does not say
    locked: dict[str, str] = field(default_factory=dict)   # grade id → nbgrader checksum
    kinds: dict[str, str] = field(default_factory=dict)    # grade id → cell type


def lesson_of(nb) -> str | None:
    """The lesson a notebook says it is: metadata written at release, else its setup call."""
    lesson = nb.metadata.get("matsuri", {}).get("lesson")
    if lesson:
        return str(lesson)
    for cell in nb.cells:
        if cell.cell_type == "code" and (found := START.search(cell.source)):
            return found[2]
    return None


def released_cells(path: Path) -> Released:
    nb = nbformat.read(path, as_version=4)
    released = Released(lesson_of(nb))
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id"):
            released.kinds[meta["grade_id"]] = cell.cell_type
            if meta.get("locked"):
                released.locked[meta["grade_id"]] = meta.get("checksum", "")
    return released


def what(grade_id: str) -> str:
    if grade_id == SETUP_CELL:
        return "setup cell"
    return f"answer cell of {grade_id[:-4]}" if grade_id.endswith("-sql") else f"check cell {grade_id}"


def screen(student: str, notebook: Path, released: Released) -> Screened:
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
    lesson = lesson_of(nb)
    if released.lesson and lesson and lesson != released.lesson:
        result.problem = (f"this notebook is lesson {lesson}, handed in as {released.lesson}; "
                          f"it was not graded (hand in {released.lesson}'s own notebook)")
        return result
    present: dict[str, list] = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            present.setdefault(grade_id, []).append(cell)
    for grade_id, kind in released.kinds.items():
        cells = present.get(grade_id, [])
        checksum = released.locked.get(grade_id)
        if not cells:
            if checksum is not None:
                result.notes.append(f"{what(grade_id)} was deleted; restored for grading")
            continue
        if len(cells) > 1:
            result.notes.append(f"{what(grade_id)} appears {len(cells)} times; graded once")
        cell = cells[-1]  # the copy nbgrader keeps
        if cell.cell_type != kind:
            result.notes.append(f"{what(grade_id)} was changed to {cell.cell_type}; graded as {kind}")
        elif checksum and compute_checksum(cell) != checksum:
            result.notes.append(f"{what(grade_id)} was edited; restored for grading")
    return result


def screen_lesson(student: str, folder: Path, released: dict[str, Released]) -> Screened:
    """Every notebook of one lesson. A lesson of one notebook is screened as that notebook; in a
    lesson of several, a missing one is a note (nbgrader scores it 0) and an unreadable one stops
    the lesson (nbgrader would fail on it)."""
    if len(released) == 1:
        name, only = next(iter(released.items()))
        return screen(student, folder / f"{name}.ipynb", only)
    result = Screened(student, folder)
    handed_in = 0
    for name, known in released.items():
        path = folder / f"{name}.ipynb"
        if not path.is_file():
            result.notes.append(f"{name}.ipynb is missing: it scores 0")
            continue
        handed_in += 1
        one = screen(student, path, known)
        if one.problem:
            result.problem = one.problem
            return result
        result.notes += [f"{name}: {note}" for note in one.notes]
    if not handed_in:
        result.problem = f"none of {', '.join(f'{n}.ipynb' for n in released)} in the submission"
    return result
