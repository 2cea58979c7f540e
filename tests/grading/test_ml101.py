"""Is ml-101 a course learners can take: every text in Japanese and English, released in the
course's language, every reference solution running on other builds, and graded end to end
(a learner with the reference answers gets every mark, a blank notebook none)?"""

from __future__ import annotations

import copy
import tomllib

import nbformat
import pytest

from conftest import ROOT, build_company, run_matsuri
from matsuri.grading import course as courses
from matsuri.grading.python_reference import reference_answers
from support.grading_kit import rows

pytestmark = pytest.mark.xdist_group("grading")
COURSE = "ml-101"
FOLDER = ROOT / "courses" / COURSE


def lessons() -> list[str]:
    return tomllib.loads((FOLDER / "course.toml").read_text(encoding="utf-8"))["lessons"]


@pytest.mark.parametrize("lesson", lessons())
def test_every_text_exists_in_both_languages(lesson):
    spec = tomllib.loads((FOLDER / "exercises" / f"{lesson}.toml").read_text(encoding="utf-8"))
    assert spec["title"]["ja"] and spec["title"]["en"]
    for exercise in spec["exercise"]:
        for field in ("title", "hints", "explanation"):
            assert exercise[field]["ja"] and exercise[field]["en"], (exercise["name"], field)
        assert len(exercise["hints"]["ja"]) == len(exercise["hints"]["en"]), exercise["name"]
    nb = nbformat.read(FOLDER / "source" / lesson / f"{lesson}.ipynb", as_version=4)
    prose = [c for c in nb.cells if c.cell_type == "markdown"]
    langs = [c.metadata.get("matsuri", {}).get("lang") for c in prose]
    assert langs == ["ja", "en"] * (len(prose) // 2), "every prose cell comes as a ja/en pair"
    for ja, en in zip(prose[::2], prose[1::2], strict=True):
        assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in ja.source), ja.source[:60]
        assert not any("\u3040" <= ch <= "\u30ff" for ch in en.source), en.source[:60]


@pytest.mark.slow
@pytest.mark.parametrize(("scale", "seed"), [("tiny", 42), ("small", 7)])
def test_every_reference_solution_runs_on_another_build(tmp_path, scale, seed):
    built = build_company(tmp_path / "company", scale=scale, seed=seed)
    course = courses.load(COURSE)
    for lesson in course.lessons:
        answers = reference_answers(lesson, built.warehouse, timeout=300)
        assert set(answers) == {e.answer for e in lesson.exercises}
        assert all(len(table) for table in answers.values()), lesson.id


@pytest.fixture(scope="module")
def graded(public_company, grading_identity, tmp_path_factory):
    work = tmp_path_factory.mktemp("ml-work")

    def cli(*args, **kw):
        return run_matsuri(["course", *args, "--workdir", str(work)],
                           env={"MATSURI_LABELS": str(public_company.labels)}, **kw)

    cli("release", COURSE, "--warehouse", str(public_company.warehouse))
    root, submitted = work / COURSE, tmp_path_factory.mktemp("ml-submitted")
    for lesson in lessons():
        source = nbformat.read(FOLDER / "source" / lesson / f"{lesson}.ipynb", as_version=4)
        solutions = {grade_id(c): c.source for c in source.cells if grade_id(c).endswith("-code")}
        released = nbformat.read(root / "release" / lesson / f"{lesson}.ipynb", as_version=4)
        full = copy.deepcopy(released)
        for cell in full.cells:
            cell.source = solutions.get(grade_id(cell), cell.source)
        for learner, nb in (("reference", full), ("blank", released)):
            (submitted / learner / lesson).mkdir(parents=True)
            nbformat.write(nb, submitted / learner / lesson / f"{lesson}.ipynb")
    cli("collect", COURSE, "--from", str(submitted))
    cli("grade", COURSE, "--workers", "2", "--warehouse", str(public_company.warehouse))
    return {"root": root, "report": rows(root / "exports" / "grading-report.csv")}


def grade_id(cell) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


def test_the_released_lessons_are_in_japanese_only(graded):
    for lesson in lessons():
        released = nbformat.read(graded["root"] / "release" / lesson / f"{lesson}.ipynb", as_version=4)
        prose = [c for c in released.cells if c.cell_type == "markdown"]
        assert prose and all(c.metadata.get("matsuri", {}).get("lang") == "ja" for c in prose)
        assert "BEGIN SOLUTION" not in "".join(c.source for c in released.cells)


def test_reference_answers_get_every_mark_and_a_blank_notebook_none(graded):
    course = courses.load(COURSE)
    exercises = {lesson.id: len(lesson.exercises) for lesson in course.lessons}
    scores = {(r["student_id"], r["lesson"]): float(r["score"]) for r in graded["report"]}
    for lesson, count in exercises.items():
        assert scores[("reference", lesson)] == count, lesson
        assert scores[("blank", lesson)] == 0, lesson
