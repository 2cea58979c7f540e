"""The drop box: where teams hand in submissions without root, and read back only their own.

Why folders and groups, not a web service: it is what nbgrader's exchange does and needs nothing
running to accept a submission (the runner may be stopped; the entry waits). The kernel enforces
who may do what, so no code of ours decides it:

    <event>/dropbox/                 root, 0711: anyone passes through, nobody lists the teams
    <event>/dropbox/<team>/          root:<team's group>, 3730 (setgid, sticky): members may add
                                     entries but not list them, nor touch another member's
    <event>/dropbox/<team>/<ticket>/ one entry: ticket.json and the files, made by a member
    <event>/dropbox/<team>/status.json   root:<group> 0640: the team's submissions, queue, limits
    <event>/public/board.json        0644: the public leaderboards, the runner's heartbeat, the
                                     open dates and the queue's length

A member writes an entry as `.<ticket>.partial/` and renames it, so the runner never sees half of
one. The runner takes entries in by descriptor (never through a link), only from a member of the
team or root. Nothing private is published: no private scores, no other team's messages.
On SageMaker, where everyone is the same OS user, the S3 exchange plays this part.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from matsuri.errors import InvalidSubmission, NotFound, UsageError
from matsuri.infra.hub.accounts import group_exists
from matsuri.sandbox.identities import exists as account_exists

TICKET_FILE = "ticket.json"
STATUS_FILE = "status.json"
BOARD_FILE = "board.json"
BOX_MODE = 0o3730
GROUP_PREFIX = "mt-"


def box_root(event_root: Path) -> Path:
    return Path(event_root) / "dropbox"


def box(event_root: Path, team: str) -> Path:
    return box_root(event_root) / team


def board_path(event_root: Path) -> Path:
    return Path(event_root) / "public" / BOARD_FILE


def team_group(team: str, event_root: Path) -> str:
    """The system group of a team's members: `mt-<team>-<event>` (the event as a short hash of
    its folder, so two events on one machine may both have a team 'red'), at most 32 characters."""
    event = hashlib.sha1(str(Path(event_root).resolve()).encode()).hexdigest()[:6]
    name = f"{GROUP_PREFIX}{team}-{event}"
    if len(name) <= 32:
        return name
    return f"{name[:23]}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


# ------------------------------------------------------------------ organiser side (root)
def prepare(event_root: Path, teams: dict[str, list[str]]) -> list[str]:
    """Make (or repair) every team's box and group, and put members with an account on this
    machine in their team's group. Returns notes for the organiser."""
    notes = []
    root = box_root(event_root)
    root.mkdir(parents=True, exist_ok=True)
    os.chown(root, 0, 0)
    root.chmod(0o711)
    public = board_path(event_root).parent
    public.mkdir(parents=True, exist_ok=True)
    public.chmod(0o755)
    for team, members in teams.items():
        folder = box(event_root, team)
        folder.mkdir(exist_ok=True)
        if folder.is_symlink() or not folder.is_dir():
            raise UsageError(f"{folder} is not a folder; remove it and run this again.")
        accounts = [m for m in members if account_exists(m)]
        without = [m for m in members if m not in accounts]
        if without:
            notes.append(f"Team '{team}': {', '.join(without)} ha{'s' if len(without) == 1 else 've'} "
                         "no account on this machine, so only the organiser can submit for them. "
                         "Name members by their user names (as in participants.csv) to let them "
                         "submit themselves.")
        if not accounts:  # no group to make: the box stays the organiser's
            os.chown(folder, 0, 0, follow_symlinks=False)
            folder.chmod(0o700)
            continue
        group = team_group(team, event_root)
        if not group_exists(group):
            subprocess.run(["groupadd", group], check=True, capture_output=True)
        os.chown(folder, 0, grp.getgrnam(group).gr_gid, follow_symlinks=False)
        folder.chmod(BOX_MODE)
        for member in accounts:
            if member not in grp.getgrnam(group).gr_mem:
                subprocess.run(["gpasswd", "-a", member, group], check=True, capture_output=True)
    return notes


def problems(event_root: Path, teams: list[str]) -> list[str]:
    """What keeps teams from handing in: a missing box, wrong owner or permissions."""
    found = []
    root = box_root(event_root)
    if not root.is_dir():
        return [f"There is no drop box at {root}: run `sudo matsuri hackathon init`."]
    for team in teams:
        folder = box(event_root, team)
        try:
            info = folder.lstat()
        except FileNotFoundError:
            found.append(f"Team '{team}' has no drop box ({folder}): run `sudo matsuri hackathon init`.")
            continue
        group = team_group(team, event_root)
        if not group_exists(group):
            found.append(f"Only the organiser can submit for team '{team}': none of its members "
                         "has an account on this machine (members are named by user name).")
            continue
        gid = grp.getgrnam(group).gr_gid
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_gid != gid \
                or stat.S_IMODE(info.st_mode) != BOX_MODE:
            found.append(f"Team '{team}''s drop box {folder} has the wrong owner or permissions "
                         f"(it should be root:{group}, mode {BOX_MODE:o}): run `sudo matsuri hackathon init`.")
    return found


@dataclass
class Entry:
    team: str
    ticket: str
    path: Path
    owner: str            # the account that made it


def pending(event_root: Path, teams: list[str]) -> list[Entry]:
    """Complete entries waiting in the boxes, oldest first."""
    found = []
    for team in teams:
        folder = box(event_root, team)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for item in os.scandir(folder):
                if item.name.startswith(".") or item.name == STATUS_FILE:
                    continue
                info = item.stat(follow_symlinks=False)
                owner = _user_name(info.st_uid)
                found.append((info.st_mtime, Entry(team, item.name, Path(item.path), owner)))
    return [entry for _, entry in sorted(found, key=lambda pair: pair[0])]


