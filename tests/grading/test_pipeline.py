"""Does the instructor's pipeline hold up: release → collect → grade (twice) → progress?

One real run through the CLI, shared by the tests below: every lesson released with nbgrader,
crafted submissions of lesson 1 (blank, solution, partial, tampered, deleted cells, an endless
query, DROP/INSERT, answers made by hand, invalid JSON, a missing notebook), hostile learners who
try to fool the grade (grading_kit.hostile) and one submission through the nbgrader exchange,
graded with two workers, then graded again, then once more on a rebuilt warehouse.
"""

from __future__ import annotations

import json
import re
import time

import nbformat
import pytest
from test_sql101_languages import english_left

from conftest import build_company, run_matsuri
from matsuri.grading import course as courses
from matsuri.grading.reference import reference_queries
from matsuri.grading.release import readable_text
from matsuri.grading.workspace import BY_LANGUAGE
from matsuri.warehouse.query import connect, table_checksums
from support.grading_kit import (
    answered,
    craft,
    exchange_fetch,
    exchange_submit,
    hostile,
    once_per_run,
    rows,
)

COURSE = "sql-101"
L1, L2 = "01-reading-a-table", "02-aggregates"
TIMEOUT = "10"
# Graded a second time with --force: the gradebook must not change.
REGRADE = ("endless", "partial", "handmade", "tampered", "deleted-setup", "dropper")


def cli(args, work, **kw):
    return run_matsuri(["course", *args, "--workdir", str(work)], **kw)


@pytest.fixture(scope="session")
def run(public_company, grading_identity, tmp_path_factory):
    return once_per_run(tmp_path_factory, "grading-run",
                        lambda: grading_run(public_company, tmp_path_factory))


def grading_run(public_company, tmp_path_factory) -> dict:
    company = public_company.warehouse
    work = tmp_path_factory.mktemp("course-work")
    warehouse = str(company)
    checksums = table_checksums(company)
    out = {"work": work, "root": work / COURSE, "warehouse": company}
    started = time.perf_counter()
    out["release"] = cli(["release", COURSE, "--warehouse", warehouse], work)
    out["release_seconds"] = time.perf_counter() - started
    course = courses.load(COURSE)
    root = out["root"]
    subs = tmp_path_factory.mktemp("submissions")
    out["expected"] = craft(root / "release" / L1 / f"{L1}.ipynb",
                            reference_queries(course.lesson(L1)), subs, L1)
    released2 = nbformat.read(root / "release" / L2 / f"{L2}.ipynb", as_version=4)
    secrets = {"source": root / "source" / L1 / f"{L1}.ipynb",
               "key": root / "private" / "keys" / f"{L1}.json", "gradebook": root / "gradebook.db",
               "other": root / "submitted" / "solution" / L1 / f"{L1}.ipynb",
               "labels": public_company.labels}
    cheats = hostile(root / "release" / L1 / f"{L1}.ipynb", reference_queries(course.lesson(L1)),
                     secrets, root / "release" / L2 / f"{L2}.ipynb")
    out["hostile"] = {student: (score, note) for student, (_, score, note) in cheats.items()}
    for student, (nb, _, _) in cheats.items():
        (subs / student / L1).mkdir(parents=True)
        nbformat.write(nb, subs / student / L1 / f"{L1}.ipynb")
    for student, answers in (("solution", reference_queries(course.lesson(L2))), ("blank", {})):
        (subs / student / L2).mkdir(parents=True)
        nbformat.write(answered(released2, answers), subs / student / L2 / f"{L2}.ipynb")
    out["collect"] = cli(["collect", COURSE, "--from", str(subs)], work)
    released1 = nbformat.read(root / "release" / L1 / f"{L1}.ipynb", as_version=4)
    exchange_submit(work / "exchange", COURSE, L1, "via-exchange",
                    answered(released1, reference_queries(course.lesson(L1))),
                    tmp_path_factory.mktemp("learner-home"))
    out["collect_exchange"] = cli(["collect", COURSE, "--lesson", L1], work)
    out["expected"]["via-exchange"] = float(len(course.lesson(L1).exercises))
    out["grade"] = cli(["grade", COURSE, "--workers", "2", "--cell-timeout", TIMEOUT,
                        "--warehouse", warehouse], work, exit_code=0)
    exports = root / "exports"
    out["first"] = {name: (exports / name).read_text() for name in ("gradebook.csv", "scores.csv")}
    out["report"] = {(r["student_id"], r["lesson"]): r for r in rows(exports / "grading-report.csv")}
    again = [arg for name in REGRADE for arg in ("--learner", name)]
    out["regrade"] = cli(["grade", COURSE, "--lesson", L1, "--workers", "2", "--force", *again,
                          "--cell-timeout", TIMEOUT, "--warehouse", warehouse], work)
    out["second"] = {name: (exports / name).read_text() for name in ("gradebook.csv", "scores.csv")}
    out["again"] = cli(["grade", COURSE, "--warehouse", warehouse], work)
    out["progress"] = cli(["progress", COURSE], work)
    out["checksums"] = (checksums, table_checksums(company))
    # in a copy of the course: a grade set by hand, then the warehouse rebuilt with another seed
    import shutil

    from nbgrader.api import Gradebook

    later = tmp_path_factory.mktemp("course-work-later")
    shutil.copytree(root, later / COURSE)
    with Gradebook(f"sqlite:///{later / COURSE / 'gradebook.db'}", COURSE) as gb:
        gb.find_grade("q4", L1, L1, "partial").manual_score = 1
        gb.db.commit()
    rebuilt = build_company(public_company.folder / "rebuilt", seed=42).warehouse  # was seed 7
    out["rebuilt"] = cli(["grade", COURSE, "--lesson", L1, "--learner", "partial", "--learner",
                          "solution", "--cell-timeout", TIMEOUT, "--warehouse", str(rebuilt)], later)
    out["rebuilt_report"] = {r["student_id"]: r for r in rows(later / COURSE / "exports" / "grading-report.csv")
                             if r["lesson"] == L1}
    return out


