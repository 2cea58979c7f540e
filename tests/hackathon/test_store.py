"""Does the event store keep every write when many processes write at once?"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from matsuri.errors import InvalidSubmission
from matsuri.hackathon.event import open_event
from matsuri.hackathon.rubric import save_marks, summary
from matsuri.hackathon.submissions import submit
from support.hackathon_kit import add_team, connect, open_store_files, push_predictions, write_csv

PROCESSES = 8
TEAMS = [f"t{i}" for i in range(10)]


def _judge(root, judge: str, barrier) -> int:
    event = open_event(root)
    barrier.wait()
    for round_ in range(3):  # saving again replaces: the last save is what counts
        for i, team in enumerate(TEAMS):
            save_marks(event, judge, team, {"impact": 1 + (i + round_) % 5, "demo": 5 - i % 5}, f"{judge}→{team}")
    return len(TEAMS)


def _submit(root, path, barrier) -> str:
    event = open_event(root)
    barrier.wait()
    try:
        return submit(event, "alpha", path).status
    except InvalidSubmission as error:
        return str(error)


def test_judges_marking_at_the_same_time_lose_nothing(make_event):
    """Do eight judges saving 30 forms each, all at once, leave exactly their last marks?"""
    event = make_event(judges="[]")
    for team in TEAMS:
        add_team(event, team, "push-open-rate")
    assert not open_store_files(event)  # forking with the store open breaks the children's locking
    context = multiprocessing.get_context("fork")
    barrier = context.Manager().Barrier(PROCESSES)
    judges = [f"judge{j}" for j in range(PROCESSES)]
    with ProcessPoolExecutor(PROCESSES, mp_context=context) as pool:
        done = list(pool.map(_judge, [event.root] * PROCESSES, judges, [barrier] * PROCESSES))
    assert done == [len(TEAMS)] * PROCESSES
    with connect(event) as con:
        assert con.execute("SELECT count(*) FROM marks").fetchone()[0] == PROCESSES * len(TEAMS) * 2
        assert con.execute("SELECT count(*) FROM notes").fetchone()[0] == PROCESSES * len(TEAMS)
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    marks = summary(event)
    assert all(m.judges == sorted(judges) for m in marks.values())
    assert marks["t0"].by_criterion == {"impact": 3.0, "demo": 5.0}  # round 2: 1 + (0 + 2) % 5


def test_simultaneous_submissions_cannot_overrun_the_daily_limit(make_event, public_company, tmp_path):
    """When eight terminals submit for one team at once, are exactly `daily_limit` scored?"""
    event = make_event(daily_limit=3, total_limit=10)
    add_team(event, "alpha", "push-open-rate")
    path = write_csv(push_predictions(public_company), tmp_path / "p.csv")
    assert not open_store_files(event)  # forking with the store open breaks the children's locking
    context = multiprocessing.get_context("fork")
    barrier = context.Manager().Barrier(PROCESSES)
    with ProcessPoolExecutor(PROCESSES, mp_context=context) as pool:
        outcomes = list(pool.map(_submit, [event.root] * PROCESSES, [path] * PROCESSES, [barrier] * PROCESSES))
    assert outcomes.count("scored") == 3, outcomes
    assert all("used its 3 submissions for today" in o for o in outcomes if o != "scored"), outcomes
    with connect(event) as con:
        statuses = sorted(r[0] for r in con.execute("SELECT status FROM submissions"))
    assert statuses == ["rejected"] * 5 + ["scored"] * 3
