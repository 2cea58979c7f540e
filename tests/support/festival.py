"""A hackathon event whose teams hand in by themselves: real accounts, drop boxes, the runner
service started as `matsuri hackathon runner` (used by the self-service tests and benchmark)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from conftest import BIN
from support.accounts import give, participant_accounts, run_as
from support.hackathon_kit import DEFAULTS, SETTINGS, add_team


class Festival:
    def __init__(self, event, company, people: dict[str, str]):
        self.event, self.company, self.people = event, company, people  # team -> account
        self.env = os.environ | {"MATSURI_WAREHOUSE": str(company.warehouse),
                                 "MATSURI_LABELS": str(company.labels), "COLUMNS": "250"}
        self.runner: subprocess.Popen | None = None

    def start_runner(self, *args: str) -> subprocess.Popen:
        log = open(self.event.root.parent / "runner.log", "a")  # noqa: SIM115 (kept for the test's life)
        self.runner = subprocess.Popen(
            [str(BIN / "matsuri"), "hackathon", "--event", str(self.event.root), "runner", *args],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and '"alive": true' not in self._board():
            assert self.runner.poll() is None, (self.event.root.parent / "runner.log").read_text()
            time.sleep(0.2)
        return self.runner

    def stop_runner(self) -> None:
        if self.runner is not None and self.runner.poll() is None:
            self.runner.send_signal(signal.SIGTERM)
            self.runner.wait(60)

    def _board(self) -> str:
        path = self.event.root / "public" / "board.json"
        return path.read_text() if path.exists() else ""

    def home(self, team: str) -> Path:
        return Path(pwd.getpwnam(self.people[team]).pw_dir)

    def give(self, team: str, source: Path) -> Path:
        return give(self.people[team], source)

    def as_member(self, team: str, *command: str, **kwargs) -> subprocess.Popen:
        return run_as(self.people[team], *command, **kwargs)

    def matsuri(self, team: str, *args: str) -> subprocess.Popen:
        return self.as_member(team, str(BIN / "matsuri"), "hackathon", "--event", str(self.event.root), *args)

    def rows(self, team: str) -> list[dict]:
        with self.event.connect() as con:
            return [dict(r) for r in con.execute("SELECT * FROM submissions WHERE team = ? ORDER BY id", (team,))]



@contextlib.contextmanager
def self_service_event(company, sandbox_prefix: str, teams=("alpha", "beta"), theme: str = "push-open-rate",
                       **settings) -> Iterator[Festival]:
    """An event in a folder others can pass through, one real account per team (all on `theme`),
    the drop boxes made as `init` makes them; the runner stopped at the end."""
    from matsuri.hackathon.dropbox import team_group
    from matsuri.hackathon.event import init_event
    from matsuri.hackathon.service import prepare_boxes

    folder = Path(tempfile.mkdtemp(prefix="matsuri-festival-"))
    folder.chmod(0o711)
    root = folder / "event"
    root.mkdir()
    values = DEFAULTS | {"run_as": sandbox_prefix} | settings
    (root / "event.toml").write_text(SETTINGS.format(**values), encoding="utf-8")
    festival = None
    saved = {k: os.environ.get(k) for k in ("MATSURI_WAREHOUSE", "MATSURI_LABELS")}
    os.environ |= {"MATSURI_WAREHOUSE": str(company.warehouse), "MATSURI_LABELS": str(company.labels)}
    try:
        with participant_accounts(len(teams)) as accounts:
            people = dict(zip(teams, accounts, strict=True))
            event, _ = init_event(root)
            for team, account in people.items():
                add_team(event, team, theme, members=[account])
            assert prepare_boxes(event) == []
            festival = Festival(event, company, people)
            try:
                yield festival
            finally:
                festival.stop_runner()
                for team in people:
                    subprocess.run(["groupdel", team_group(team, event.root)], capture_output=True)
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        shutil.rmtree(folder, ignore_errors=True)
