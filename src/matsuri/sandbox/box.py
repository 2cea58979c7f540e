"""One sandbox: a run folder, a cgroup, an identity, and the command that starts code inside.

    sh (joins the run's cgroup, sets file-size limits)
      └ setpriv (becomes the team's user; no capabilities, no new privileges)
          └ bwrap (own network, PID, mount, IPC and UTS namespaces; dies with its parent)
              └ the participant's kernel or program

Inside, the system (/usr, /etc), Python and the kit are read-only; /tmp and /dev/shm are small
private tmpfs; the run folder (a size-capped tmpfs mounted by root) is the only writable place
that outlives a process; nothing else of the host is there at all: no organiser files, no event
state, no other team's workspace, no /proc of other processes, no network (not even the host's
loopback). When the run ends, its PID namespace ends every process in it, and `close()` empties
the cgroup anyway. Root never writes into a folder the sandbox can write: the run folder's parent
is root's, and files are handed over or taken out by descriptor, without following links.

A run left behind by a crashed organiser (its owner process is gone) is cleaned up by the next
`open()` on the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from matsuri.errors import MatsuriError
from matsuri.sandbox.cgroups import RunGroup, Usage, layout
from matsuri.sandbox.identities import Identity

RUNS_ENV = "MATSURI_RUNS"
DEFAULT_RUNS = Path("/var/lib/matsuri/runs")
SYSTEM = ("/usr", "/etc", "/bin", "/lib", "/lib32", "/lib64", "/sbin")
PASS_THROUGH = ("LANG", "LC_ALL", "TZ")


class SandboxUnavailable(MatsuriError):
    """This machine cannot confine participant code; the message names what is missing."""

    exit_code = 2


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 4096      # the whole run, children and tmpfs files included
    max_processes: int = 256
    cpu_weight: int = 100      # relative share of the CPU (cgroup v2 scale: 100 is the default)
    file_mb: int = 2048        # the largest single file
    folder_mb: int = 1024      # the run folder in total
    tmp_mb: int = 256          # /tmp and /dev/shm, each
    threads: int = 2           # for numeric libraries


@dataclass(frozen=True)
class Spec:
    """What a sandbox is made of: whose it is, its limits, and what it may see."""

    user: str
    limits: Limits = field(default_factory=Limits)
    read_only: tuple[str, ...] = ()   # host paths visible read-only at the same path
    writable: tuple[str, ...] = ()    # host folders (owned by `user`) writable at the same path
    env: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Spec:
        return cls(data["user"], Limits(**data["limits"]), tuple(data["read_only"]),
                   tuple(data["writable"]), dict(data["env"]))


def runs_root() -> Path:
    return Path(os.environ.get(RUNS_ENV) or DEFAULT_RUNS)


def _start_time(pid: int) -> str | None:
    """A process's start time (clock ticks since boot): pid plus this tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def this_process() -> str:
    """This process as "pid:start time", for records that must outlive it (who runs a run)."""
    return f"{os.getpid()}:{_start_time(os.getpid())}"


def still_running(process: str | None) -> bool:
    """Whether the process recorded by `this_process()` is still the one running."""
    pid, _, started = (process or "").partition(":")
    return pid.isdigit() and _start_time(int(pid)) == started


def _private_folder(path: Path, mode: int) -> None:
    """Create `path` (and its parents) as root's, and refuse one someone else made or linked."""
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    info = os.lstat(path)
    if not os.path.isdir(path) or os.path.islink(path) or info.st_uid != 0 or info.st_mode & 0o022:
        raise SandboxUnavailable(
            f"{path} is not a folder owned by root and closed to others, so sandboxes cannot be "
            f"made in it safely. Remove it (or set {RUNS_ENV} to another folder) and try again.")


