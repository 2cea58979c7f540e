"""Real system accounts for the hub: one per participant, so files are private and nbgrader knows who.

Accounts made by the kit carry the comment "matsuri event <id>" (the GECOS field), which is how
destroy recognises them; an account without it is never touched. Password logins stay locked:
people reach their account only through the hub.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

from matsuri.errors import UsageError

PREFIX = "matsuri event "  # the GECOS field cannot hold ':'


def marker(event: str) -> str:
    return f"{PREFIX}{event}"


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def owner_of(username: str) -> str | None:
    """The event that made this account ('' if someone else made it, None if it does not exist)."""
    try:
        gecos = pwd.getpwnam(username).pw_gecos
    except KeyError:
        return None
    return gecos.removeprefix(PREFIX) if gecos.startswith(PREFIX) else ""


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def create_group(name: str) -> None:
    if not group_exists(name):
        _run("groupadd", name)


def create_user(username: str, event: str, group: str) -> str:
    """A locked-password account with a private home (0700) in the event's group."""
    _run("useradd", "--create-home", "--shell", "/bin/bash", "--comment", marker(event),
         "--groups", group, username)
    home = Path(pwd.getpwnam(username).pw_dir)
    home.chmod(0o700)
    return str(home)


def archive_and_remove_user(username: str, archive_dir: Path) -> str:
    """Keep a tarball of the home, then remove the account and its home."""
    home = Path(pwd.getpwnam(username).pw_dir)
    archive_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    archive = archive_dir / f"{username}.tar.gz"
    if home.is_dir():
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(home, arcname=username)
        archive.chmod(0o600)
    try:
        _run("userdel", "--remove", username)
    except subprocess.CalledProcessError as error:
        if "currently used by process" in (error.stderr or ""):
            raise UsageError(f"{username} still has running processes: stop the hub "
                             "(and any server it started) before destroy.") from None
        raise
    return f"home archived to {archive}"


def remove_group(name: str) -> None:
    if group_exists(name):
        _run("groupdel", name)


def blocked_dirs(path: Path) -> list[Path]:
    """Directories on the way to `path` that other accounts may not pass through (no o+x)."""
    out = []
    for parent in [*reversed(Path(path).resolve().parents)]:
        if parent.exists() and not os.stat(parent).st_mode & stat.S_IXOTH:
            out.append(parent)
    return out


def grant_traverse(directory: Path, group: str) -> None:
    """Let the event's group pass through (x only: no listing, no reading) with an ACL entry."""
    if not shutil.which("setfacl"):
        raise UsageError(f"{directory} is closed to other accounts and `setfacl` is missing: install "
                         "the 'acl' package (scripts/setup.sh does) or install the kit somewhere "
                         "participants can reach, such as /opt/matsuri.")
    _run("setfacl", "-m", f"g:{group}:x", str(directory))


def revoke_traverse(directory: Path, group: str) -> None:
    if shutil.which("setfacl") and directory.exists():
        subprocess.run(["setfacl", "-x", f"g:{group}", str(directory)], capture_output=True)


def has_traverse(directory: Path, group: str) -> bool:
    if not shutil.which("getfacl"):
        return False
    listing = subprocess.run(["getfacl", "-p", str(directory)], capture_output=True, text=True).stdout
    return f"group:{group}:--x" in listing
