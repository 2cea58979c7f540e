"""Does the festival funnel count what the stores hold, honour opt-outs, export, and explain bad input?

The festival (tests/support/funnel_kit.py) is built through the real stores; the expected numbers
come from one SQL query over those same files (the event store and both gradebooks attached to
one SQLite connection, the activity logs and collected folders loaded as they lie on disk), never
from the funnel's own code.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import statistics
import tomllib

import pytest

from conftest import ROOT, run_matsuri
from matsuri.errors import NotFound, UsageError
from matsuri.funnel import jobs
from matsuri.funnel.compute import STAGES, Sources, build
from support import funnel_kit

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's own

INDEPENDENT = """
WITH submitted AS (
    SELECT 'sql-101' AS course, st.id AS learner, a.name AS lesson,
           sa.timestamp AS at FROM sq.submitted_assignment sa
    JOIN sq.assignment a ON a.id = sa.assignment_id JOIN sq.student st ON st.id = sa.student_id
    UNION ALL
    SELECT 'ml-101', st.id, a.name, sa.timestamp FROM ml.submitted_assignment sa
    JOIN ml.assignment a ON a.id = sa.assignment_id JOIN ml.student st ON st.id = sa.student_id
    UNION ALL
    SELECT course, learner, lesson, replace(at, ' UTC', '') FROM collected
), acts AS (                      -- log lines of people who did not opt out (column or file)
    SELECT r.username, json_extract(r.line, '$.course') AS course, json_extract(r.line, '$.time') AS at
    FROM raw_logs r JOIN people p USING (username)
    WHERE p.activity_log <> 'no' AND NOT r.off AND json_valid(r.line)
      AND json_extract(r.line, '$.event') IN ('check', 'hint', 'solution')
), team_of AS (
    SELECT member AS username, team FROM ev.members
), first_scored AS (
    SELECT team, min(submitted_at) AS at FROM ev.submissions WHERE status = 'scored' GROUP BY team
), beat AS (
    SELECT DISTINCT s.team FROM ev.submissions s JOIN ev.scores sc ON sc.submission_id = s.id
    JOIN baselines b ON b.theme = s.theme AND b.metric = sc.metric
    WHERE s.status = 'scored' AND sc.part = 'public' AND sc.value > b.value
), first_lesson AS (
    SELECT username, min(julianday(at)) AS day FROM (
        SELECT username, at FROM acts UNION ALL SELECT learner, at FROM submitted)
    GROUP BY username
)
SELECT p.username, p.engineer,
    EXISTS (SELECT 1 FROM acts a WHERE a.username = p.username AND a.course = 'sql-101')
        OR EXISTS (SELECT 1 FROM submitted s WHERE s.learner = p.username AND s.course = 'sql-101'),
    (SELECT count(DISTINCT s.lesson) FROM submitted s JOIN lessons l ON l.course = s.course
       AND l.lesson = s.lesson WHERE s.learner = p.username AND s.course = 'sql-101')
        = (SELECT count(*) FROM lessons WHERE course = 'sql-101'),
    EXISTS (SELECT 1 FROM acts a WHERE a.username = p.username AND a.course = 'ml-101')
        OR EXISTS (SELECT 1 FROM submitted s WHERE s.learner = p.username AND s.course = 'ml-101'),
    f.at IS NOT NULL,
    t.team IN (SELECT team FROM beat),
    t.team IN (SELECT team FROM ev.marks),
    (julianday(f.at) - fl.day) * 24
