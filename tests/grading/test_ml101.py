"""Is ml-101 a course learners can take: every text in Japanese and English, released in the
course's language, every reference solution running on other builds, and graded end to end
(a learner with the reference answers gets every mark, a blank notebook none)?"""

from __future__ import annotations

import contextlib
import copy
import tomllib

import nbformat
import pytest

from conftest import ROOT, build_company, run_matsuri
from matsuri.grading import course as courses
from matsuri.grading.python_reference import all_reference_answers
from support.grading_kit import rows

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
def test_every_reference_solution_runs_on_another_build(tmp_path):
    """At `small` and another seed than the graded run's (tiny, seed 7): two seeds, two scales."""
    built = build_company(tmp_path / "company", scale="small", seed=42)
    course = courses.load(COURSE)
    found = all_reference_answers(course.lessons, built.warehouse, timeout=300)
    for lesson in course.lessons:
        answers = found[lesson.id]
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
        handed_in = [("reference", full), ("blank", released)]
        if lesson == lessons()[0]:  # a learner who reads English hands in the English copy
            english = nbformat.read(root / "release-by-language" / "en" / lesson / f"{lesson}.ipynb",
                                    as_version=4)
            for cell in english.cells:
                cell.source = solutions.get(grade_id(cell), cell.source)
            handed_in.append(("reference-en", english))
        for learner, nb in handed_in:
            (submitted / learner / lesson).mkdir(parents=True)
            nbformat.write(nb, submitted / learner / lesson / f"{lesson}.ipynb")
    cli("collect", COURSE, "--from", str(submitted))
    cli("grade", COURSE, "--workers", "2", "--warehouse", str(public_company.warehouse))
    return {"root": root, "report": rows(root / "exports" / "grading-report.csv")}


def grade_id(cell) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


def test_the_released_lessons_are_in_japanese_only_and_the_english_copies_in_english(graded):
    """The exchange gets the course's language; `release-by-language/en/` the same lesson for
    learners who read English: other prose, the very same code cells."""
    for lesson in lessons():
        copies = {lang: nbformat.read(folder / lesson / f"{lesson}.ipynb", as_version=4)
                  for lang, folder in (("ja", graded["root"] / "release"),
                                       ("en", graded["root"] / "release-by-language" / "en"))}
        for lang, released in copies.items():
            prose = [c for c in released.cells if c.cell_type == "markdown"]
            assert prose and all(c.metadata.get("matsuri", {}).get("lang") == lang for c in prose)
            assert "BEGIN SOLUTION" not in "".join(c.source for c in released.cells)
        code = {lang: [c.source for c in nb.cells if c.cell_type == "code"] for lang, nb in copies.items()}
        assert code["ja"] == code["en"], lesson


def test_reference_answers_get_every_mark_and_a_blank_notebook_none(graded):
    course = courses.load(COURSE)
    exercises = {lesson.id: len(lesson.exercises) for lesson in course.lessons}
    scores = {(r["student_id"], r["lesson"]): float(r["score"]) for r in graded["report"]}
    for lesson, count in exercises.items():
        assert scores[("reference", lesson)] == count, lesson
        assert scores[("blank", lesson)] == 0, lesson
    assert scores[("reference-en", lessons()[0])] == exercises[lessons()[0]]


@pytest.mark.slow
@pytest.mark.browser
def test_a_learner_answers_in_japanese_in_jupyterlab_and_reads_the_feedback(graded, public_company, browser, tmp_path):
    """Lesson 1 as released (Japanese), in a real JupyterLab: a wrong answer, then the right one."""
    import os
    import shutil

    from support.lab import jupyterlab

    lesson = lessons()[0]
    home = tmp_path / "learner"
    shutil.copytree(graded["root"] / "release" / lesson, home / lesson)
    env = dict(os.environ, MATSURI_WAREHOUSE=str(public_company.warehouse),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    env.pop("MATSURI_LANG", None)  # the course's language: Japanese
    with jupyterlab(home, env) as url, contextlib.closing(browser.new_page()) as page:
        page.goto(url.format(path=f"{lesson}/{lesson}.ipynb"), timeout=120_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
        title = page.locator(".jp-RenderedMarkdown").get_by_text("その仕事に機械学習は必要か")
        title.first.wait_for(timeout=30_000)  # the lesson's Japanese title

        def run(has_text: str, source: str | None = None) -> None:
            cell = page.locator(".jp-CodeCell").filter(has_text=has_text).first
            cell.locator(".jp-InputArea-editor").click()
            if source is not None:
                page.keyboard.press("Control+a")
                page.keyboard.type(source)
            page.keyboard.press("Shift+Enter")

        run("from matsuri.checks import start")
        page.get_by_text("ml-101 · " + lesson).wait_for(timeout=120_000)
        run("One row per push delivery")
        run("# q1_answer = a number", "q1_answer = 0.5")
        check = page.locator(".jp-CodeCell").filter(has_text="q1.check()").first
        run("q1.check()")
        check.get_by_text("まだ正解ではありません").wait_for(timeout=60_000)
        assert "q1_answer" in check.inner_text() and "Traceback" not in check.inner_text()
        run("q1_answer = 0.5", 'q1_answer = d["opened"].mean()')
        run("q1.check()")
        check.get_by_text("正解です").wait_for(timeout=60_000)
