"""A course as content: `courses/<name>/course.toml`, one source notebook per lesson, and one
exercises file per lesson (hints, explanations, how answers are compared).

    courses/sql-101/course.toml
    courses/sql-101/source/<lesson>/<lesson>.ipynb     nbgrader source: questions, reference SQL
    courses/sql-101/exercises/<lesson>.toml            per exercise: title, hints, explanation
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from matsuri import paths
from matsuri.errors import NotFound, UsageError

COURSES_ENV = "MATSURI_COURSES"


@dataclass
class ExerciseSpec:
    name: str                   # q1 … : the object learners call check() on, and the grade cell id
    title: dict[str, str]
    order_by: list[str] = field(default_factory=list)  # columns the question asks to sort by
    places: int = 4             # decimals compared for numbers
    hints: dict[str, list[str]] = field(default_factory=dict)
    explanation: dict[str, str] = field(default_factory=dict)

    @property
    def answer(self) -> str:
        """The variable the exercise's SQL cell stores its table in (`%%sql q1_result <<`)."""
        return f"{self.name}_result"


@dataclass
class Lesson:
    id: str
    title: dict[str, str]
    notebook: Path
    exercises: list[ExerciseSpec]


@dataclass
class Course:
    name: str
    folder: Path
    title: str
    language: str
    solutions: bool
    cell_timeout: int
    lessons: list[Lesson]

    def lesson(self, lesson_id: str) -> Lesson:
        for lesson in self.lessons:
            if lesson.id == lesson_id:
                return lesson
        valid = ", ".join(lesson.id for lesson in self.lessons)
        raise NotFound(f"Course {self.name} has no lesson '{lesson_id}'. Lessons: {valid}.")

    def select(self, lesson_id: str | None) -> list[Lesson]:
        return [self.lesson(lesson_id)] if lesson_id else list(self.lessons)


def courses_dir() -> Path:
    env = os.environ.get(COURSES_ENV)
    return Path(env) if env else paths.project_root() / "courses"


def available() -> list[str]:
    folder = courses_dir()
    return sorted(p.parent.name for p in folder.glob("*/course.toml")) if folder.is_dir() else []


def load(name: str) -> Course:
    folder = courses_dir() / name
    settings_file = folder / "course.toml"
    if not settings_file.is_file():
        valid = ", ".join(available()) or "none"
        raise NotFound(f"No course '{name}' in {courses_dir()} (no course.toml). Courses: {valid}.")
    settings = _read_toml(settings_file)
    lessons = [_load_lesson(folder, lesson_id) for lesson_id in settings.get("lessons", [])]
    if not lessons:
        raise UsageError(f"{settings_file}: list the lessons in order, e.g. lessons = [\"01-…\"].")
    return Course(
        name=name,
        folder=folder,
        title=settings.get("title", name),
        language=settings.get("language", "en"),
        solutions=bool(settings.get("solutions", False)),
        cell_timeout=int(settings.get("cell_timeout", 60)),
        lessons=lessons,
    )


def _load_lesson(folder: Path, lesson_id: str) -> Lesson:
    notebook = folder / "source" / lesson_id / f"{lesson_id}.ipynb"
    spec_file = folder / "exercises" / f"{lesson_id}.toml"
    for path in (notebook, spec_file):
        if not path.is_file():
            raise NotFound(f"Lesson {lesson_id} is listed in course.toml but {path} is missing.")
    spec = _read_toml(spec_file)
    exercises = []
    for entry in spec.get("exercise", []):
        try:
            exercises.append(ExerciseSpec(**entry))
        except TypeError as error:
            raise UsageError(f"{spec_file}: exercise {entry.get('name', '?')}: {error}.") from None
    names = [e.name for e in exercises]
    if len(set(names)) != len(names):
        raise UsageError(f"{spec_file}: exercise names must be unique (got {', '.join(names)}).")
    return Lesson(lesson_id, spec.get("title", {"en": lesson_id}), notebook, exercises)


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path} is not valid TOML: {error}. Fix the file and try again.") from None