# --- release ---------------------------------------------------------------------------------
def test_is_every_lesson_released_to_the_exchange(run):
    course = courses.load(COURSE)
    for lesson in course.lessons:
        outbound = run["work"] / "exchange" / COURSE / "outbound" / lesson.id
        assert (outbound / f"{lesson.id}.ipynb").is_file() and (outbound / "checks.json").is_file()
    assert f"Released {len(course.lessons)} lesson(s)" in run["release"].out


def test_does_each_learner_fetch_the_lesson_in_their_own_language(run, tmp_path):
    """On the hub a learner's server fetches the copy in their MATSURI_LANG (participants.csv);
    without one, the course's language. The copies differ only in prose."""
    def prose(folder):
        nb = nbformat.read(folder / f"{L1}.ipynb", as_version=4)
        return [c.source for c in nb.cells if c.cell_type == "markdown"], [c.source for c in nb.cells
                                                                          if c.cell_type == "code"]

    exchange, by_language = run["work"] / "exchange", run["root"] / BY_LANGUAGE
    folders = {lang: exchange_fetch(exchange, COURSE, L1, tmp_path / (lang or "course"), lang)
               for lang in ("en", "ja", "")}
    fetched = {lang: prose(folder) for lang, folder in folders.items()}
    said = {lang: json.loads((folder / "checks.json").read_text())["language"] for lang, folder in folders.items()}
    assert said == {"en": "en", "ja": "ja", "": "ja"}  # instant feedback in the prose's language
    assert all((folder / "cards" / "sales_calls.md").is_file() for folder in folders.values())  # handouts
    assert fetched["en"] == prose(by_language / "en" / L1)
    assert fetched["ja"] == prose(by_language / "ja" / L1) == fetched[""]  # the course's: Japanese
    assert fetched["en"][0] != fetched["ja"][0] and fetched["en"][1] == fetched["ja"][1]
    assert re.search("[ぁ-ん]", "".join(fetched["ja"][0])) and not re.search("[ぁ-ん]", "".join(fetched["en"][0]))
    assert [run for text in fetched["ja"][0] for run in english_left(text)] == []  # no English prose left