FROM people p
LEFT JOIN team_of t USING (username)
LEFT JOIN first_scored f ON f.team = t.team
LEFT JOIN first_lesson fl ON fl.username = p.username
WHERE p.role = 'learner'
ORDER BY p.username
"""
STAGE_IDS = [s.id for s in STAGES]


@pytest.fixture(scope="module")
def festival(tmp_path_factory, public_company, sandbox_user):
    from support.hackathon_fixtures import event_for_module

    folder = tmp_path_factory.mktemp("funnel")
    (folder / "event").mkdir()
    with event_for_module(folder / "event", public_company, sandbox_user) as event:
        yield funnel_kit.build(folder, event, public_company)


def independent(festival) -> dict[str, dict]:
    """Each learner's stages and hours to a first score, from one SQL query over the stores."""
    con = sqlite3.connect(":memory:")
    con.execute(f"ATTACH '{festival.event.db}' AS ev")
    con.execute(f"ATTACH '{festival.course_work / 'sql-101' / 'gradebook.db'}' AS sq")
    con.execute(f"ATTACH '{festival.course_work / 'ml-101' / 'gradebook.db'}' AS ml")
    con.execute("CREATE TABLE people (username, role, activity_log, engineer)")
    with festival.participants.open(encoding="utf-8") as f:
        engineer = {u: e for u, _, _, _, e in funnel_kit.PEOPLE}
        con.executemany("INSERT INTO people VALUES (?, ?, ?, ?)",
                        [(r["username"], r["role"], r["activity_log"], engineer.get(r["username"]))
                         for r in csv.DictReader(f)])
    con.execute("CREATE TABLE raw_logs (username, line, off)")
    for path in festival.workspaces.glob("*/.matsuri/activity.jsonl"):
        off = (path.parent / "activity-off").exists()
        con.executemany("INSERT INTO raw_logs VALUES (?, ?, ?)",
                        [(path.parent.parent.name, line, off) for line in path.read_text().splitlines()])
    con.execute("CREATE TABLE collected (course, learner, lesson, at)")
    for stamp in festival.course_work.glob("*/submitted/*/*/timestamp.txt"):
        con.execute("INSERT INTO collected VALUES (?, ?, ?, ?)",
                    (stamp.parents[3].name, stamp.parents[1].name, stamp.parent.name, stamp.read_text().strip()))
    con.execute("CREATE TABLE lessons (course, lesson)")
    for course in ("sql-101", "ml-101"):
        listed = tomllib.loads((ROOT / "courses" / course / "course.toml").read_text())["lessons"]
        con.executemany("INSERT INTO lessons VALUES (?, ?)", [(course, lesson) for lesson in listed])
    settings = tomllib.loads((festival.event.root / "event.toml").read_text(encoding="utf-8"))
    con.execute("CREATE TABLE baselines (theme, metric, value)")
    con.executemany("INSERT INTO baselines VALUES (?, 'roc_auc', ?)",
                    [(theme, t["baseline"]) for theme, t in settings["themes"].items() if "baseline" in t])
    rows = con.execute(INDEPENDENT).fetchall()
    con.close()
    return {user: {"engineer": None if eng is None else bool(eng), "hours": hours,
                   "stages": dict(zip(STAGE_IDS, [True, *map(bool, flags)], strict=True))}
            for user, eng, *flags, hours in rows}


def test_funnel_numbers_equal_an_independent_query_over_the_stores(festival):
    """Does every person's stage, each stage's count and each headline figure match SQL on the stores?"""
    funnel = build(Sources(festival.event, festival.participants, [festival.workspaces],
                           festival.course_work, homes=False))
    truth = independent(festival)
    assert len(truth) == 8  # the instructor is not a participant of the funnel
    got = {p.username: p for p in funnel.people}
    assert sorted(got) == sorted(truth)
    for user, expected in truth.items():
        stages = dict(got[user].stages)
        if stages["beat_baseline"] is None:  # a theme without a baseline: not measured
            assert user == "fn-fumi" and not expected["stages"]["beat_baseline"]
            stages["beat_baseline"] = False
        assert stages == expected["stages"], user
        assert got[user].engineer is expected["engineer"], user
        assert got[user].hours_to_first_score == pytest.approx(expected["hours"], abs=1e-3), user
    for stage in STAGE_IDS:
        assert funnel.count(stage) == sum(t["stages"][stage] for t in truth.values()), stage
        assert funnel.count(stage, False) == sum(t["stages"][stage] for t in truth.values()
                                                 if t["engineer"] is False), stage
    others = [t for t in truth.values() if t["engineer"] is False]
    head = funnel.headline
    assert head.share == sum(t["stages"]["scored_submission"] for t in others) / len(others)
    timed = [t["hours"] for t in truth.values() if t["hours"] is not None]
    assert head.median_hours == pytest.approx(statistics.median(timed)) and head.timed == len(timed)
    # and what that is for this festival, to be sure the query itself says something
    assert [funnel.count(s) for s in STAGE_IDS] == [8, 4, 1, 2, 6, 3, 3]
    assert (head.non_engineers, head.non_engineers_scored, head.unknown_jobs) == (5, 3, 1)
    assert head.median_hours == pytest.approx(19.5)