def read_entry(entry: Entry, max_bytes: int) -> tuple[dict, int]:
    """Open an entry by descriptor (a link is refused) and check who made it; returns the ticket
    and the open folder descriptor (the caller closes it)."""
    from matsuri.sandbox.intake import open_folder

    with contextlib.ExitStack() as stack:
        fd = stack.enter_context(open_folder(entry.path, "The drop box entry"))
        info = os.fstat(fd)
        if info.st_uid != 0 and not member_of(info.st_uid, entry.team, entry.path.parents[2]):
            raise InvalidSubmission(
                f"This entry was made by '{entry.owner}', who is not a member of team "
                f"'{entry.team}', so it was not accepted. Submit from your own team's account.")
        ticket = _read_ticket(fd, max_bytes)
        kept = os.dup(fd)
    return ticket, kept


def _read_ticket(folder: int, max_bytes: int) -> dict:
    try:
        info = os.stat(TICKET_FILE, dir_fd=folder, follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode) or info.st_size > 64_000:
            raise OSError
        fd = os.open(TICKET_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
        with os.fdopen(fd, "rb") as f:
            ticket = json.loads(f.read(64_001))
        if not isinstance(ticket, dict) or ticket.get("kind") not in ("notebook", "file", "folder") \
                or not isinstance(ticket.get("name"), str):
            raise ValueError
    except (OSError, ValueError):
        raise InvalidSubmission(
            "The drop box entry has no readable ticket (it was not made by `matsuri hackathon "
            "submit`), so it was not accepted. Submit with `matsuri hackathon submit` or the "
            "notebook's submit button.") from None
    return ticket


def member_of(uid: int, team: str, event_root: Path) -> bool:
    try:
        user = pwd.getpwuid(uid)
        group = grp.getgrnam(team_group(team, event_root))
    except KeyError:
        return False
    return user.pw_gid == group.gr_gid or user.pw_name in group.gr_mem


def remove_entry(entry: Entry) -> None:
    shutil.rmtree(entry.path, ignore_errors=True)  # fd-based on Linux: never follows a link out


def publish_json(path: Path, data: dict, group: str | None) -> None:
    """Write JSON whole (rename into place): for everyone (group None), or for root and the
    team's group (root alone while the team has no group)."""
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    partial.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    if group is None:
        partial.chmod(0o644)
    elif group_exists(group):
        os.chown(partial, 0, grp.getgrnam(group).gr_gid)
        partial.chmod(0o640)
    else:
        partial.chmod(0o600)
    os.replace(partial, path)


# ------------------------------------------------------------------ participant side (no root)
def my_team(event_root: Path, board: dict, team: str | None = None) -> str:
    """The team of whoever runs this: the one named, else the one whose group this account is in."""
    teams = board.get("teams", {})
    mine = [t for t, info in teams.items() if _in_group(info["group"])]
    return choose_team(teams, mine, team, os.geteuid() == 0,
                       "Your account is not in any team of this event, so there is nowhere to "
                       "submit. Ask the organisers to add you (by your user name) to your team.")


def choose_team(teams, mine: list[str], asked: str | None, anyone: bool, in_none: str) -> str:
    """The team asked for (if one of `mine`, or `anyone` may be asked for), else the only one of
    `mine`; `in_none` says what to do when the participant is in no team."""
    if asked:
        if asked not in teams:
            raise NotFound(f"There is no team '{asked}' in this event. Teams: {', '.join(teams) or '(none)'}.")
        if asked not in mine and not anyone:
            raise UsageError(f"You are not a member of team '{asked}', so you cannot submit for it"
                             + (f"; your team is '{mine[0]}'." if mine else "."))
        return asked
    if len(mine) == 1:
        return mine[0]
    if not mine:
        raise UsageError(in_none)
    raise UsageError(f"You are in several teams ({', '.join(mine)}); say which with --team.")


def drop(event_root: Path, team: str, source: Path, kind: str, files: list[str]) -> str:
    """Hand `source` in: copy it into a new entry of the team's box and return its ticket.
    `files` are the names a folder (or a CSV, as the first) may hand in."""
    folder = box(event_root, team)
    ticket = secrets.token_hex(8)
    partial = folder / f".{ticket}.partial"
    try:
        partial.mkdir(mode=0o750)
    except PermissionError:
        raise UsageError(f"You cannot write to team '{team}''s drop box ({folder}). Ask the "
                         "organisers to run `sudo matsuri hackathon init`, then log in again.") from None
    except FileNotFoundError:
        raise NotFound(f"Team '{team}' has no drop box yet ({folder}). Ask the organisers to run "
                       "`sudo matsuri hackathon init`.") from None
    try:
        if kind == "notebook":
            shutil.copyfile(source, partial / source.name)
        elif kind == "file":
            shutil.copyfile(source, partial / files[0])
        else:
            for name in files:
                if (source / name).is_file():
                    shutil.copyfile(source / name, partial / name)
        (partial / TICKET_FILE).write_text(json.dumps({"kind": kind, "name": source.name}), encoding="utf-8")
        os.rename(partial, folder / ticket)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return ticket


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, PermissionError, ValueError):
        return None


def _in_group(group: str) -> bool:
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        return False
    return gid in os.getgroups() or gid == os.getgid()


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
