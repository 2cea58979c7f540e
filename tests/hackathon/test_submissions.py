"""Are limits, the event window, final picks and the leaderboards applied as documented?"""

from __future__ import annotations

import datetime as dt

import pytest

from matsuri.errors import InvalidSubmission, NotFound, UsageError
from matsuri.hackathon import leaderboard
from matsuri.hackathon.submissions import list_submissions, remaining, submit
from support.hackathon_kit import (
    add_team,
    assert_rejected,
    connect,
    ordering_predictions,
    push_predictions,
    state_snapshot,
    write_csv,
)

TOKYO = dt.timezone(dt.timedelta(hours=9))


def test_daily_limit_counts_accepted_runs_and_resets_at_local_midnight(make_event, public_company, tmp_path):
    """Is the third submission of a day refused, a rejected one not counted, and the next day open?"""
    event = make_event(daily_limit=2, total_limit=10)
    add_team(event, "alpha", "push-open-rate")
    add_team(event, "beta", "push-open-rate")
    good = write_csv(push_predictions(public_company), tmp_path / "good.csv")
    broken = write_csv(push_predictions(public_company).iloc[3:], tmp_path / "broken.csv")
    morning = dt.datetime(2026, 6, 2, 9, 0, tzinfo=TOKYO)
    submit(event, "alpha", good, now=morning)
    with pytest.raises(InvalidSubmission, match="missing 3"):
        submit(event, "alpha", broken, now=morning)  # rejected: does not use up a place
    submit(event, "alpha", good, now=morning + dt.timedelta(hours=1))
    assert remaining(event, "alpha", now=morning) == (0, 8)
    before = state_snapshot(event)
    with pytest.raises(InvalidSubmission) as caught:
        submit(event, "alpha", good, now=morning + dt.timedelta(hours=2))
    message = str(caught.value)
    assert "used its 2 submissions for today (2026-06-02, Asia/Tokyo time)" in message
    newest = max(r[0] for r in state_snapshot(event)["submissions"])
    assert state_snapshot(event, without=newest) == before
    assert submit(event, "beta", good, now=morning).status == "scored"  # other teams unaffected
    next_day = dt.datetime(2026, 6, 3, 0, 5, tzinfo=TOKYO)
    assert submit(event, "alpha", good, now=next_day).status == "scored"


def test_total_limit_and_closed_event_are_refused_with_a_way_forward(make_event, public_company, tmp_path):
    """Does the total limit point at `select`, and a late submission say when the event ran?"""
    event = make_event(daily_limit=1, total_limit=1)
    add_team(event, "alpha", "push-open-rate")
    good = write_csv(push_predictions(public_company), tmp_path / "good.csv")
    submit(event, "alpha", good)
    assert_rejected(event, "alpha", good, "used all 1 submissions allowed", "matsuri hackathon select alpha")
    closed = make_event(starts="2020-01-01", ends="2020-01-31")
    add_team(closed, "late", "push-open-rate")
    assert_rejected(closed, "late", good, "accepted from 2020-01-01 to 2020-01-31", "not scored")


def test_folder_and_file_submissions_and_what_is_kept(make_event, public_company, tmp_path):
    """Are a folder and a single CSV both taken in, with the files kept for rescoring?"""
    event = make_event()
    add_team(event, "alpha", "product-ordering")
    folder = tmp_path / "sub"
    write_csv(ordering_predictions(public_company), folder / "predictions.csv")
    (folder / "model.pkl").write_bytes(b"not needed")
    first = submit(event, "alpha", folder)
    second = submit(event, "alpha", folder / "predictions.csv")
    assert first.kind == "folder" and second.kind == "file"
    assert "submitted sub: scored" in (first.folder / "log.txt").read_text()
    assert sorted(p.name for p in (first.folder / "files").iterdir()) == ["predictions.csv"]
    assert first.public == second.public and "ndcg@10" in first.public and "map@10" in first.public
    assert [s.id for s in list_submissions(event, "alpha")] == [first.id, second.id]


