"""Does `matsuri hackathon …` run a whole event from the terminal, with plain errors and exit codes?"""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess

import pytest

from conftest import run_matsuri
from support.hackathon_kit import DEFAULTS, SETTINGS, notebook, push_predictions, write_csv


@pytest.fixture
def cli_event(tmp_path, public_company, sandbox_user):
    folder = tmp_path / "event"
    folder.mkdir()
    (folder / "event.toml").write_text(SETTINGS.format(**DEFAULTS | {"run_as": sandbox_user}),
                                       encoding="utf-8")
    templates = tmp_path / "templates"
    notebook(templates / "push-open-rate" / "starter.ipynb", "print('start here')")
    env = {"MATSURI_EVENT": str(folder), "MATSURI_WAREHOUSE": str(public_company.warehouse),
           "MATSURI_LABELS": str(public_company.labels)}
    return folder, templates, env


def test_a_whole_event_from_the_terminal(cli_event, public_company, tmp_path):
    """Init, teams, a workspace, good and bad submissions, boards, a pick, marks, the report."""
    folder, templates, env = cli_event

    def matsuri(*args, code=0, stdin=None):
        if stdin is None:
            return run_matsuri(["hackathon", *args], exit_code=code, env=env)
        proc = subprocess.run(["matsuri", "hackathon", *args], input=stdin, capture_output=True, text=True,
                              env=os.environ | env, timeout=120)
        assert proc.returncode == code, proc.stderr
        return proc

    assert "Event 'テストまつり' is ready" in matsuri("init").out
    matsuri("team", "add", "sushi", "--member", "Aki", "--member", "Ben", "--display-name", "寿司チーム")
    too_big = matsuri("team", "add", "crowd", "-m", "a", "-m", "b", "-m", "c", "-m", "d", code=2)
    assert "has 4 members" in too_big.err and "Traceback" not in too_big.err
    matsuri("new", "sushi", "--theme", "push-open-rate", "--templates", str(templates))
    assert (folder / "teams" / "sushi" / "starter.ipynb").is_file()
    assert "寿司チーム" in matsuri("team", "list").out

    good = write_csv(push_predictions(public_company), tmp_path / "good.csv")
    scored = matsuri("submit", str(good), "--team", "sushi").out
    assert "Submission 1 scored: public roc_auc = " in scored and "left: 49 today" in scored
    bad = write_csv(push_predictions(public_company).iloc[2:], tmp_path / "bad.csv")
    refused = matsuri("submit", str(bad), "--team", "sushi", code=7)
    assert "error: Submission 2 was not accepted. predictions.csv is missing 2 of the" in refused.err
    assert "Traceback" not in refused.err

    listing = matsuri("submissions", "sushi").out
    assert "scored" in listing and "rejected" in listing
    detail = matsuri("submissions", "sushi", "--id", "2").out
    assert "missing 2 of the" in detail and "Files and run log:" in detail
    assert "寿司チーム" in matsuri("leaderboard", "--theme", "push-open-rate").out
    assert "private (final) leaderboard" in matsuri("leaderboard", "--private").out
    assert "final submission" in matsuri("select", "sushi", "1").out
    assert "cannot be the final one" in matsuri("select", "sushi", "2", code=2).err

    matsuri("judge", "--judge", "佐藤", "--team", "sushi", "--mark", "impact=4", "--mark", "demo=5",
            "--note", "良いデモ")
    wrong = matsuri("judge", "--judge", "佐藤", "--team", "sushi", "--mark", "impact=9", "--mark", "demo=5", code=2)
    assert "must be a whole number from 1 to 5" in wrong.err
    prompted = matsuri("judge", "--judge", "鈴木", "--team", "sushi", stdin="3\n7\n2\nまあまあ\n")
    assert "Saved 鈴木's marks" in prompted.stdout

    out = tmp_path / "awards.html"
    assert str(out) in matsuri("report", "--out", str(out)).out
    html = out.read_text(encoding="utf-8")
    assert "良いデモ" in html and "まあまあ" in html and "寿司チーム" in html and "表彰レポート" in html
    matsuri("report", "--out", str(out), "--lang", "en")
    assert "Awards report" in out.read_text(encoding="utf-8")
    assert "--lang" in matsuri("report", "--lang", "fr", code=2).err
    assert "Scored 1 submission(s) again." in matsuri("rescore").out


def test_commands_before_init_or_with_bad_settings_say_what_to_do(cli_event):
    """Is a missing init or a misspelt setting reported without a traceback?"""
    folder, _, env = cli_event
    early = run_matsuri(["hackathon", "team", "list"], exit_code=3, env=env)
    assert "has not been set up yet. Run `matsuri hackathon init" in early.err
    text = (folder / "event.toml").read_text(encoding="utf-8").replace("daily_limit", "dialy_limit")
    (folder / "event.toml").write_text(text, encoding="utf-8")
    broken = run_matsuri(["hackathon", "init"], exit_code=2, env=env)
    assert "`themes.push-open-rate.dialy_limit` is not a setting" in broken.err
    assert "Traceback" not in broken.err


def test_init_creates_the_pool_of_sandbox_users_when_run_as_root(tmp_path, public_company):
    """Does `init` create the pool of unprivileged users that notebooks and demos run as?"""
    from matsuri.sandbox import identities

    name = f"mti{secrets.token_hex(3)}"
    folder = tmp_path / "event"
    folder.mkdir()
    (folder / "event.toml").write_text(SETTINGS.format(**DEFAULTS | {"run_as": name}), encoding="utf-8")
    env = {"MATSURI_EVENT": str(folder), "MATSURI_LABELS": str(public_company.labels)}
    try:
        result = run_matsuri(["hackathon", "init"], env=env)
        assert f"Created 3 sandbox users ({name}-1 … {name}-3)" in result.out
        assert all(pwd.getpwnam(f"{name}-{n}").pw_shell == "/usr/sbin/nologin" for n in (1, 2, 3))
        assert (folder / "state").stat().st_mode & 0o777 == 0o700
        again = run_matsuri(["hackathon", "init"], env=env)
        assert "Created" not in again.out  # the pool is made once
    finally:
        for user in identities.pool(name, 3):
            identities.remove(user)
