"""Can teams hand in by themselves, from their own accounts, and see their score, while nobody
can read or write another team's entries, and a runner stopped mid-run loses nothing?

Real system accounts (one per participant), the real runner service and the real `matsuri`
command run as each participant with `runuser`.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from support.festival import self_service_event
from support.hackathon_kit import (
    WRITE_PUSH_PREDICTIONS,
    notebook,
    push_predictions,
)

# one worker for the module: its events share team names, hence the teams' system groups
pytestmark = [pytest.mark.slow]


@pytest.fixture
def festival(public_company, sandbox_user):
    with self_service_event(public_company, sandbox_user) as made:
        yield made


def finished(process: subprocess.Popen, timeout: float = 180) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def test_two_teams_hand_in_at_once_and_each_sees_only_its_own(festival, tmp_path):
    festival.start_runner("--slots", "2")
    csv = {team: festival.give(team, _csv(festival, tmp_path / team, seed)) for seed, team in enumerate(("alpha", "beta"))}
    both = {team: festival.matsuri(team, "submit", str(csv[team])) for team in csv}  # at the same moment
    for team, process in both.items():
        code, out, err = finished(process)
        assert code == 0, err
        shown = re.search(r"submission (\d+): scored\. Public score: roc_auc (0\.\d{4})", out)
        assert shown, out
        stored = festival.rows(team)
        assert [r["status"] for r in stored] == ["scored"] and stored[0]["submitted_by"] == festival.people[team]
        from matsuri.hackathon.records import get_submission

        assert f"{get_submission(festival.event, stored[0]['id']).public['roc_auc']:.4f}" == shown.group(2)

    root = festival.event.root
    for attempt in (["ls", str(root / "dropbox" / "beta")], ["cat", str(root / "dropbox" / "beta" / "status.json")],
                    ["ls", str(root / "dropbox" / "alpha")], ["cat", str(root / "state" / "event.sqlite")],
                    ["mkdir", str(root / "dropbox" / "beta" / "forged")]):
        code, _, err = finished(festival.as_member("alpha", *attempt))
        assert code != 0 and "Permission denied" in err, attempt
    code, out, _ = finished(festival.as_member("alpha", "cat", str(root / "dropbox" / "alpha" / "status.json")))
    assert code == 0 and '"team": "alpha"' in out and "private" not in out

    code, _, err = finished(festival.matsuri("alpha", "submit", str(csv["alpha"]), "--team", "beta"))
    assert code == 2 and "You are not a member of team 'beta'" in err and "your team is 'alpha'" in err
    code, out, _ = finished(festival.matsuri("alpha", "submissions"))
    assert code == 0 and "scored" in out and "Submissions left: 49 today" in out
    code, out, _ = finished(festival.matsuri("alpha", "leaderboard"))
    assert code == 0 and out.count("push-open-rate: public leaderboard") == 1 and "alpha" in out and "beta" in out


def test_an_entry_that_links_out_is_refused_with_the_reason(festival):
    """A member who hand-makes an entry whose notebook is a link to a root-only file gets it
    rejected (and sees why); the runner never reads through the link."""
    festival.start_runner()
    box = festival.event.root / "dropbox" / "alpha"
    script = (f"mkdir {box}/.x.partial && cd {box}/.x.partial && "
              "echo '{\"kind\": \"notebook\", \"name\": \"a.ipynb\"}' > ticket.json && "
              f"ln -s {festival.event.db} a.ipynb && mv {box}/.x.partial {box}/x")
    code, _, err = finished(festival.as_member("alpha", "sh", "-c", script))
    assert code == 0, err
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not festival.rows("alpha"):
        time.sleep(0.2)
    row = festival.rows("alpha")[0]
    assert row["status"] == "rejected" and "link" in row["message"], row
    code, out, _ = finished(festival.matsuri("alpha", "submissions"))
    assert "rejected" in out and "link" in out


def test_a_runner_stopped_mid_run_finishes_every_submission_exactly_once(festival, tmp_path):
    slow = notebook(tmp_path / "slow.ipynb", "import time; time.sleep(6)", WRITE_PUSH_PREDICTIONS)
    festival.start_runner("--slots", "1")
    code, out, err = finished(festival.matsuri("alpha", "submit", str(festival.give("alpha", slow)), "--no-wait"))
    assert code == 0, err
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and [r["status"] for r in festival.rows("alpha")] != ["running"]:
        time.sleep(0.2)
    csv = festival.give("beta", _csv(festival, tmp_path / "beta", 1))
    code, _, err = finished(festival.matsuri("beta", "submit", str(csv), "--no-wait"))
    assert code == 0, err
    festival.runner.send_signal(signal.SIGTERM)  # as systemd stops a service
    assert festival.runner.wait(90) is not None
    cut = festival.rows("alpha")
    assert [(r["status"], r["attempts"]) for r in cut] == [("queued", 1)] and "cut off" in cut[0]["message"]

    from conftest import run_matsuri

    status = run_matsuri(["hackathon", "--event", str(festival.event.root), "status"], env=festival.env).out
    assert "The runner is not running" in status and f"1. submission {cut[0]['id']} (alpha)" in status

    # while the runner is down, a team is told so instead of waiting in silence
    code, out, _ = finished(festival.matsuri("beta", "submit", str(csv)))
    assert code == 0 and "the runner is not running" in out

    festival.start_runner("--until-idle")
    assert festival.runner.wait(240) == 0, (festival.event.root.parent / "runner.log").read_text()
    alpha, beta = festival.rows("alpha"), festival.rows("beta")
    assert [(r["status"], r["attempts"]) for r in alpha] == [("scored", 2)]
    assert [r["status"] for r in beta] == ["scored", "scored"]


def test_a_full_queue_and_a_used_up_day_are_refused_at_the_door(public_company, sandbox_user, tmp_path):
    """Nothing is handed in (so nothing runs) when the queue is full or the team has no
    submissions left today; the participant reads why and what to do."""
    with self_service_event(public_company, sandbox_user, slots=1, max_queued=1, daily_limit=2) as festival:
        slow = notebook(tmp_path / "slow.ipynb", "import time; time.sleep(8)", WRITE_PUSH_PREDICTIONS)
        festival.start_runner()
        assert finished(festival.matsuri("alpha", "submit", str(festival.give("alpha", slow)), "--no-wait"))[0] == 0
        csv = festival.give("beta", _csv(festival, tmp_path / "beta", 1))
        assert finished(festival.matsuri("beta", "submit", str(csv), "--no-wait"))[0] == 0
        deadline = time.monotonic() + 60  # one running, one waiting: the queue is full
        while [r["status"] for r in festival.rows("alpha") + festival.rows("beta")] != ["running", "queued"]:
            assert time.monotonic() < deadline, festival.rows("alpha") + festival.rows("beta")
            time.sleep(0.2)
        time.sleep(2 * 2.0)  # the board is republished at least every HEARTBEAT_SECONDS
        code, _, err = finished(festival.matsuri("beta", "submit", str(csv)))
        assert code == 2 and "The queue is full (1 submissions waiting), so nothing was handed in" in err
        while {r["status"] for r in festival.rows("alpha") + festival.rows("beta")} != {"scored"}:
            assert time.monotonic() < deadline + 120
            time.sleep(0.2)
        time.sleep(2 * 2.0)
        code, out, err = finished(festival.matsuri("alpha", "submit", str(festival.give("alpha", slow))), timeout=300)
        assert code == 0, err  # alpha's second of two today, now that the queue has room
        code, _, err = finished(festival.matsuri("alpha", "submit", str(festival.give("alpha", slow))))
        assert code == 2 and "has no submissions left today" in err
        assert len(festival.rows("alpha")) == 2  # the refused ones never reached the queue


def _csv(festival, folder: Path, seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "predictions.csv"
    push_predictions(festival.company, seed=seed).to_csv(path, index=False)
    return path


@pytest.mark.browser
def test_the_submit_button_in_jupyterlab_shows_the_score(festival, browser, tmp_path):
    """A participant's own JupyterLab (their account, their home): run the notebook, press
    提出する / Submit, and read the public score under the button."""
    import contextlib

    from support.lab import jupyterlab

    festival.start_runner()
    entry = notebook(tmp_path / "entry.ipynb", WRITE_PUSH_PREDICTIONS,
                     "from matsuri.templates.submit_button import submit_button\n\nsubmit_button()")
    festival.give("alpha", entry)
    env = {"MATSURI_EVENT": str(festival.event.root), "MATSURI_WAREHOUSE": str(festival.company.warehouse)}
    with jupyterlab(festival.home("alpha"), env, as_user=festival.people["alpha"]) as url, \
            contextlib.closing(browser.new_page()) as page:
        page.goto(url.format(path="entry.ipynb"), timeout=120_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
        cell = page.locator(".jp-CodeCell").filter(has_text="submit_button()")
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        button = cell.get_by_role("button", name="提出する / Submit")
        button.wait_for(timeout=60_000)
        button.click()
        cell.locator(".matsuri-submit-scored").wait_for(timeout=180_000)
        text = cell.locator(".matsuri-submit-scored").inner_text()
        stored = festival.rows("alpha")
        assert [(r["status"], r["kind"]) for r in stored] == [("scored", "notebook")]
        from matsuri.hackathon.records import get_submission

        assert f"roc_auc {get_submission(festival.event, stored[0]['id']).public['roc_auc']:.4f}" in text
        assert "Submissions left today: 49" in text
