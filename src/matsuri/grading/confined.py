"""Grading kernels inside a sandbox: one per grading worker, emptied between notebooks.

A learner's notebook runs in its grading kernel, so it is participant code: it must not read the
course's sources, other learners' work or the gradebook, nor reach the network. Each worker opens
one sandbox (`matsuri.sandbox`) as the grading identity and starts its kernel zygote inside it
(forkserver.py), so kernels are still forked warm. Between two notebooks the worker ends every
process in the sandbox but bubblewrap and the zygote, and empties the run folder, /tmp and
/dev/shm: nothing one learner's notebook leaves behind (a daemon, an IPython startup file, a
planted module) reaches the next. The zygote is not dumpable, so kernels (same user) cannot
write into its memory. Each notebook's folder and its private copy of the grading key are copied
into the run folder by root while only the zygote runs there.

Kernels talk to nbgrader over IPC sockets in the run's own folder (the sandbox has no network).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

from matsuri.sandbox.box import Limits, Sandbox, Spec

USER_ENV = "MATSURI_GRADING_USER"
DEFAULT_USER = "matsuri-learner"


def grading_user() -> str:
    return os.environ.get(USER_ENV) or DEFAULT_USER


def sandbox(warehouse: Path, memory_mb: int = 3072) -> Sandbox:
    """The worker's sandbox (not yet open): the grading identity, the warehouse read-only, and
    the theme specs (public; the kit's submission writers read them, as in the hackathon's own
    sandbox, hackathon/runner.notebook_spec)."""
    from matsuri import theme_spec
    from matsuri.sandbox import identities

    user = grading_user()
    if not identities.exists(user):
        identities.create(user)
    env = {"MATSURI_WAREHOUSE": str(warehouse)}
    env |= {k: v for k, v in os.environ.items() if k == "MATSURI_LANG"}  # feedback's language
    read_only = [str(warehouse)]
    templates = theme_spec.templates_dir().resolve()
    if templates.is_dir():
        read_only.append(str(templates))
        env[theme_spec.TEMPLATES_ENV] = str(templates)
    spec = Spec(user, Limits(memory_mb=memory_mb, threads=1), read_only=tuple(read_only), env=env)
    return Sandbox(spec, "grading")


class Zygote:
    """The host's view of a sandboxed zygote: which processes to keep, how to reach its files."""

    def __init__(self, box: Sandbox, outer_pid: int):
        import psutil

        self.box = box
        chain = [psutil.Process(outer_pid), *psutil.Process(outer_pid).children(recursive=True)]
        self.keep = {p.pid for p in chain}  # bubblewrap (outer and init) and the zygote
        # The zygote itself, not bubblewrap (whose command line names it too): the one that runs
        # Python, in the sandbox's own mount namespace (its /tmp is the sandbox's, not ours).
        self.python = next(p.pid for p in chain
                           if p.cmdline()[1:3] == ["-m", "matsuri.grading.forkserver"]
                           and _mount_namespace(p.pid) != _mount_namespace(os.getpid()))
        self.notebook = 0

    def reset(self) -> None:
        """End everything but the zygote, and empty the run folder, /tmp and /dev/shm."""
        deadline = time.monotonic() + 10
        while (left := self.box.group.pids() - self.keep) and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
        _empty(self.box.work)
        if _mount_namespace(self.python) != _mount_namespace(os.getpid()):  # never the host's /tmp
            inside = Path(f"/proc/{self.python}/root")
            for folder in ("/tmp", "/dev/shm"):  # but not what is bound in below them
                _empty(inside / folder.lstrip("/"), keep=self.box.bound_below(folder))

    def prepare(self, cwd: Path, keys: Path | None) -> tuple[Path, Path | None]:
        """Copy a notebook's folder (and its key copy) in; their paths as the kernel sees them."""
        self.notebook += 1
        target = self.box.work / f"notebook-{self.notebook}"
        shutil.copytree(cwd, target, symlinks=True)
        key_copy = None
        if keys is not None:
            key_copy = self.box.work / f"keys-{self.notebook}"
            shutil.copytree(keys, key_copy, symlinks=True)
        who = self.box.identity
        for path in (target, *target.rglob("*"), *((key_copy, *key_copy.rglob("*")) if key_copy else ())):
            os.chown(path, who.uid, who.gid, follow_symlinks=False)
        return target, key_copy


def _mount_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _empty(folder: Path, keep: set[str] = frozenset()) -> None:
    """Remove what is in `folder` but the names in `keep` (root, while nothing of the sandbox's
    user runs but the zygote)."""
    try:
        entries = [e for e in os.scandir(folder) if e.name not in keep]
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
