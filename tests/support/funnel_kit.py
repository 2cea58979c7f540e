"""A small festival for the funnel tests, built through the real stores: participants.csv with
jobs, activity logs in learners' workspaces, real nbgrader gradebooks of sql-101 and ml-101 (made
with nbgrader's API, no grading run) with a collected-only submission folder, and an event store
with scored and rejected submissions (scored for real), a baseline and judges' marks.

Times are fixed (BASE + hours) so the median in the headline is known in advance.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from conftest import ROOT
from matsuri.checks.activity import FOLDER, LOG_FILE, OFF_FILE
from support.hackathon_kit import add_team, call_predictions, push_predictions, write_csv

BASE = dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.UTC)
BASELINE = 0.6            # push-open-rate's baseline (public roc_auc) in event.toml

# username, job, team in the store, activity_log column, engineer (as the rule should decide)
PEOPLE = [
    ("fn-aiko", "sales", "alpha", "", False),
    ("fn-ben", "Software Engineer", "alpha", "", True),
    ("fn-gen", "営業", "alpha", "no", False),        # opted out in participants.csv
    ("fn-chie", "人事", "beta", "", False),
    ("fn-dan", "データサイエンティスト", "beta", "", True),
    ("fn-eri", "marketing", "", "yes", False),
    ("fn-fumi", "", "gamma", "", None),              # job unknown; opted out by the file
    ("fn-hana", "non-engineer", "", "", False),
]
INSTRUCTOR = ("fn-ito", "engineer")
STRANGER = "fn-stranger"                            # in a team, not in participants.csv


def hours(n: float) -> dt.datetime:
    return BASE + dt.timedelta(hours=n)


def lessons(course: str) -> list[str]:
    return tomllib.loads((ROOT / "courses" / course / "course.toml").read_text(encoding="utf-8"))["lessons"]


@dataclass
class Festival:
    event: object
    participants: Path
    workspaces: Path
    course_work: Path


def participants_csv(path: Path) -> Path:
    rows = ["username,email,role,team,job,activity_log"]
    rows += [f"{u},{u}@example.com,learner,{t},{j},{a}" for u, j, t, a, _ in PEOPLE]
    rows.append(f"{INSTRUCTOR[0]},{INSTRUCTOR[0]}@example.com,instructor,,{INSTRUCTOR[1]},")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def log(workspaces: Path, user: str, *events: tuple[float, str, str], junk: str = "") -> Path:
    """A learner's activity log: (hour, course, event) lines as the runtime writes them."""
    path = workspaces / user / FOLDER / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"time": hours(h).isoformat(timespec="microseconds"), "course": course,
                         "lesson": lessons(course)[0], "exercise": "q1", "event": event,
                         **({"outcome": "incorrect"} if event == "check" else {})})
             for h, course, event in events]
    path.write_text("\n".join([*lines, *([junk] if junk else [])]) + "\n", encoding="utf-8")
    return path


def gradebook(work: Path, course: str, submissions: list[tuple[str, str, float]]) -> Path:
    """nbgrader's gradebook of a course with submissions (learner, lesson, hour)."""
    from nbgrader.api import Gradebook

    path = work / course / "gradebook.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    with Gradebook(f"sqlite:///{path}", course) as gb:
        for lesson in lessons(course):
            gb.add_assignment(lesson)
        for learner in sorted({s for s, _, _ in submissions}):
            gb.add_student(learner)
        for learner, lesson, at in submissions:
            gb.add_submission(lesson, learner, timestamp=hours(at).replace(tzinfo=None))
    return path


def collected(work: Path, course: str, learner: str, lesson: str, at: float) -> None:
    """A submission `course collect` brought in and nobody graded yet."""
    folder = work / course / "submitted" / learner / lesson
    folder.mkdir(parents=True)
    (folder / "timestamp.txt").write_text(hours(at).strftime("%Y-%m-%d %H:%M:%S.%f UTC") + "\n")
    (folder / f"{lesson}.ipynb").write_text("{}")


def with_baseline(event, value: float = BASELINE):
    """The event re-read with push-open-rate's baseline set in its event.toml."""
    from matsuri.hackathon.event import open_event

    path = event.root / "event.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[themes.push-open-rate]\n", f"[themes.push-open-rate]\nbaseline = {value}\n"),
                    encoding="utf-8")
    return open_event(event.root)


def build(folder: Path, event, company) -> Festival:
    """The whole festival state in `folder`, for `event` (made by the hackathon fixtures)."""
    from matsuri.errors import InvalidSubmission
    from matsuri.hackathon.rubric import save_marks
    from matsuri.hackathon.submissions import submit

    event = with_baseline(event)
    people = participants_csv(folder / "participants.csv")
    for team, theme, members in (("alpha", "push-open-rate", ["fn-aiko", "fn-ben", "fn-gen"]),
                                 ("beta", "push-open-rate", ["fn-chie", "fn-dan"]),
                                 ("gamma", "call-keywords", ["fn-fumi"]),
                                 ("delta", "push-open-rate", [STRANGER])):
        add_team(event, team, theme, members=members, display_name=team.upper())
    guess = write_csv(push_predictions(company, seed=3), folder / "guess.csv")      # ROC AUC near 0.5
    right = write_csv(push_predictions(company, perfect=True), folder / "right.csv")  # 1.0
    calls = write_csv(call_predictions(company, perfect=True), folder / "calls.csv")
    broken = folder / "broken.csv"
    broken.write_text("nothing,useful\n1,2\n")
    submit(event, "alpha", guess, now=hours(20))
    submit(event, "alpha", right, now=hours(30))
    try:
        submit(event, "beta", broken, now=hours(35))
    except InvalidSubmission:
        pass  # recorded as rejected: does not count as scored
    submit(event, "beta", guess, now=hours(40))
    submit(event, "gamma", calls, now=hours(50))
    save_marks(event, "佐藤", "alpha", {"impact": 4, "demo": 5}, "良い")

    work = folder / "course-work"
    sql, ml = lessons("sql-101"), lessons("ml-101")
    gradebook(work, "sql-101", [*(("fn-aiko", lesson, 1 + i) for i, lesson in enumerate(sql[:-1])),
                                ("fn-ben", sql[0], 2), ("fn-ben", sql[1], 2.5), ("fn-gen", sql[0], 5)])
    collected(work, "sql-101", "fn-aiko", sql[-1], 9)          # the last lesson, not graded yet
    gradebook(work, "ml-101", [("fn-dan", ml[0], 3)])

    spaces = folder / "workspaces"
    log(spaces, "fn-aiko", (0.5, "sql-101", "check"), (0.6, "sql-101", "hint"))
    log(spaces, "fn-ben", (1.5, "sql-101", "check"))
    log(spaces, "fn-gen", (1.0, "ml-101", "check"))                      # ignored: activity_log = no
    log(spaces, "fn-chie", (4.0, "sql-101", "check"), (4.2, "sql-101", "solution"))
    log(spaces, "fn-eri", (6.0, "ml-101", "hint"), junk='{"time": "torn')
    log(spaces, "fn-fumi", (0.1, "sql-101", "check"))
    (spaces / "fn-fumi" / FOLDER / OFF_FILE).touch()                     # ignored: opted out
    return Festival(event, people, spaces, work)
