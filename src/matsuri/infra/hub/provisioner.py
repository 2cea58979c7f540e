"""`--target jupyterhub`: the accounts, folders and settings for the event's hub on this machine.

apply makes one system account per participant (plus the course's grader and the gallery's
account), the nbgrader exchange and configuration, protects the holdout store, and writes hub.json
for infra/jupyterhub/jupyterhub_config.py. Start the hub with `matsuri infra serve-hub`.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

from matsuri import paths
from matsuri.errors import AlreadyExists
from matsuri.infra.base import (
    CONFLICT,
    CREATE,
    DELETE,
    EXISTS,
    UPDATE,
    Action,
    Plan,
    Provisioner,
    StatusRow,
    copy_missing,
    missing_files,
)
from matsuri.infra.hub import accounts
from matsuri.infra.hub.layout import HubLayout


class HubProvisioner(Provisioner):
    name = "jupyterhub"
    workers = 1  # useradd and groupadd lock /etc/passwd and /etc/group: one at a time

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.layout = HubLayout(self.settings, self.participants)
        self.apply_notes: list[str] = []

    # ------------------------------------------------------------ plan
    def prerequisites(self) -> list[str]:
        problems = []
        if os.geteuid() != 0:
            problems.append("run as root: the hub target creates a system account per participant")
        for tool in ("useradd", "userdel", "groupadd"):
            if not shutil.which(tool):
                problems.append(f"`{tool}` is missing (package 'passwd')")
        if not self.layout.chp():
            problems.append("configurable-http-proxy is missing: run scripts/setup.sh (it runs npm "
                            "install in infra/jupyterhub)")
        if not (self.layout.python_bin / "jupyterhub-singleuser").exists():
            problems.append(f"{self.layout.python_bin} has no jupyterhub-singleuser: install the kit "
                            "with its 'hub' extra (pip install 'matsuri[hub]')")
        return problems

    def plan(self) -> Plan:
        lay, event = self.layout, self.settings.event.id
        actions: list[Action] = [self._state_action(), self._group_action()]
        people = [(p.username, p.role) for p in self.participants]
        for username, role in [*people, (lay.grader, "grader"), (lay.gallery_user, "gallery")]:
            actions.append(self._account_action(username, role))
        for directory in sorted({d for t in lay.traverse_targets() for d in accounts.blocked_dirs(t)}):
            if accounts.has_traverse(directory, lay.group):
                actions.append(Action(EXISTS, "traverse grant", str(directory), stage=2))
            else:
                actions.append(Action(CREATE, "traverse grant", str(directory),
                                      detail=f"x for group {lay.group} (ACL)", stage=2,
                                      run=lambda d=directory: accounts.grant_traverse(d, lay.group),
                                      needs=(f"group:{lay.group}",)))
        actions += [self._file_action("nbgrader config", lay.jupyter_config / "nbgrader_config.py",
                                      lay.nbgrader_global(), 0o644, stage=2),
                    self._file_action("lab settings", lay.jupyter_config / "labconfig" / "page_config.json",
                                      lay.lab_page_config(), 0o644, stage=2),
                    self._file_action("lab defaults",
                                      lay.jupyter_config / "labconfig" / "default_setting_overrides.json",
                                      lay.lab_defaults(), 0o644, stage=2),
                    self._file_action("lab in English",
                                      lay.english_config / "labconfig" / "default_setting_overrides.json",
                                      lay.english_defaults(), 0o644, stage=2),
                    self._file_action("server settings", lay.jupyter_config / "jupyter_server_config.json",
                                      lay.server_config(), 0o644, stage=2),
                    self._file_action("grader config", lay.grader_config / "nbgrader_config.py",
                                      lay.nbgrader_global(), 0o644, stage=2),
                    self._file_action("gallery config", lay.gallery_config / "voila.json",
                                      lay.voila_config(), 0o644, stage=2),
                    self._course_action(), self._holdout_action(),
                    self._file_action("hub settings", lay.hub_json, lay.hub_json_text(), 0o600, stage=3)]
        notes = [f"state in {lay.state}; accounts marked '{accounts.marker(event)}'; group {lay.group}",
                 "start the hub afterwards with: matsuri infra serve-hub"]
        lessons = self._lessons_note()
        if lessons:
            notes.append(lessons)
            if lessons not in self.apply_notes:
                self.apply_notes.append(lessons)
        return Plan(self.name, actions, self.prerequisites(), notes)

    def _lessons_note(self) -> str | None:
        """Lessons reach homes through nbgrader's exchange, never through apply: say what to run
        while the hub has released none."""
        course = self.settings.event.course
        outbound = self.layout.exchange / course / "outbound"
        if outbound.is_dir() and any(outbound.iterdir()):
            return None
        return (f"no lesson of {course} is released on this hub yet, and apply does not copy lessons "
                "into homes: an instructor releases them (the formgrader, or `matsuri course release "
                f"{course}` in the {self.layout.grader} account's terminal), then participants fetch "
                "them in JupyterLab's Assignments tab")

    def _state_action(self) -> Action:
        lay = self.layout
        if lay.marker.is_file():
            return Action(EXISTS, "state folder", str(lay.state))
        if lay.state.exists() and any(lay.state.iterdir()):
            return Action(CONFLICT, "state folder", str(lay.state), run=_refuse(
                f"{lay.state} exists and is not this event's; set [jupyterhub] state_dir"))
        return Action(CREATE, "state folder", str(lay.state), run=self._make_state)

    def _make_state(self) -> str:
        lay = self.layout
        lay.state.mkdir(parents=True, exist_ok=True)
        lay.state.chmod(0o755)
        for folder, mode in ((lay.secrets, 0o700), (lay.archive, 0o700), (lay.jupyter_config, 0o755),
                             (lay.english_config, 0o755), (lay.exchange, 0o1777)):
            folder.mkdir(exist_ok=True)
            folder.chmod(mode)  # the exchange: everyone may drop files, only owners remove them
        for secret in (lay.password_file, lay.status_token_file):
            if not secret.exists():
                secret.write_text(secrets.token_urlsafe(18) + "\n")
                secret.chmod(0o600)
        lay.marker.write_text(json.dumps({"event": self.settings.event.id}) + "\n")
        self.apply_notes.append(f"the shared password for participants is in {lay.password_file}")
        return str(lay.state)

    def _group_action(self) -> Action:
        group = self.layout.group
        if accounts.group_exists(group):
            return Action(EXISTS, "group", group)
        return Action(CREATE, "group", group, run=lambda: accounts.create_group(group))

    def _account_action(self, username: str, role: str) -> Action:
        owner = accounts.owner_of(username)
        event = self.settings.event.id
        if owner == event:
            return Action(EXISTS, "account", username, username, role, stage=1)
        if owner is not None:
            return Action(CONFLICT, "account", username, username, role, stage=1, run=_refuse(
                f"a system account named {username} exists and was not made by this event; "
                "rename the participant in participants.csv"))
        return Action(CREATE, "account", username, username, role, stage=1,
                      needs=(f"group:{self.layout.group}", f"state folder:{self.layout.state}"),
                      run=lambda: accounts.create_user(username, event, self.layout.group))

    def _file_action(self, what: str, path: Path, text: str, mode: int, stage: int,
                     owner: str | None = None) -> Action:
        def write() -> str:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.writing")
            tmp.write_text(text, encoding="utf-8")
            tmp.chmod(mode)
            if owner:
                shutil.chown(tmp, owner, owner)
            tmp.replace(path)  # atomic: the hub never reads half a file
            return str(path)

        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return Action(EXISTS, what, str(path), stage=stage)
        kind = UPDATE if path.exists() else CREATE
        return Action(kind, what, str(path), stage=stage, run=write,
                      needs=(f"state folder:{self.layout.state}",))

    def _course_action(self) -> Action:
        """The grader's course folder with the course's sources; applying again adds lessons
        added to courses/<course>/source since, copying only files it does not have (an
        instructor's edits there stay)."""
        lay = self.layout
        config = lay.course_dir / "nbgrader_config.py"
        source = paths.project_root() / "courses" / self.settings.event.course / "source"
        if config.is_file():
            missing = missing_files(source, lay.course_dir / "source")
            if not missing:
                return Action(EXISTS, "course folder", str(lay.course_dir), stage=2)

            def add() -> str:
                copied = copy_missing(source, lay.course_dir / "source", missing)
                subprocess.run(["chown", "-R", f"{lay.grader}:{lay.grader}", str(lay.course_dir / "source")],
                               check=True, capture_output=True)
                return f"added {len(copied)} source file(s)"

            lessons = ", ".join(sorted({f.parts[0] for f in missing}))
            return Action(UPDATE, "course folder", str(lay.course_dir), stage=2, run=add,
                          detail=f"add {lessons} to source/", needs=(f"account:{lay.grader}",))

        def make() -> str:
            lay.course_dir.mkdir(parents=True, exist_ok=True)
            copy_missing(source, lay.course_dir / "source", missing_files(source, lay.course_dir / "source"))
            config.write_text(lay.nbgrader_course())
            jupyter = lay.home(lay.grader) / ".jupyter"
            jupyter.mkdir(exist_ok=True)
            (jupyter / "nbgrader_config.py").write_text(lay.nbgrader_course())
            subprocess.run(["chown", "-R", f"{lay.grader}:{lay.grader}", str(lay.course_dir), str(jupyter)],
                           check=True, capture_output=True)
            return str(lay.course_dir)

        return Action(CREATE, "course folder", str(lay.course_dir), stage=2, run=make,
                      needs=(f"account:{lay.grader}",))

    def _holdout_action(self) -> Action:
        holdout = self.layout.holdout
        if not holdout.exists():
            return Action(EXISTS, "holdout protection", str(holdout), stage=2,
                          detail="no holdout store yet: build it, then apply again")
        private = (holdout.stat().st_mode & 0o077) == 0 and (holdout.parent.stat().st_mode & 0o077) == 0
        if private and holdout.stat().st_uid == 0:
            return Action(EXISTS, "holdout protection", str(holdout), stage=2, detail="root only")

        def protect() -> str:
            os.chown(holdout.parent, 0, 0)
            holdout.parent.chmod(0o700)
            os.chown(holdout, 0, 0)
            holdout.chmod(0o600)
            return "root only (0600 in a 0700 folder)"

        return Action(CREATE, "holdout protection", str(holdout), stage=2, run=protect)

    # ------------------------------------------------------------ status
    def status(self) -> list[StatusRow]:
        servers = self._servers()
        hub = self.settings.jupyterhub
        host = socket.getfqdn() if hub.ip == "0.0.0.0" else hub.ip
        base = (hub.public_url or f"http://{host}:{hub.port}").rstrip("/")
        rows = []
        for person in self.participants:
            owner = accounts.owner_of(person.username)
            if owner != self.settings.event.id:
                rows.append(StatusRow(person.username, person.role, "no account" if owner is None else "not ours"))
                continue
            if servers is None:
                rows.append(StatusRow(person.username, person.role, "account ready",
                                      detail="hub not running (matsuri infra serve-hub)"))
                continue
            server = servers.get(person.username, {}).get("servers", {}).get("")
            state = "stopped" if not server else ("running" if server.get("ready") else "starting")
            rows.append(StatusRow(person.username, person.role, state, f"{base}/user/{person.username}/",
                                  (server or {}).get("last_activity") or ""))
        return rows

    def _servers(self) -> dict | None:
        """Users and their servers from the hub's API (read-only token), or None if it is down."""
        import requests

        lay = self.layout
        try:
            token = lay.status_token_file.read_text().strip()
            answer = requests.get(f"http://127.0.0.1:{self.settings.jupyterhub.hub_port}/hub/api/users",
                                  headers={"Authorization": f"token {token}"}, timeout=5)
            answer.raise_for_status()
        except (OSError, requests.RequestException):
            return None
        return {u["name"]: u for u in answer.json()}

    # ------------------------------------------------------------ destroy
    def teardown(self) -> Plan:
        lay, event = self.layout, self.settings.event.id
        actions = []
        for entry in sorted(pwd.getpwall(), key=lambda e: e.pw_name):
            if entry.pw_gecos == accounts.marker(event):
                actions.append(Action(DELETE, "account", entry.pw_name, entry.pw_name,
                                      run=lambda n=entry.pw_name: accounts.archive_and_remove_user(n, lay.archive)))
        for target in lay.traverse_targets():
            for directory in accounts.blocked_dirs(target):
                if accounts.has_traverse(directory, lay.group):
                    actions.append(Action(DELETE, "traverse grant", str(directory), stage=1,
                                          run=lambda d=directory: accounts.revoke_traverse(d, lay.group)))
        if accounts.group_exists(lay.group):
            actions.append(Action(DELETE, "group", lay.group, stage=1,
                                  run=lambda: accounts.remove_group(lay.group)))
        if lay.marker.is_file() and json.loads(lay.marker.read_text()).get("event") == event:
            actions.append(Action(DELETE, "state folder", str(lay.state), stage=2, run=self._clear_state,
                                  detail="keeps archive/"))
        return Plan(self.name, actions, notes=[f"homes are archived to {lay.archive} before removal"])

    def _clear_state(self) -> str:
        for item in self.layout.state.iterdir():
            if item.name == "archive":
                continue
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item)
            else:
                item.unlink()
        return f"kept {self.layout.archive}"


def _refuse(message: str):
    def run():
        raise AlreadyExists(message)
    return run