class Sandbox:
    """A run of participant code; use as a context manager (`with Sandbox(spec) as box:`)."""

    def __init__(self, spec: Spec, label: str = "run"):
        self.spec = spec
        self.identity = Identity.of(spec.user)
        self.name = f"{label}-{secrets.token_hex(4)}"
        self.dir = runs_root() / self.name
        self.work = self.dir / "work"          # the run folder: output_dir and the kernel's cwd
        self.ipc = self.dir / "ipc"            # the kernel's sockets
        self.group: RunGroup | None = None
        self.usage = Usage(False, False)

    # --- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> Sandbox:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @classmethod
    def attach(cls, spec: Spec, folder: Path) -> Sandbox:
        """A sandbox another process of this machine opened (and will close), by its run folder:
        to start processes in it and find them, never to close it."""
        box = cls(spec)
        box.name, box.dir = folder.name, folder
        box.work, box.ipc = folder / "work", folder / "ipc"
        record = json.loads((folder / "sandbox.json").read_text(encoding="utf-8"))
        box.group = RunGroup.from_record(record["cgroup"])
        return box

    def open(self) -> Sandbox:
        require()
        _private_folder(runs_root(), 0o711)
        reap()
        self.dir.mkdir(mode=0o711)
        try:
            limits = self.spec.limits
            self.group = layout().create(f"matsuri-{self.name}", limits.memory_mb,
                                         limits.max_processes, limits.cpu_weight)
            self._record()
            self.work.mkdir(mode=0o700)
            _mount_tmpfs(self.work, limits.folder_mb, self.identity)
            self.ipc.mkdir(mode=0o700)
            os.chown(self.ipc, self.identity.uid, self.identity.gid, follow_symlinks=False)
            _check_reachable(self.identity.user, (*_python_paths(), *self.spec.read_only,
                                                  *self.spec.writable))
        except BaseException:
            self.close()
            raise
        return self

    def _record(self) -> None:
        record = {"owner": this_process(), "cgroup": self.group.describe(), "user": self.identity.user}
        (self.dir / "sandbox.json").write_text(json.dumps(record), encoding="utf-8")

    def end_processes(self) -> Usage:
        """Stop everything still running inside; what the run hit is kept in `self.usage`."""
        if self.group is not None:
            self.group.kill_all()
            self.usage = self.group.usage()
        return self.usage

    def close(self) -> None:
        """End every process of the run and remove all it had: cgroup, run folder, sockets."""
        self.end_processes()
        _remove_run(self.dir, self.group)
        self.group = None

    # --- what runs inside -----------------------------------------------------------------
    def host_pid(self, inner: int) -> int | None:
        """The host pid of the process that is `inner` inside the sandbox's PID namespace."""
        for pid in self.group.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("NSpid:") and int(line.split()[-1]) == inner:
                        return pid
        return None

    def hand_over(self, path: Path) -> None:
        """Give a file root wrote in the run's own (root-owned) folder to the run's user, read-only."""
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            os.fchown(fd, self.identity.uid, self.identity.gid)
            os.fchmod(fd, 0o400)
        finally:
            os.close(fd)

    def bound_below(self, folder: str) -> set[str]:
        """Names directly in `folder` (inside) that lead to something bound in from the host."""
        paths = (*_python_paths(), *self.spec.read_only, *self.spec.writable, str(self.work),
                 str(self.ipc))
        return {Path(p).relative_to(folder).parts[0] for p in paths
                if Path(p).is_relative_to(folder) and Path(p) != Path(folder)}

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The whole environment inside: an allow-list, never the organiser's shell."""
        threads = str(self.spec.limits.threads)
        env = {k: v for k, v in os.environ.items() if k in PASS_THROUGH}
        env |= {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
            "HOME": "/tmp", "LANG": env.get("LANG", "C.UTF-8"), "MPLCONFIGDIR": "/tmp/.matplotlib",
            "PLOOMBER_STATS_ENABLED": "false", "PYTHONNOUSERSITE": "1", "MALLOC_ARENA_MAX": "2",
            "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
        }
        return env | self.spec.env | (extra or {})

    def command(self, argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
                read_only: tuple[str, ...] = ()) -> list[str]:
        """The argv that runs `argv` inside this sandbox (see the module docstring)."""
        limits, who = self.spec.limits, self.identity
        joins = " && ".join(f"echo $$ > {shlex.quote(str(p))}" for p in self.group.join_paths())
        blocks = limits.file_mb * 2048  # sh counts file sizes in 512-byte blocks
        script = f'{joins} && ulimit -f {blocks} && ulimit -c 0 && exec "$@"'
        setpriv = [_tool("setpriv"), f"--reuid={who.uid}", f"--regid={who.gid}", "--clear-groups",
                   "--inh-caps=-all", "--"]
        return ["/bin/sh", "-c", script, "matsuri-sandbox", *setpriv, _tool("bwrap"),
                *self._bwrap_args(cwd or self.work, self.environment(env), read_only), "--", *argv]

    def _bwrap_args(self, cwd: Path, env: dict[str, str], read_only: tuple[str, ...]) -> list[str]:
        tmp = str(self.spec.limits.tmp_mb * 2**20)
        args = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                "--new-session", "--hostname", "matsuri-sandbox"]
        for path in SYSTEM:
            if os.path.islink(path):  # merged /usr: /bin -> usr/bin
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        args += ["--proc", "/proc", "--dev", "/dev", "--size", tmp, "--tmpfs", "/tmp",
                 "--size", tmp, "--tmpfs", "/dev/shm"]
        for path in (*_python_paths(), *self.spec.read_only, *read_only):
            args += ["--ro-bind", path, path]
        for path in (self.work, self.ipc, *self.spec.writable):
            args += ["--bind", str(path), str(path)]
        args += ["--clearenv"]
        for key, value in sorted(env.items()):
            args += ["--setenv", key, value]
        return args + ["--chdir", str(cwd)]


