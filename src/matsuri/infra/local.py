"""`--target local`: one workspace folder per participant on this machine (a workshop of ten).

Each folder carries a marker naming the event (the learner runtime finds the workspace by it and
keeps its activity log in `.matsuri/`, switched off for whoever participants.csv marks
`activity_log = no`) and gets the course release (`matsuri course release`) in `<course>/`;
applying again adds lessons released since, copying only files a workspace does not have, so a
learner's edited notebooks are never replaced. Destroy removes only marked folders, and archives
each one first so nobody's work is lost.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from datetime import UTC, datetime
from pathlib import Path

from matsuri import paths
from matsuri.checks import activity
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
    Report,
    StatusRow,
    copy_missing,
    missing_files,
)
from matsuri.infra.settings import course_release

MARKER = ".matsuri-event.json"


class LocalProvisioner(Provisioner):
    name = "local"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.apply_notes: list[str] = []

    @property
    def root(self) -> Path:
        root = Path(self.settings.local.root)
        return root if root.is_absolute() else paths.project_root() / root

    def workspace(self, username: str) -> Path:
        return self.root / "workspaces" / username

    def _owner(self, folder: Path) -> str | None:
        try:
            return json.loads((folder / MARKER).read_text())["event"]
        except (OSError, ValueError, KeyError):
            return None

    @property
    def release(self) -> Path:
        return course_release(self.settings.event.course)

    def release_for(self, person) -> Path:
        """The release in the language this person reads (participants.csv), else the course's."""
        return course_release(self.settings.event.course, person.language)

    def plan(self) -> Plan:
        actions = []
        course = self.settings.event.course
        for person in self.participants:
            folder = self.workspace(person.username)
            if not folder.exists():
                actions.append(Action(CREATE, "workspace", person.username, person.username,
                                      str(folder), run=lambda p=person: self._create(p)))
            elif self._owner(folder) != self.settings.event.id:
                actions.append(Action(CONFLICT, "workspace", person.username, person.username,
                                      run=lambda f=folder: self._refuse(f)))
            elif missing := missing_files(self.release_for(person), folder / course):
                lessons = sorted({f.parts[0] for f in missing})
                actions.append(Action(UPDATE, "workspace", person.username, person.username,
                                      f"add {', '.join(lessons)} ({len(missing)} released file(s))",
                                      run=lambda p=person, m=missing: self._add(p, m)))
            else:
                actions.append(Action(EXISTS, "workspace", person.username, person.username, str(folder)))
        self.apply_notes = []
        if not self.release.is_dir():
            self.apply_notes.append(
                f"no release of the course {course} at {self.release} yet, so workspaces get no "
                f"lessons: run `matsuri course release {course}`, then apply again (it adds the "
                "lessons to every workspace)")
        return Plan(self.name, actions, notes=[f"workspaces under {self.root / 'workspaces'}",
                                               *self.apply_notes])

    def _refuse(self, folder: Path) -> None:
        raise AlreadyExists(f"{folder} exists but was not made by event {self.settings.event.id}; "
                            "move it away or rename the participant.")

    def _create(self, person) -> str:
        folder = self.workspace(person.username)
        staging = folder.with_name(f".{folder.name}.creating")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        lessons, release = staging / self.settings.event.course, self.release_for(person)
        copy_missing(release, lessons, missing_files(release, lessons))
        marker = {"event": self.settings.event.id, "participant": person.username, "role": person.role,
                  "team": person.team, "language": person.language,
                  "created": datetime.now(UTC).isoformat(timespec="seconds")}
        (staging / MARKER).write_text(json.dumps(marker, ensure_ascii=False, indent=1))
        if not person.activity_log:  # participants.csv activity_log = no: their checks log nothing
            (staging / activity.FOLDER).mkdir(mode=0o700)
            (staging / activity.FOLDER / activity.OFF_FILE).touch()
        staging.rename(folder)  # atomic: a half-made workspace never looks finished
        return str(folder)

    def _add(self, person, missing: list[Path]) -> str:
        """Lessons released since the workspace was made: only files it does not have."""
        folder = self.workspace(person.username)
        copied = copy_missing(self.release_for(person), folder / self.settings.event.course, missing)
        return f"added {len(copied)} released file(s)"

    def apply(self, progress: bool = True) -> Report:
        report = super().apply(progress)
        added = [o.action.name for o in report.changed if o.action.kind == UPDATE]
        if added:
            self.apply_notes.append(
                f"added the lessons released since to {len(added)} existing workspace(s) "
                f"({', '.join(added[:10])}{' …' if len(added) > 10 else ''}); files already in a "
                "workspace were left as they are")
        return report

    def status(self) -> list[StatusRow]:
        rows = []
        for person in self.participants:
            folder = self.workspace(person.username)
            ours = self._owner(folder) == self.settings.event.id
            state = "ready" if ours else ("not ours" if folder.exists() else "missing")
            rows.append(StatusRow(person.username, person.role, state, folder.as_uri() if ours else "",
                                  f"cd {folder} && matsuri lab" if ours else ""))
        return rows

    def teardown(self) -> Plan:
        actions = []
        base = self.root / "workspaces"
        for folder in sorted(base.iterdir()) if base.is_dir() else []:
            if folder.is_dir() and self._owner(folder) == self.settings.event.id:
                actions.append(Action(DELETE, "workspace", folder.name, folder.name, str(folder),
                                      run=lambda f=folder: self._remove(f)))
        return Plan(self.name, actions)

    def _remove(self, folder: Path) -> str:
        archive = self.root / "archive" / f"{self.settings.event.id}-{folder.name}.tar.gz"
        archive.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(folder, arcname=folder.name)
        shutil.rmtree(folder)
        return f"archived to {archive}"