def test_opted_out_logs_are_never_read(festival):
    """Are logs of people marked activity_log = no, or beside an opt-out file, left unread?"""
    funnel = build(Sources(festival.event, festival.participants, [festival.workspaces],
                           festival.course_work, homes=False))
    people = {p.username: p for p in funnel.people}
    assert (people["fn-gen"].events, people["fn-gen"].opted_out) == (0, True)
    assert not people["fn-gen"].stages["started_ml_101"]         # only their log said so
    assert people["fn-gen"].stages["started_sql_101"]             # a submitted lesson still counts
    assert (people["fn-fumi"].events, people["fn-fumi"].first_lesson) == (0, None)
    assert people["fn-eri"].events == 1                           # the torn line is skipped
    assert any("2 participant(s) opted out" in n for n in funnel.notes)
    assert any("1 line(s) of activity logs" in n for n in funnel.notes)


def test_the_notes_say_what_is_missing_and_what_to_do(festival):
    funnel = build(Sources(festival.event, festival.participants, [festival.workspaces],
                           festival.course_work, homes=False))
    text = "\n".join(funnel.notes)
    assert "Theme call-keywords has no baseline in event.toml" in text
    assert "matsuri hackathon baseline call-keywords" in text
    assert "1 participant(s) have no job" in text and "fill in the column job" in text
    assert "not counted: fn-stranger" in text


def test_the_command_writes_the_csv_and_a_self_contained_page(festival, tmp_path):
    """Does `matsuri hackathon funnel` print the stages and write the per-person CSV and HTML?"""
    out = run_matsuri(["hackathon", "--event", str(festival.event.root), "funnel",
                       "--participants", str(festival.participants), "--activity", str(festival.workspaces),
                       "--csv", str(tmp_path / "people.csv"), "--html", str(tmp_path / "funnel.html")],
                      env={"MATSURI_COURSE_WORK": str(festival.course_work), "COLUMNS": "200"}).out
    assert "Non-engineer participants with a scored submission: 60% (3 of 5)" in out
    assert "Median time from first lesson activity to first scored submission: 19.5 hours (5 people)" in out
    truth = independent(festival)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "people.csv").read_text(encoding="utf-8"))))
    assert [r["username"] for r in rows] == sorted(truth)
    for row in rows:
        expected = truth[row["username"]]["stages"]
        shown = {s: row[s] for s in STAGE_IDS}
        assert shown == {s: "unknown" if row["username"] == "fn-fumi" and s == "beat_baseline"
                         else ("yes" if v else "no") for s, v in expected.items()}
    assert rows[0]["engineer"] == "non-engineer" and rows[0]["first_lesson_at"].startswith("2026-06-01T00:30")
    page = (tmp_path / "funnel.html").read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in page and "http://" not in page and "https://" not in page
    assert "60%" in page and "19.5 時間" in page and "ベースラインを上回る" in page
    assert "fn-aiko" not in page  # the page shows stages and teams, not people


def test_the_baseline_command_scores_like_a_submission(festival, tmp_path):
    """Does `matsuri hackathon baseline` give the public score the store keeps for the same file?"""
    guess = next(festival.participants.parent.glob("guess.csv"))
    out = run_matsuri(["hackathon", "--event", str(festival.event.root), "baseline", "push-open-rate",
                       str(guess)]).out
    with sqlite3.connect(festival.event.db) as con:
        stored = con.execute("SELECT value FROM scores JOIN submissions ON id = submission_id "
                             "WHERE team = 'beta' AND part = 'public' AND metric = 'roc_auc'").fetchone()[0]
    assert f"baseline = {stored:.6g}" in out
    missing = run_matsuri(["hackathon", "--event", str(festival.event.root), "baseline", "push-open-rate",
                           str(tmp_path / "nothing")], exit_code=3)
    assert "submission-baseline/" in missing.err


