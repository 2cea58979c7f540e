"""Unprivileged system users that participant code runs as: a small pool, one user per team.

`init` makes the pool `<prefix>-1 … <prefix>-N`; a team always runs as the same member of it, so
runs of different teams cannot touch each other's files or processes even if one escaped its
namespaces (with more teams than users, teams share, and `init` says so).
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Identity:
    user: str
    uid: int
    gid: int

    @classmethod
    def of(cls, user: str) -> Identity:
        entry = pwd.getpwnam(user)
        return cls(user, entry.pw_uid, entry.pw_gid)


def pool(prefix: str, size: int) -> list[str]:
    return [f"{prefix}-{n}" for n in range(1, size + 1)]


def for_slot(prefix: str, size: int, slot: int) -> str:
    """The pool user of the team in `slot` (1 for the first team registered)."""
    return pool(prefix, size)[(slot - 1) % size]


def exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def create(user: str, attempts: int = 10) -> None:
    """A system user with no home and no login shell, only for running participants' code."""
    for attempt in range(attempts):
        proc = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", "--user-group", user],
            capture_output=True, text=True,
        )
        if proc.returncode == 0 or exists(user):
            return
        if proc.returncode != 10 or attempt == attempts - 1:  # 10: /etc/passwd busy, try again
            raise RuntimeError(proc.stderr.strip() or f"useradd exited with {proc.returncode}")
        time.sleep(0.2 * (attempt + 1))


def let_through(users: list[str]) -> list[Path]:
    """Let `users` pass through the closed folders above Python and the kit (an ACL entry each);
    returns those folders. For a Python installed in a private home folder."""
    folders = closed_folders()
    entries = ",".join(f"u:{u}:x" for u in users)
    for folder in folders:
        subprocess.run(["setfacl", "-m", entries, str(folder)], check=True)
    return folders


def remove(user: str) -> None:
    """End the user's processes, take back its ACL entries, and delete it."""
    import psutil

    if not exists(user):
        return
    uid = pwd.getpwnam(user).pw_uid
    for proc in psutil.process_iter(["uids"]):
        if proc.info["uids"] and proc.info["uids"].real == uid:
            proc.kill()
    for folder in closed_folders():
        subprocess.run(["setfacl", "-x", f"u:{user}", str(folder)], capture_output=True)
    for _ in range(10):  # userdel fails while /etc/passwd is busy
        if subprocess.run(["userdel", user], capture_output=True).returncode in (0, 6):
            return
        time.sleep(0.3)


def ensure_pool(prefix: str, size: int) -> list[str]:
    """Create the pool's missing users (root only); returns the names created."""
    made = [user for user in pool(prefix, size) if not exists(user)]
    for user in made:
        create(user)
    return made


def closed_folders() -> list[Path]:
    """Folders above this Python, its environment or the kit that other users cannot pass through.

    The sandbox binds them in read-only at the same paths, and bubblewrap, running as the team's
    user, must be able to reach them.
    """
    import matsuri

    starts = [Path(sys.executable), Path(os.path.realpath(sys.executable)), Path(sys.prefix),
              Path(sys.base_prefix), Path(matsuri.__file__).resolve()]
    folders = {p for start in starts for p in start.parents}
    return sorted(p for p in folders if p.is_dir() and not os.stat(p).st_mode & 0o001)
