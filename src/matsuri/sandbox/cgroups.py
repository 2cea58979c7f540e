"""One control group per run: memory (children included), process count and CPU weight.

Per-process limits do not bound a run: three children under a 4 GiB RLIMIT_AS used 6.3 GB, and
RLIMIT_NPROC counts per user. A cgroup counts everything the run started, and lists every process
in it, so the run can be ended as a whole. Two layouts exist:

- cgroup v1 (a hierarchy per controller, as on many containers): a folder per run under this
  process's own group in `memory`, `pids` and `cpu`;
- cgroup v2 (one unified tree, systemd machines): a folder per run under `/sys/fs/cgroup/matsuri`.

A process joins by writing its own pid to `cgroup.procs` before it starts the sandbox (see
`box.py`), so its children are born inside.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Usage:
    """What a run hit, read from the group's counters before it is removed."""

    out_of_memory: bool
    too_many_processes: bool


class RunGroup:
    """The folders of one run's cgroup (one per controller on v1, one on v2)."""

    version = 0

    def __init__(self, folders: dict[str, Path]):
        self.folders = folders  # controller (or "unified") -> folder

    # --- set up ---------------------------------------------------------------------------
    @classmethod
    def create(cls, name: str, memory_mb: int, max_processes: int, cpu_weight: int) -> RunGroup:
        raise NotImplementedError

    def join_paths(self) -> list[Path]:
        """The `cgroup.procs` files a starting process writes its pid to."""
        return [folder / "cgroup.procs" for folder in dict.fromkeys(self.folders.values())]

    # --- during and after -----------------------------------------------------------------
    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.join_paths():
            with contextlib.suppress(OSError):
                found |= {int(p) for p in path.read_text().split()}
        return found

    def kill_all(self, timeout: float = 10.0) -> bool:
        """SIGKILL every process in the group until none is left; True when it is empty."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                return True
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
        return not self.pids()

    def usage(self) -> Usage:
        raise NotImplementedError

    def has_room(self, memory_mb: int, processes: int) -> bool:
        """Is there this much memory and this many more processes (tasks) left under its limits?"""
        try:
            memory, tasks = self._left()
        except (OSError, ValueError):
            return False
        return memory >= memory_mb * 2**20 and tasks >= processes

    def _left(self) -> tuple[int, int]:
        """(bytes, tasks) left below the memory and process limits."""
        raise NotImplementedError

    def remove(self) -> None:
        """Kill what is left and remove the folders (a cgroup folder goes only when empty)."""
        self.kill_all()
        for folder in dict.fromkeys(self.folders.values()):
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # processes still exiting
                    time.sleep(0.02)

    def describe(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.folders.items()}

    @classmethod
    def from_record(cls, record: dict[str, str]) -> RunGroup:
        group = CgroupV2 if "unified" in record else CgroupV1
        return group({k: Path(v) for k, v in record.items()})


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _limit(path: Path) -> int:
    """A limit file's value ("max": none)."""
    value = path.read_text().strip()
    return 2**62 if value == "max" else int(value)


def _read_int_field(path: Path, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


class CgroupV1(RunGroup):
    version = 1
    CONTROLLERS = ("memory", "pids", "cpu")

    @staticmethod
    def available() -> bool:
        return (ROOT / "memory" / "memory.limit_in_bytes").exists() and (ROOT / "pids").is_dir()

    @staticmethod
    def _own(controller: str) -> Path:
        """This process's group in one v1 hierarchy (nesting keeps runs inside our own limits)."""
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            if controller in names.split(","):
                return ROOT / controller / path.lstrip("/")
        return ROOT / controller

    @classmethod
    def create(cls, name, memory_mb, max_processes, cpu_weight):
        folders = {}
        group = cls(folders)
        try:
            for controller in cls.CONTROLLERS:
                if not (ROOT / controller).is_dir():
                    continue
                folder = cls._own(controller) / name
                folder.mkdir()
                folders[controller] = folder
            limit = str(memory_mb * 2**20)
            _write(folders["memory"] / "memory.limit_in_bytes", limit)
            swap = folders["memory"] / "memory.memsw.limit_in_bytes"
            if swap.exists():  # memory plus swap: swapping out does not escape the limit
                _write(swap, limit)
            _write(folders["pids"] / "pids.max", str(max_processes))
            if "cpu" in folders:  # v1 shares: 1024 is the default weight (v2's 100)
                _write(folders["cpu"] / "cpu.shares", str(max(2, cpu_weight * 1024 // 100)))
        except BaseException:
            group.remove()
            raise
        return group

    def usage(self) -> Usage:
        memory = self.folders.get("memory")
        pids = self.folders.get("pids")
        oom = bool(memory and _read_int_field(memory / "memory.oom_control", "oom_kill"))
        if memory and not oom:  # kernels without the oom_kill counter: the limit was hit
            with contextlib.suppress(OSError, ValueError):
                oom = int((memory / "memory.max_usage_in_bytes").read_text()) >= \
                    int((memory / "memory.limit_in_bytes").read_text()) - 2**20
        forks = bool(pids and _read_int_field(pids / "pids.events", "max"))
        return Usage(oom, forks)

    def _left(self) -> tuple[int, int]:
        memory, pids = self.folders["memory"], self.folders["pids"]
        return (_limit(memory / "memory.limit_in_bytes") - int((memory / "memory.usage_in_bytes").read_text()),
                _limit(pids / "pids.max") - int((pids / "pids.current").read_text()))


class CgroupV2(RunGroup):
    version = 2
    PARENT = ROOT / "matsuri"

    @staticmethod
    def available() -> bool:
        controllers = ROOT / "cgroup.controllers"
        return controllers.exists() and {"memory", "pids"} <= set(controllers.read_text().split())

    @classmethod
    def create(cls, name, memory_mb, max_processes, cpu_weight):
        wanted = [c for c in ("memory", "pids", "cpu") if c in (ROOT / "cgroup.controllers").read_text().split()]
        cls.PARENT.mkdir(exist_ok=True)
        for folder in (ROOT, cls.PARENT):  # let the runs below use the controllers
            _write(folder / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))
        folder = cls.PARENT / name
        folder.mkdir()
        group = cls({"unified": folder})
        try:
            _write(folder / "memory.max", str(memory_mb * 2**20))
            if (folder / "memory.swap.max").exists():
                _write(folder / "memory.swap.max", "0")
            _write(folder / "pids.max", str(max_processes))
            if (folder / "cpu.weight").exists():
                _write(folder / "cpu.weight", str(cpu_weight))
        except BaseException:
            group.remove()
            raise
        return group

    def kill_all(self, timeout: float = 10.0) -> bool:
        kill = self.folders["unified"] / "cgroup.kill"  # Linux 5.14+: the kernel kills them all
        with contextlib.suppress(OSError):
            if kill.exists():
                _write(kill, "1")
        return super().kill_all(timeout)

    def usage(self) -> Usage:
        folder = self.folders["unified"]
        return Usage(bool(_read_int_field(folder / "memory.events", "oom_kill")),
                     bool(_read_int_field(folder / "pids.events", "max")))

    def _left(self) -> tuple[int, int]:
        folder = self.folders["unified"]
        return (_limit(folder / "memory.max") - int((folder / "memory.current").read_text()),
                _limit(folder / "pids.max") - int((folder / "pids.current").read_text()))


def layout() -> type[RunGroup] | None:
    """The cgroup layout this machine offers to root, or None."""
    if CgroupV1.available():
        return CgroupV1
    if CgroupV2.available():
        return CgroupV2
    return None