def test_does_the_learner_copy_hold_no_answers(run):
    """No reference SQL, and no value of any answer that the lesson text does not already say."""
    course = courses.load(COURSE)
    with connect(run["warehouse"]) as con:
        for lesson in course.lessons:
            released = run["root"] / "release" / lesson.id
            text = "\n".join(readable_text(released / name) for name in (f"{lesson.id}.ipynb", "checks.json"))
            source = nbformat.read(lesson.notebook, as_version=4)
            said = " ".join(c.source for c in source.cells if c.cell_type == "markdown")
            said += (course.folder / "exercises" / f"{lesson.id}.toml").read_text()
            for var, sql in reference_queries(lesson).items():
                assert " ".join(sql.split()) not in " ".join(text.split())
                values = {str(v) for row in con.sql(sql).fetchall() for v in row
                          if (isinstance(v, str) and len(v) > 3)
                          or (isinstance(v, int) and not isinstance(v, bool) and abs(v) > 999)}
                leaked = [v for v in values if v not in said and
                          re.search(rf"(?<![\w.]){re.escape(v)}(?![\w.])", text)]
                assert leaked == [], (lesson.id, var, leaked[:5])
            assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and ".verify()" not in text


def test_does_a_sql_answer_cell_get_a_sql_stub(run):
    nb = nbformat.read(run["root"] / "release" / L1 / f"{L1}.ipynb", as_version=4)
    sql_cells = [c for c in nb.cells if c.source.startswith("%%sql q")]
    assert len(sql_cells) == len(courses.load(COURSE).lesson(L1).exercises)
    assert all(c.source.split("\n")[1].startswith("-- Write your query here") for c in sql_cells)
    assert not any("NotImplementedError" in c.source for c in nb.cells)


def test_does_the_key_hold_only_shape_and_hashes(run):
    key = json.loads((run["root"] / "release" / L1 / "checks.json").read_text())
    first = key["exercises"][0]
    assert set(first) >= {"columns", "rows", "column_hashes", "row_hash", "hints", "explanation"}
    assert first["solution"] is None and key["solutions"] is False


def test_are_grading_keys_kept_private(run):
    private = run["root"] / "private"
    assert private.stat().st_mode & 0o077 == 0
    assert not list((run["work"] / "exchange").rglob(f"{L1}.json"))


# --- collect -------------------------------------------------------------------------------
def test_are_submissions_collected_from_a_folder_and_the_exchange(run):
    assert f"{L1}: {13 + len(run['hostile'])} new submission(s)" in run["collect"].out
    assert "bad+id" in run["collect"].err
    assert f"{L1}: 1 new submission(s)" in run["collect_exchange"].out
    assert (run["root"] / "submitted" / "via-exchange" / L1 / f"{L1}.ipynb").is_file()


# --- grade ---------------------------------------------------------------------------------
def test_does_everyone_get_exactly_their_score(run):
    graded = {r["student_id"]: r for r in rows(run["root"] / "exports" / "scores.csv")}
    for student, expected in run["expected"].items():
        if expected is None:
            assert graded[student][L1] == "not graded", graded[student]
        else:
            assert float(graded[student][L1]) == expected, (student, run["report"][(student, L1)])
    assert float(graded["solution"][L2]) == len(courses.load(COURSE).lesson(L2).exercises)
    assert float(graded["blank"][L2]) == 0


@pytest.mark.parametrize("student", [
    "patch-compare", "patch-class", "patch-objects", "patch-rendering", "patch-transformer",
    "patch-hook", "forge-outputs", "rewrite-key", "sql-templating", "snoop", "copied-answer",
    "copied-check", "moved-answer", "retyped-check", "retyped-answer", "stubborn-loop",
    "threads-endless", "exits", "wrong-lesson"])
def test_does_a_hostile_learner_get_exactly_their_score_and_note(run, student):
    score, note = run["hostile"][student]
    row = run["report"][(student, L1)]
    assert row["score"] == ("" if score is None else str(score)), row
    assert row["status"] == ("skipped" if score is None else "graded"), row
    assert note in row["notes"], row