def _tool(name: str) -> str:
    found = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
    if not found:
        raise SandboxUnavailable(f"`{name}` is missing; {INSTALL}")
    return found


@cache
def _python_paths() -> tuple[str, ...]:
    """This Python, its environment and the kit, read-only; nothing else of the checkout."""
    import matsuri

    kit = Path(matsuri.__file__).resolve().parent
    paths = [Path(sys.prefix), Path(sys.base_prefix), kit]
    keep: list[Path] = []
    for path in sorted({p.resolve() for p in paths}, key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(k) for k in keep) and not any(path.is_relative_to(s) for s in SYSTEM):
            keep.append(path)
    return tuple(str(p) for p in keep)


@cache
def _check_reachable(user: str, paths: tuple[str, ...]) -> None:
    """bubblewrap binds what it sees as the sandbox's user: say which folder is closed, and how
    to open it, before a kernel fails to start with bubblewrap's own words."""
    closed = []
    who = Identity.of(user)
    for path in paths:
        probe = subprocess.run([_tool("setpriv"), f"--reuid={who.uid}", f"--regid={who.gid}",
                                "--clear-groups", "--", "/usr/bin/test", "-e", path], capture_output=True)
        if probe.returncode != 0:
            closed.append(path)
    if closed:
        from matsuri.sandbox.identities import closed_folders

        above = " ".join(str(p) for p in closed_folders()) or "a folder above them"
        raise SandboxUnavailable(
            f"The sandbox user '{user}' cannot reach {', '.join(closed)}. Install Python and the kit "
            f"where every user can (under /usr/local or /opt), keep the warehouse in a folder others "
            f"may pass through, or let the user pass: setfacl -m u:{user}:x {above}")


def _mount_tmpfs(path: Path, size_mb: int, who: Identity) -> None:
    options = f"size={size_mb}m,mode=0700,uid={who.uid},gid={who.gid},nosuid,nodev"
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "matsuri-run", str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SandboxUnavailable(f"Could not mount the run folder ({proc.stderr.strip()}); the "
                                 "sandbox needs root with the right to mount (CAP_SYS_ADMIN).")


def _is_mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
        return any(line.split()[4] == target for line in mounts)


def _remove_run(folder: Path, group: RunGroup | None) -> None:
    if group is not None:
        group.remove()
    work = folder / "work"
    if _is_mounted(work):
        if subprocess.run(["umount", str(work)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(work)], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)  # fd-based on Linux: safe against planted links


def reap() -> int:
    """Clean up runs whose owner process is gone (a crash, kill -9); returns how many."""
    reaped = 0
    root = runs_root()
    for folder in root.iterdir() if root.is_dir() else ():
        try:
            record = json.loads((folder / "sandbox.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = None
        if record and still_running(record.get("owner")):
            continue  # its owner is still running it
        if record is None and folder.stat().st_mtime > time.time() - 60:
            continue  # being created right now
        _remove_run(folder, RunGroup.from_record(record["cgroup"]) if record else None)
        reaped += 1
    return reaped


INSTALL = ("install bubblewrap and util-linux (Debian: `apt-get install bubblewrap util-linux`; "
           "`make setup` does it) and run the command as root.")


@cache
def require() -> None:
    """Raise SandboxUnavailable naming what this machine lacks; checked once per process."""
    if sys.platform != "linux":
        raise SandboxUnavailable("Participant code can only be sandboxed on Linux (bubblewrap and "
                                 "cgroups). Run the event on a Linux machine, or pass --no-sandbox "
                                 "for a trusted rehearsal.")
    if os.geteuid() != 0:
        raise SandboxUnavailable("Running participant code safely needs root (to make the run's "
                                 "cgroup, folder and user switch). Run this command with sudo.")
    _tool("bwrap")
    _tool("setpriv")
    if layout() is None:
        raise SandboxUnavailable(
            "No usable cgroups: neither cgroup v1 (memory and pids hierarchies under /sys/fs/cgroup) "
            "nor cgroup v2 with the memory and pids controllers is writable here, so a run's memory "
            "and processes could not be limited as a whole. Run on a machine (or a privileged "
            "container) with cgroups mounted read-write.")
    probe = subprocess.run(
        [_tool("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups", "--", _tool("bwrap"),
         "--unshare-all", "--unshare-user", "--die-with-parent", "--ro-bind", "/", "/", "--", "true"],
        capture_output=True, text=True)
    if probe.returncode != 0:
        raise SandboxUnavailable(
            "bubblewrap cannot create namespaces for an unprivileged user here "
            f"({probe.stderr.strip() or 'exit ' + str(probe.returncode)}). Allow unprivileged user "
            "namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu also "
            "kernel.apparmor_restrict_unprivileged_userns=0), or run in a container started with "
            "them allowed.")
