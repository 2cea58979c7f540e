"""Real participant accounts for tests and benchmarks: made with a home and a shell, allowed
through to this Python (as an install under /opt would be), removed with everything they left."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def participant_accounts(count: int) -> Iterator[list[str]]:
    from matsuri.sandbox import identities

    tag = f"mtp{os.getpid()}{secrets.token_hex(2)}"
    names = [f"{tag}{chr(ord('a') + i)}" for i in range(count)]
    try:
        for name in names:
            subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True)
        identities.let_through(names)
        yield names
    finally:
        for name in names:
            with contextlib.suppress(KeyError):
                home = Path(pwd.getpwnam(name).pw_dir)
                identities.remove(name)  # its processes, its ACL entries, the account
                shutil.rmtree(home, ignore_errors=True)


def run_as(name: str, *command: str, **kwargs) -> subprocess.Popen:
    """`command` as that account (its groups included), from its home, with a plain environment."""
    home = pwd.getpwnam(name).pw_dir
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "COLUMNS": "250", "HOME": home}
    return subprocess.Popen(["runuser", "-u", name, "--", *command], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=home, env=env, **kwargs)


def give(name: str, source: Path) -> Path:
    """A copy of `source` in the account's home, owned by it."""
    account = pwd.getpwnam(name)
    target = Path(account.pw_dir) / source.name
    shutil.copyfile(source, target)
    os.chown(target, account.pw_uid, account.pw_gid)
    return target