def test_can_a_grading_kernel_reach_nothing_private(run):
    """The snooping learner printed what it could read into its feedback, and tried the gradebook."""
    html = (run["root"] / "feedback" / "snoop" / L1 / f"{L1}.html").read_text()
    for name in ("source", "key", "gradebook", "other", "labels"):
        assert re.search(rf"{name}&#x27;? refused: FileNotFoundError|{name}' refused: FileNotFoundError",
                         html) or f"{name} refused: FileNotFoundError" in html, name
    # nothing of the source notebook, the grading key, the gradebook or the labels store
    for marker in ("BEGIN SOLUTION", "column_hashes", "SQLite format", "DUCK"):
        assert marker not in html, marker
    rows_ = rows(run["root"] / "exports" / "gradebook.csv")
    assert all(r["score"] in ("", "0", "1") for r in rows_ if r["lesson"] == L1)


def test_is_a_rebuilt_warehouse_noticed_and_a_manual_grade_listed(run):
    assert "the warehouse changed since the last release or grading" in run["rebuilt"].err
    assert re.search(r"seed 7 · build \w+ → scale tiny · seed 42", run["rebuilt"].err)
    partial, solution = run["rebuilt_report"]["partial"], run["rebuilt_report"]["solution"]
    assert partial["status"] == solution["status"] == "graded"
    full = len(courses.load(COURSE).lesson(L1).exercises)
    assert solution["score"] == str(full) and partial["score"] == "4"  # 3 right + q4 set to 1 by hand
    assert "kept a score grading did not write: q4 manual 1" in partial["notes"]
    assert "graded again: the warehouse changed" in solution["notes"]


def test_is_each_exercise_recorded(run):
    exercises = [r for r in rows(run["root"] / "exports" / "gradebook.csv")
                 if r["student_id"] == "partial" and r["lesson"] == L1]
    names = [e.name for e in courses.load(COURSE).lesson(L1).exercises]
    assert [(r["exercise"], r["score"]) for r in exercises] == [
        (name, "1" if name in ("q1", "q2", "q3") else "0") for name in names]


@pytest.mark.parametrize(("student", "note"), [
    ("broken", "not a readable notebook"),
    ("missing", f"no {L1}.ipynb in the submission"),
    ("endless", "the SQL cell of q1 ran longer than 10 s and was stopped"),
    ("deleted-setup", "setup cell was deleted; restored for grading"),
    ("deleted-test", "check cell q2 was deleted; restored for grading"),
    ("tampered", "check cell q1 was edited; restored for grading"),
])
def test_is_every_problem_reported_in_plain_words(run, student, note):
    assert note in run["report"][(student, L1)]["notes"]
    assert student in run["grade"].out


def test_are_unreadable_notebooks_skipped_but_the_batch_goes_on(run):
    assert run["report"][("broken", L1)]["status"] == "skipped"
    assert run["report"][("missing", L1)]["status"] == "skipped"
    assert run["report"][("endless", L1)]["status"] == "graded"
    assert "3 skipped, 0 failed" in run["grade"].out


def test_did_drop_and_insert_leave_the_warehouse_unchanged(run):
    before, after = run["checksums"]
    assert before == after
    html = (run["root"] / "feedback" / "dropper" / L1 / f"{L1}.html").read_text()
    assert "会社のデータベースは読み取り専用です" in html  # the course's language: Japanese


def test_does_feedback_hide_hidden_tests_and_tracebacks(run):
    feedback = run["root"] / "feedback"
    graded = sum(score is not None for score, _ in run["hostile"].values())
    assert len(list(feedback.glob(f"*/{L1}/{L1}.html"))) == 12 + graded
    html = (feedback / "handmade" / L1 / f"{L1}.html").read_text()
    assert "上の SQL セルにクエリを書いて実行してから" in html   # the grader's verdict (in Japanese)…
    assert "あなたの答え" in html and "Student's answer" not in html and "(Score:" not in html  # …in a Japanese frame
    assert ".verify()" not in html and "HIDDEN TESTS" not in html   # …but not the tests' source
    for page in feedback.glob(f"*/{L1}/{L1}.html"):
        assert "most recent call last" not in page.read_text(), page


def test_does_grading_twice_give_the_same_gradebook(run):
    assert run["first"] == run["second"]
    assert f"{len(REGRADE)} graded, 0 unchanged, 0 skipped, 0 failed" in run["regrade"].out