def test_public_and_final_boards_use_best_public_unless_a_team_selects(make_event, public_company, tmp_path):
    """Does the final board take the selected submission, else the best public one, scored privately?"""
    event = make_event()
    add_team(event, "alpha", "push-open-rate", display_name="チームα")
    add_team(event, "beta", "push-open-rate")
    weak = write_csv(push_predictions(public_company, seed=5), tmp_path / "weak.csv")
    strong = write_csv(push_predictions(public_company, perfect=True), tmp_path / "strong.csv")
    a_weak, a_strong = submit(event, "alpha", weak), submit(event, "alpha", strong)
    b_weak = submit(event, "beta", weak)
    board = leaderboard.public_board(event, "push-open-rate")
    assert [(e.team, e.submission_id, e.entries) for e in board] == [("alpha", a_strong.id, 2), ("beta", b_weak.id, 1)]
    assert board[0].display_name == "チームα" and board[0].score == a_strong.public["roc_auc"]
    final = leaderboard.final_board(event, "push-open-rate")
    assert final[0].submission_id == a_strong.id and final[0].chosen == "best public"
    assert final[0].score == a_strong.private["roc_auc"]
    leaderboard.select(event, "alpha", a_weak.id)
    final = leaderboard.final_board(event, "push-open-rate")
    alpha = next(e for e in final if e.team == "alpha")
    assert (alpha.submission_id, alpha.chosen, alpha.score) == (a_weak.id, "selected", a_weak.private["roc_auc"])
    assert leaderboard.public_board(event, "push-open-rate")[0].submission_id == a_strong.id


def test_selecting_someone_elses_or_a_rejected_submission_is_refused(make_event, public_company, tmp_path):
    """Can a team pick only its own scored submissions?"""
    event = make_event()
    add_team(event, "alpha", "push-open-rate")
    add_team(event, "beta", "push-open-rate")
    good = submit(event, "beta", write_csv(push_predictions(public_company), tmp_path / "g.csv"))
    with pytest.raises(NotFound, match="Team 'alpha' has no submission"):
        leaderboard.select(event, "alpha", good.id)
    with pytest.raises(InvalidSubmission):
        submit(event, "alpha", write_csv(push_predictions(public_company).iloc[1:], tmp_path / "b.csv"))
    rejected = list_submissions(event, "alpha")[0]
    with pytest.raises(UsageError, match="cannot be the final one"):
        leaderboard.select(event, "alpha", rejected.id)


def test_a_team_without_a_theme_or_a_missing_path_gets_told_what_to_do(make_event, tmp_path):
    """Are the two commonest slips answered with the command to run?"""
    from matsuri.hackathon.teams import add_team as register

    event = make_event()
    register(event, "fresh", ["Fumi"])
    with pytest.raises(UsageError, match="matsuri hackathon new fresh --theme THEME"):
        submit(event, "fresh", tmp_path)
    add_team(event, "alpha", "push-open-rate")
    with pytest.raises(NotFound, match="There is nothing at"):
        submit(event, "alpha", tmp_path / "nope.csv")
    with pytest.raises(NotFound, match="no team 'ghost'"):
        submit(event, "ghost", tmp_path)


def test_a_run_whose_process_died_is_cancelled_and_frees_its_place(make_event, public_company, tmp_path):
    """Does a submission left 'running' by a killed organiser process stop counting at once, while
    one whose process still runs keeps its place?"""
    import subprocess

    from matsuri.sandbox.box import this_process

    event = make_event(daily_limit=1, total_limit=5, timeout=60)
    add_team(event, "alpha", "push-open-rate")
    started = dt.datetime(2026, 6, 2, 9, 0, tzinfo=TOKYO)
    dead = subprocess.run(["python3", "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    with connect(event) as con:
        con.execute("INSERT INTO submissions (team, theme, kind, source, submitted_at, status, runner)"
                    " VALUES ('alpha', 'push-open-rate', 'notebook', 'x.ipynb', ?, 'running', ?)",
                    (started.astimezone(dt.UTC).isoformat(), this_process()))
    good = write_csv(push_predictions(public_company), tmp_path / "good.csv")
    with pytest.raises(InvalidSubmission, match="used its 1 submissions for today"):
        submit(event, "alpha", good, now=started + dt.timedelta(minutes=1))  # its runner is alive
    with connect(event) as con:
        con.execute("UPDATE submissions SET runner = ? WHERE id = 1", (f"{dead}:1",))
    assert submit(event, "alpha", good, now=started + dt.timedelta(minutes=1)).status == "scored"
    died = list_submissions(event, "alpha")[0]
    assert died.status == "cancelled" and "stopped without finishing" in died.message
