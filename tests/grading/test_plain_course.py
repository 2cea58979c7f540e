"""Does a plain nbgrader course (no course.toml: an assignment of two notebooks, Python answers
with assert tests, a manually graded answer) go through `matsuri course release / collect /
grade / progress`, and can an instructor still grade by hand in nbgrader's formgrader?

The course is tests/grading/courses/ps-basics, shaped like nbgrader's documentation examples.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from conftest import free_port, run_matsuri
from matsuri.grading import course as courses
from support.grading_kit import once_per_run, rows

COURSES = Path(__file__).parent / "courses"
COURSE, PS = "ps-basics", "ps1"
SQUARES = ("def squares(n):\n    if n < 0:\n        raise ValueError('negative')\n"
           "    return [i * i for i in range(1, n + 1)]")
MEAN = ("def mean_of(values):\n    numbers = [v for v in values if v is not None]\n"
        "    return sum(numbers) / len(numbers) if numbers else None")


def fill(nb, answers: dict[str, str]):
    """A released notebook with answer cells (by grade id) filled in."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


@pytest.fixture(scope="session")
def plain(public_company, grading_identity, tmp_path_factory):
    return once_per_run(tmp_path_factory, "plain-course",
                        lambda: plain_run(public_company.warehouse, tmp_path_factory))