def test_is_an_unchanged_submission_not_graded_again(run):
    graded = sum(score is not None for score in run["expected"].values()) + 2  # + lesson 2
    graded += sum(score is not None for score, _ in run["hostile"].values())
    assert f"0 graded, {graded} unchanged" in run["again"].out


# --- progress ------------------------------------------------------------------------------
def test_does_progress_draw_the_heatmap_and_completion(run):
    exports = run["root"] / "exports"
    png = (exports / "progress.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    html = (exports / "progress.html").read_text()
    assert "via-exchange" in html and "テーブルを読む" in html and "data:image/png;base64" in html
    assert "01-reading-a-table" in run["progress"].out and "Heatmap" in run["progress"].out


# --- errors a person can make ------------------------------------------------------------
def test_are_instructor_mistakes_explained(tmp_path, run):
    missing = run_matsuri(["course", "release", "sql-999"], exit_code=3)
    assert "No course 'sql-999'" in missing.err and "sql-101" in missing.err
    ungraded = run_matsuri(["course", "grade", COURSE, "--workdir", str(tmp_path)], exit_code=3)
    assert "release the course first" in ungraded.err
    workers = run_matsuri(["course", "grade", COURSE, "--workers", "0"], exit_code=2)
    assert "--workers" in workers.err
    unknown = cli(["grade", COURSE, "--lesson", "99-nothing"], run["work"], exit_code=3)
    assert "Lessons: 01-reading-a-table" in unknown.err
    nowhere = run_matsuri(["course", "collect", COURSE, "--from", str(tmp_path / "nope"),
                           "--workdir", str(tmp_path)], exit_code=3)
    assert "does not exist" in nowhere.err
    for result in (missing, ungraded, unknown, nowhere):
        assert "Traceback" not in result.err


# --- what a learner sees -----------------------------------------------------------------
@pytest.fixture
def lab(run, public_company, tmp_path):
    """JupyterLab on 127.0.0.1 in a learner's folder holding lesson 1 as fetched from the exchange."""
    import os

    from support.lab import jupyterlab

    home = tmp_path / "learner"
    exchange_fetch(run["work"] / "exchange", COURSE, L1, home, "en")
    env = dict(os.environ, MATSURI_WAREHOUSE=str(public_company.warehouse), MATSURI_LANG="en",
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    with jupyterlab(home, env) as url:
        yield url.format(path=f"{L1}/{L1}.ipynb")


@pytest.mark.slow
@pytest.mark.browser
def test_does_a_learner_see_feedback_in_jupyterlab(lab, browser):
    page = browser.new_page()
    try:
        page.goto(lab, timeout=120_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
        setup = page.locator(".jp-CodeCell").filter(has_text="from matsuri.checks import start").first
        setup.locator(".jp-InputArea-editor").click()
        setup.and_(page.locator(".jp-mod-active")).wait_for(timeout=30_000)
        page.keyboard.press("Shift+Enter")
        page.get_by_text("Ready: connected to the company warehouse").wait_for(timeout=120_000)

        sql = page.locator(".jp-CodeCell").filter(has_text="%%sql q1_result <<")
        sql.locator(".cm-content").click()
        page.keyboard.press("Control+End")
        page.keyboard.press("Enter")
        page.keyboard.type("SELECT product_id, name FROM products")
        page.keyboard.press("Shift+Enter")        # runs the SQL cell, moves to its check cell
        page.keyboard.press("Shift+Enter")        # runs the check
        check = page.locator(".jp-CodeCell").filter(has_text="q1.check()").first
        check.get_by_text("missing the column(s)").wait_for(timeout=60_000)
        assert "Not yet" in check.inner_text() and "Traceback" not in check.inner_text()

        sql.locator(".cm-content").click()
        page.keyboard.press("Control+a")
        page.keyboard.type("%%sql q1_result <<\nSELECT * FROM products")
        page.keyboard.press("Shift+Enter")
        sql.locator(".jp-OutputArea").get_by_text("launched_at").first.wait_for(timeout=60_000)
        page.keyboard.press("Shift+Enter")
        check.get_by_text("Correct!").wait_for(timeout=60_000)
        assert "returns every column" in check.inner_text()
    finally:
        page.close()