@pytest.mark.parametrize(("job", "engineer"), [
    ("engineer", True), ("Backend Engineer", True), ("data scientist", True), ("SRE", True),
    ("エンジニア", True), ("アプリ開発", True), ("engineering manager", True),
    ("non-engineer", False), ("非エンジニア", False), ("sales", False), ("営業", False),
    ("press relations", False), ("", None), ("  ", None),
])
def test_who_counts_as_an_engineer(job, engineer):
    assert jobs.is_engineer(job) is engineer


def test_bad_input_gets_a_plain_message_saying_what_to_do(festival, tmp_path):
    sources = Sources(festival.event, tmp_path / "missing.csv", [], festival.course_work, homes=False)
    with pytest.raises(NotFound, match="No participants file at .*missing.csv. Make a CSV"):
        build(sources)
    nobody = tmp_path / "judges.csv"
    nobody.write_text("username,email,role\nito,ito@example.com,judge\n")
    with pytest.raises(UsageError, match="lists no one with the role learner.*give participants the role learner"):
        build(Sources(festival.event, nobody, [], festival.course_work, homes=False))
    bad = tmp_path / "bad.csv"
    bad.write_text("username,email,role,activity_log\naki,aki@example.com,learner,maybe\n")
    result = run_matsuri(["hackathon", "--event", str(festival.event.root), "funnel", "--participants",
                          str(bad)], exit_code=2)
    assert "line 2, column 'activity_log': 'maybe' is neither yes nor no" in result.err
    assert "Traceback" not in result.err


def test_a_missing_course_folder_is_a_note_not_a_failure(festival, tmp_path):
    funnel = build(Sources(festival.event, festival.participants, [festival.workspaces],
                           tmp_path / "elsewhere", homes=False))
    assert funnel.count("finished_sql_101") == 0 and funnel.count("started_sql_101") == 3  # aiko, ben, chie: logs only
    assert any("no course work folder" in n and "MATSURI_COURSE_WORK" in n for n in funnel.notes)


def test_the_gallery_page_says_what_to_do_when_participants_are_missing(festival, monkeypatch, tmp_path):
    """Outside Voila too: the page shows a plain message, not a traceback, when an input is missing."""
    from matsuri.funnel import page

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *items: shown.extend(items))
    monkeypatch.setenv("MATSURI_EVENT", str(festival.event.root))
    monkeypatch.setenv("MATSURI_PARTICIPANTS", str(tmp_path / "nobody.csv"))
    page.funnel_app()
    message = shown[0].children[-1].value  # after the page's layout CSS
    assert len(shown) == 1 and "matsuri-error" in message and "Make a CSV" in message
    monkeypatch.setenv("MATSURI_PARTICIPANTS", str(festival.participants))
    monkeypatch.setenv("MATSURI_ACTIVITY_FROM", str(festival.workspaces))
    monkeypatch.setenv("MATSURI_COURSE_WORK", str(festival.course_work))
    shown.clear()
    page.funnel_app()
    _, header, chart, details = shown[0].children
    assert "60%" in header.value and "19.5 時間" in header.value
    assert len(chart.value) > 10_000 and "ALPHA" in details.value and "未測定" in details.value
    assert "fn-aiko" not in header.value + details.value  # stages and teams, not who reached what


def test_logs_are_looked_for_in_workspaces_and_homes_and_unreadable_ones_are_counted(tmp_path):
    from matsuri.funnel import logs

    places = logs.candidates("root", [tmp_path])
    assert places == [tmp_path / "root" / ".matsuri" / "activity.jsonl", tmp_path / "root" / "activity.jsonl",
                      logs.Path("/root/.matsuri/activity.jsonl")]
    assert len(logs.candidates("fn-nobody-here", [tmp_path], homes=True)) == 2  # no such account
    (tmp_path / "aki" / ".matsuri" / "activity.jsonl").mkdir(parents=True)  # there, but not readable
    found = logs.read_person("aki", [tmp_path], homes=False)
    assert (found.events, found.unreadable, found.opted_out) == ([], 1, False)