def plain_run(warehouse: Path, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("plain-work")
    env = {courses.COURSES_ENV: str(COURSES)}

    def cli(*args, **kw):
        return run_matsuri(["course", *args, "--workdir", str(work)], env=env, **kw)

    out = {"work": work, "root": work / COURSE}
    out["release"] = cli("release", COURSE, "--warehouse", str(warehouse))
    released = {name: nbformat.read(out["root"] / "release" / PS / f"{name}.ipynb", as_version=4)
                for name in ("problem1", "problem2")}
    subs = tmp_path_factory.mktemp("plain-submissions")
    learners = {
        "ace": {"problem1": {"squares": SQUARES, "squares_explain": "It uses memory for every n."},
                "problem2": {"mean_of": MEAN}},
        # no ValueError for a negative n, and problem 2 never handed in
        "half": {"problem1": {"squares": "def squares(n):\n    return [i * i for i in range(1, n + 1)]"}},
        "blank": {"problem1": {}, "problem2": {}},
    }
    for learner, notebooks in learners.items():
        folder = subs / learner / PS
        folder.mkdir(parents=True)
        for name, answers in notebooks.items():
            nbformat.write(fill(released[name], answers), folder / f"{name}.ipynb")
    (subs / "broken" / PS).mkdir(parents=True)
    (subs / "broken" / PS / "problem1.ipynb").write_text("{ not json")
    out["collect"] = cli("collect", COURSE, "--from", str(subs))
    out["grade"] = cli("grade", COURSE, "--workers", "2", "--cell-timeout", "20",
                       "--warehouse", str(warehouse))
    out["report"] = {r["student_id"]: r for r in rows(out["root"] / "exports" / "grading-report.csv")}
    out["gradebook"] = rows(out["root"] / "exports" / "gradebook.csv")
    out["manual"] = grade_by_hand(out["root"], "ace", "squares_explain", 2)
    out["regrade"] = cli("grade", COURSE, "--learner", "ace", "--force", "--warehouse", str(warehouse))
    out["scores"] = {r["student_id"]: r for r in rows(out["root"] / "exports" / "scores.csv")}
    out["after_manual"] = {r["student_id"]: r for r in rows(out["root"] / "exports" / "grading-report.csv")}
    out["progress"] = cli("progress", COURSE)
    out["stock"] = subprocess.run(
        [str(Path(sys.executable).parent / "nbgrader"), "autograde", PS, "--student", "half", "--force"],
        cwd=out["root"], capture_output=True, text=True, env=dict(os.environ, **env), timeout=300)
    out["stock_report"] = stock_score(out["root"], "half")
    return out


def stock_score(root: Path, student: str) -> float:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", COURSE) as gb:
        return gb.find_submission(PS, student).score


def grade_by_hand(root: Path, student: str, grade_id: str, score: float) -> dict:
    """What an instructor does in the formgrader: a real Jupyter server with nbgrader's formgrader
    on this course folder, its REST API asked for the grade and told the manual score."""
    port, token = free_port(), "formgrader-test-token"
    env = dict(os.environ, JUPYTER_TOKEN=token, JUPYTER_RUNTIME_DIR=str(root / ".runtime"))
    jupyter = str(Path(sys.executable).parent / "jupyter")
    proc = subprocess.Popen(
        [jupyter, "server", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
         "--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': True}"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"token {token}"}
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(urllib.request.Request(f"{base}/api/status", headers=headers), timeout=5)
                break
            except OSError:
                assert proc.poll() is None and time.time() < deadline, "the formgrader did not start"
                time.sleep(0.5)
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{root / 'gradebook.db'}", COURSE) as gb:
            grade = gb.find_grade(grade_id, "problem1", PS, student).id
        url = f"{base}/formgrader/api/grade/{grade}"
        before = json.load(urllib.request.urlopen(urllib.request.Request(url, headers=headers)))
        put = urllib.request.Request(url, method="PUT", headers=headers | {"Content-Type": "application/json"},
                                     data=json.dumps(before | {"manual_score": score}).encode())
        after = json.load(urllib.request.urlopen(put))
        return {"before": before, "after": after}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_is_a_plain_nbgrader_course_released_with_nbgrader_alone(plain):
    assert "Released 1 lesson(s)" in plain["release"].out
    outbound = plain["work"] / "exchange" / COURSE / "outbound" / PS
    assert sorted(p.name for p in outbound.glob("*.ipynb")) == ["problem1.ipynb", "problem2.ipynb"]
    text = (outbound / "problem1.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "i * i" not in text
    assert not (outbound / "checks.json").exists()  # no SQL exercises, so no check key


@pytest.mark.parametrize(("learner", "score", "status"), [
    ("ace", "5", "graded"),      # 2 + 1 + 2 of 9: the explanation (2) waits for a person
    ("half", "2", "graded"),     # squares right, no ValueError, problem 2 missing
    ("blank", "0", "graded"),
    ("broken", "", "skipped"),
])
def test_does_each_learner_get_nbgraders_score(plain, learner, score, status):
    row = plain["report"][learner]
    assert (row["status"], row["score"]) == (status, score), row


def test_are_problems_of_a_plain_course_named_in_plain_words(plain):
    assert "problem2.ipynb is missing" in plain["report"]["half"]["notes"]
    assert "problem1.ipynb is not a readable notebook" in plain["report"]["broken"]["notes"]


def test_are_exercises_of_a_plain_course_its_graded_cells(plain):
    mine = [(r["exercise"], r["score"]) for r in plain["gradebook"] if r["student_id"] == "ace"]
    assert ("correct_squares", "2") in mine and ("correct_mean_of", "2") in mine
    assert ("squares_invalid", "1") in mine


def test_does_a_grade_given_in_the_formgrader_stay_and_count(plain):
    assert plain["manual"]["before"]["needs_manual_grade"] is True
    assert plain["manual"]["after"]["manual_score"] == 2
    report = plain["after_manual"]["ace"]
    assert report["score"] == "7"
    assert "kept a score grading did not write: squares_explain manual 2" in report["notes"]
    assert plain["scores"]["ace"][PS] == "7"


def test_does_progress_show_a_plain_course(plain):
    html = (plain["root"] / "exports" / "progress.html").read_text()
    assert "correct_squares" in html and "ace" in html


def test_does_stock_nbgrader_autograde_work_in_the_course_folder(plain):
    assert plain["stock"].returncode == 0, plain["stock"].stderr[-2000:]
    assert plain["stock_report"] == 2
