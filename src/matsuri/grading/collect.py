"""`matsuri course collect`: bring submissions into `submitted/`, from nbgrader's exchange or from
a folder (e.g. files gathered by mail or a shared drive), laid out as either

    <folder>/<student>/<lesson>/<lesson>.ipynb      (nbgrader's layout), or
    <folder>/<student>/<lesson>.ipynb

A newer submission replaces an older one; the file is copied as it is, readable or not, so
nothing a learner sent is lost (grading reports unreadable ones).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from matsuri.errors import NotFound
from matsuri.grading.workspace import Workspace, check

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")  # no '+' or '*': nbgrader uses them


@dataclass
class CollectResult:
    collected: dict[str, list[str]] = field(default_factory=dict)   # lesson → students
    skipped: list[str] = field(default_factory=list)                # "what: why"


def collect(ws: Workspace, lesson: str | None = None, source: Path | None = None) -> CollectResult:
    lessons = [x.id for x in ws.course.select(lesson)]
    ws.prepare()
    if source is None:
        return from_exchange(ws, lessons)
    if not Path(source).is_dir():
        raise NotFound(f"The submissions folder {source} does not exist.")
    return from_folder(ws, lessons, Path(source))


def from_exchange(ws: Workspace, lessons: list[str]) -> CollectResult:
    api = ws.api()
    result = CollectResult()
    for lesson in lessons:
        before = _timestamps(ws, lesson)
        check(api.collect(lesson, update=True), f"Collecting {lesson} from the exchange")
        after = _timestamps(ws, lesson)
        result.collected[lesson] = sorted(s for s, t in after.items() if before.get(s) != t)
    return result


def _timestamps(ws: Workspace, lesson: str) -> dict[str, str]:
    found = {}
    for stamp in ws.step("submitted").glob(f"*/{lesson}/timestamp.txt"):
        found[stamp.parent.parent.name] = stamp.read_text().strip()
    return found


def from_folder(ws: Workspace, lessons: list[str], source: Path) -> CollectResult:
    result = CollectResult({lesson: [] for lesson in lessons})
    for student_dir in sorted(p for p in source.iterdir() if p.is_dir()):
        student = student_dir.name
        if not STUDENT_ID.match(student):
            result.skipped.append(f"{student_dir}: '{student}' cannot be a learner id (use letters, "
                                  "digits, '.', '_', '-' or '@')")
            continue
        found_any = False
        for lesson in lessons:
            nested, flat = student_dir / lesson, student_dir / f"{lesson}.ipynb"
            if nested.is_dir():  # kept even without the notebook: grading reports what is missing
                files = sorted(f for f in nested.rglob("*") if f.is_file())
            elif flat.is_file():
                files = [flat]
            else:
                continue
            found_any = True
            if _store(ws, student, lesson, files, nested if nested.is_dir() else flat.parent):
                result.collected[lesson].append(student)
        if not found_any:
            result.skipped.append(f"{student}: no submission for {', '.join(lessons)}")
    return result


def _stamp(files: list[Path], folder: Path) -> str:
    newest = max((f.stat().st_mtime for f in files), default=folder.stat().st_mtime)
    return datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _store(ws: Workspace, student: str, lesson: str, files: list[Path], base: Path) -> bool:
    """Copy one submission unless the one already collected is the same or newer."""
    stamp = _stamp(files, base)
    target = ws.step("submitted", student, lesson)
    old = target / "timestamp.txt"
    if old.is_file() and old.read_text().strip() >= stamp:
        return False
    tmp = target.with_name(f".{lesson}.collecting")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for file in files:
        if file.name == "timestamp.txt":
            continue
        name = file.relative_to(base)
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, tmp / name)
    (tmp / "timestamp.txt").write_text(stamp + "\n")
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return True
