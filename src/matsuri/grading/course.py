"""A course as content: `courses/<name>/course.toml`, one source notebook per lesson, and one
exercises file per lesson (hints, explanations, how answers are compared).

    courses/sql-101/course.toml
    courses/sql-101/source/<lesson>/<lesson>.ipynb     nbgrader source: questions, reference SQL
    courses/sql-101/exercises/<lesson>.toml            per exercise: title, hints, explanation

A folder with nbgrader source assignments and no course.toml is a *plain nbgrader course*:
each `source/<assignment>/` is a lesson with any number of notebooks, graded by their own tests
(Python asserts, manually graded cells) as nbgrader does.

    courses/<name>/source/<assignment>/<notebook>.ipynb
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from matsuri import paths
from matsuri.errors import NotFound, UsageError

COURSES_ENV = "MATSURI_COURSES"


KINDS = ("sql", "python")


@dataclass
class ExerciseSpec:
    name: str                   # q1 … : the object learners call check() on, and the grade cell id
    title: dict[str, str]
    kind: str = "sql"           # sql: a `%%sql q1_result <<` cell; python: a value in `q1_answer`
    order_by: list[str] = field(default_factory=list)  # columns the question asks to sort by
    places: int = 4             # decimals compared for numbers
    estimator: dict = field(default_factory=dict)  # a model answer: metric, rows, labels (estimators.py)
    hints: dict[str, list[str]] = field(default_factory=dict)
    explanation: dict[str, str] = field(default_factory=dict)

    @property
    def answer(self) -> str:
        """The variable holding the answer: the SQL cell's table (`%%sql q1_result <<`) or the
        value a Python answer cell assigns (`q1_answer = …`)."""
        return f"{self.name}_result" if self.kind == "sql" else f"{self.name}_answer"


@dataclass
class Lesson:
    id: str
    title: dict[str, str]
    notebook: Path                  # the (first) source notebook
    exercises: list[ExerciseSpec]   # SQL exercises checked by matsuri; none in a plain course
    notebooks: list[str] = field(default_factory=list)  # every notebook's name, without .ipynb

    def __post_init__(self):
        self.notebooks = self.notebooks or [self.notebook.stem]


@dataclass
class Course:
    name: str
    folder: Path
    title: str
    language: str
    solutions: bool
    cell_timeout: int
    lessons: list[Lesson]
    plain: bool = False             # a plain nbgrader course (no course.toml)
    # lesson id -> folders released with it, as they are (course.toml [handouts], paths from the
    # project root): e.g. the data cards beside the lesson that teaches reading them
    handouts: dict[str, list[Path]] = field(default_factory=dict)

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
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if (p / "course.toml").is_file() or _assignments(p))


def _assignments(folder: Path) -> list[Path]:
    """nbgrader source assignments: source/<assignment>/ folders holding notebooks."""
    source = folder / "source"
    if not source.is_dir():
        return []
    return sorted(p for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def load(name: str) -> Course:
    folder = courses_dir() / name
    settings_file = folder / "course.toml"
    if not settings_file.is_file() and _assignments(folder):
        return plain(name, folder)
    if not settings_file.is_file():
        valid = ", ".join(available()) or "none"
        raise NotFound(f"No course '{name}' in {courses_dir()} (no course.toml, and no "
                       f"source/<assignment>/*.ipynb). Courses: {valid}.")
    settings = _read_toml(settings_file)
    lessons = [_load_lesson(folder, lesson_id) for lesson_id in settings.get("lessons", [])]
    if not lessons:
        raise UsageError(f"{settings_file}: list the lessons in order, e.g. lessons = [\"01-…\"].")
    language = settings.get("language", "en")
    title = settings.get("title", name)
    handouts = settings.get("handouts", {})
    ids = {lesson.id for lesson in lessons}
    for lesson_id, folders in handouts.items():
        if lesson_id not in ids:
            raise UsageError(f"{settings_file}: [handouts] names '{lesson_id}', which is not a lesson of "
                             f"the course ({', '.join(sorted(ids))}).")
        if not isinstance(folders, list) or not all(isinstance(f, str) for f in folders):
            raise UsageError(f"{settings_file}: [handouts] {lesson_id} should be a list of folders, e.g. "
                             '["datasets/cards"].')
    return Course(
        name=name,
        folder=folder,
        title=title.get(language) or title.get("en", name) if isinstance(title, dict) else title,
        language=language,
        solutions=bool(settings.get("solutions", False)),
        cell_timeout=int(settings.get("cell_timeout", 60)),
        lessons=lessons,
        handouts={k: [paths.project_root() / f for f in v] for k, v in handouts.items()},
    )


def plain(name: str, folder: Path) -> Course:
    """A plain nbgrader course: every source assignment is a lesson, in name order."""
    lessons = []
    for assignment in _assignments(folder):
        notebooks = sorted(p for p in assignment.glob("*.ipynb") if not p.name.startswith("."))
        lessons.append(Lesson(assignment.name, {"en": assignment.name}, notebooks[0], [],
                              [p.stem for p in notebooks]))
    return Course(name=name, folder=folder, title=name, language="en", solutions=False,
                  cell_timeout=60, lessons=lessons, plain=True)


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
        if exercises[-1].kind not in KINDS:
            raise UsageError(f"{spec_file}: exercise {exercises[-1].name}: kind must be one of "
                             f"{', '.join(KINDS)}, not {exercises[-1].kind!r}.")
    names = [e.name for e in exercises]
    if len(set(names)) != len(names):
        raise UsageError(f"{spec_file}: exercise names must be unique (got {', '.join(names)}).")
    return Lesson(lesson_id, spec.get("title", {"en": lesson_id}), notebook, exercises)


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path} is not valid TOML: {error}. Fix the file and try again.") from None
