"""Which lessons each learner handed in, and when: from a course's gradebook and its `submitted/`.

A lesson counts as submitted when nbgrader's gradebook holds a submission of it (graded) or when
`course collect` brought it into `submitted/<learner>/<lesson>/` (not graded yet). Its time is the
submission's timestamp. The gradebook is read with plain SQL on a read-only connection, so the
funnel never takes a lock a grader is waiting for and never creates a file that is not there.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from matsuri.errors import MatsuriError

SUBMISSIONS_SQL = """
SELECT student.id, assignment.name, submitted_assignment.timestamp
FROM submitted_assignment
JOIN assignment ON assignment.id = submitted_assignment.assignment_id
JOIN student ON student.id = submitted_assignment.student_id
"""


@dataclass
class CourseFacts:
    name: str
    lessons: list[str]                                    # in course order; [] if unknown
    submitted: dict[str, dict[str, datetime | None]] = field(default_factory=dict)  # learner → lesson → when
    notes: list[str] = field(default_factory=list)

    def finished(self, learner: str) -> bool:
        """Every lesson of the course submitted (False while the course's lessons are unknown)."""
        return bool(self.lessons) and set(self.lessons) <= set(self.submitted.get(learner, {}))


def read(course_name: str, workdir: Path | None = None) -> CourseFacts:
    """The course's lessons and every learner's submitted lessons; problems become notes."""
    from matsuri.grading.course import load
    from matsuri.grading.workspace import Workspace

    try:
        course = load(course_name)
    except MatsuriError as error:
        return CourseFacts(course_name, [], notes=[f"{course_name}: {error} Without its lessons, "
                                                   "nobody can count as having finished it."])
    root = Workspace.open(course, workdir).root
    facts = CourseFacts(course_name, [lesson.id for lesson in course.lessons])
    lessons = set(facts.lessons)
    if not root.is_dir():
        facts.notes.append(f"{course_name}: no course work folder at {root} yet, so no lesson "
                           "submissions were counted (run `matsuri course collect "
                           f"{course_name}`, or set MATSURI_COURSE_WORK to where it is).")
        return facts
    for learner, lesson, when in _gradebook(root / "gradebook.db", facts):
        _keep(facts, learner, lesson, when, lessons)
    for folder in sorted((root / "submitted").glob("*/*/")):
        learner, lesson = folder.parent.name, folder.name
        if not learner.startswith(".") and not lesson.startswith("."):
            _keep(facts, learner, lesson, _stamp(folder / "timestamp.txt"), lessons)
    return facts


def _keep(facts: CourseFacts, learner: str, lesson: str, when: datetime | None, lessons: set) -> None:
    if lesson not in lessons:
        return  # an assignment no longer in course.toml
    mine = facts.submitted.setdefault(learner, {})
    old = mine.get(lesson)
    mine[lesson] = when if old is None else min(old, when or old)


def _gradebook(path: Path, facts: CourseFacts) -> list[tuple[str, str, datetime | None]]:
    if not path.is_file():
        return []
    try:
        con = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            rows = con.execute(SUBMISSIONS_SQL).fetchall()
        finally:
            con.close()
    except sqlite3.Error as error:
        facts.notes.append(f"{facts.name}: the gradebook {path} could not be read ({error}); only "
                           "collected submission folders were counted. Check that this account "
                           "can read it.")
        return []
    return [(learner, lesson, _time(stamp)) for learner, lesson, stamp in rows]


def _stamp(path: Path) -> datetime | None:
    try:
        return _time(path.read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError):
        return None


def _time(text) -> datetime | None:
    """nbgrader's times ('2030-01-02 03:04:05.000000', UTC, maybe with ' UTC') as aware UTC."""
    if isinstance(text, datetime):
        when = text
    else:
        try:
            when = datetime.fromisoformat(str(text).removesuffix(" UTC").strip())
        except ValueError:
            return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
