"""Grading kernels forked from a warm process instead of started from nothing.

A fresh kernel spends about 2 s of CPU importing IPython, pandas, DuckDB and jupysql before a
lesson's first cell runs: most of the cost of grading a short notebook. Each grading worker starts
one *zygote* that imports all that once; every kernel is then a fork of it. It is still one new
process per notebook, with the notebook's own environment and folder (nothing one notebook does
reaches another), but it is ready in milliseconds.

jupyter_client meets the zygote through a kernel provisioner (the `matsuri-fork` entry point, made
the default while `running()`), so nbgrader runs unchanged. A kernel command that is not
ipykernel's, a zygote that has gone or cannot fork, or a system without pidfds falls back to
jupyter_client's normal start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

PROVISIONER = "matsuri-fork"
# Not matplotlib's inline backend: imported where no kernel runs yet, it would not hook itself into
# the kernels' cells, and their charts would not show. Each kernel imports it on its first chart.
PRELOAD = ("ipykernel.kernelapp", "ipykernel.debugger", "IPython", "matplotlib.pyplot",
           "pandas", "duckdb", "sql.magic", "matsuri.checks.session")
KERNEL_MODULES = ("ipykernel_launcher", "ipykernel")
_address: str | None = None  # this process's running zygote, if any
_zygote = None  # its host-side view when it runs in a sandbox (confined.Zygote)
_kernel_folder: Path | None = None  # the last kernel's working folder, as this process sees it


# --- the zygote ----------------------------------------------------------------------------
def serve(address: str, sandboxed: bool = False, preload: tuple[str, ...] = PRELOAD) -> None:
    """Import what kernels need (`preload`), then fork one kernel per request until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the worker's to handle
    if sandboxed:  # kernels run as our user: they must not be able to write into our memory
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # as ipykernel
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # as ipykernel_launcher: the kernel adds its own folder back
    for module in preload:
        __import__(module)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(address)
    server.listen(8)
    print("ready", flush=True)
    kernels: dict[int, int] = {}  # pid -> pidfd, to stop what is left when the worker goes
    try:
        while True:
            readable, _, _ = select.select([server, sys.stdin, *kernels.values()], [], [])
            for pid, fd in [(p, f) for p, f in kernels.items() if f in readable]:
                os.waitpid(pid, 0)  # a kernel ended: reaped here, so its CPU time is accounted
                os.close(fd)
                del kernels[pid]
            if sys.stdin in readable and not sys.stdin.buffer.read1(1):
                return  # the worker closed our stdin (or died)
            if server in readable:
                connection, _ = server.accept()
                with connection:
                    request = json.loads(connection.makefile("rb").readline())
                    try:
                        pid = os.fork()
                    except OSError as error:  # out of memory or processes: start normally
                        _reply(connection, error=str(error))
                        continue
                    if pid == 0:
                        server.close()
                        _become_kernel(request)
                    try:
                        kernels[pid] = os.pidfd_open(pid)
                    except OSError as error:  # cannot watch it: stop it, the kernel starts normally
                        os.kill(pid, signal.SIGKILL)
                        os.waitpid(pid, 0)
                        _reply(connection, error=str(error))
                        continue
                    _reply(connection, pid=pid)
    finally:
        for pid in kernels:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)


def _reply(connection: socket.socket, **fields) -> None:
    connection.sendall(json.dumps(fields).encode() + b"\n")


def _become_kernel(request: dict) -> None:
    """In the forked child: take the notebook's environment and folder, run ipykernel, exit."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # undo the zygote's SIG_IGN
        os.setsid()  # its own process group, as jupyter_client starts kernels
        stdin = os.open(os.devnull, os.O_RDONLY)
        os.dup2(stdin, 0)
        os.dup2(2, 1)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the zygote's socket and other kernels' pidfds
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        import numpy

        numpy.random.seed()  # a fork would otherwise repeat the zygote's random numbers
        from ipykernel.kernelapp import IPKernelApp

        # What ipykernel_launcher would have: its argv, and the parent it read from the environment
        # when imported (here: in the zygote, before any notebook's environment existed).
        parent = ["--IPKernelApp.parent_handle=" + os.environ["JPY_PARENT_PID"]] \
            if os.environ.get("JPY_PARENT_PID") else []
        sys.argv = ["ipykernel_launcher", *request["argv"]]
        IPKernelApp.launch_instance(argv=[*request["argv"], *parent])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        # What the kernel registered to run at exit runs, as in a kernel started normally (its
        # temporary folders are removed); os._exit, because the zygote's own frames are below us.
        import atexit

        atexit._run_exitfuncs()
        os._exit(code)


@dataclass(frozen=True)
class Warm:
    """A running zygote: where it takes requests, its pid, its sandbox's view (confined.Zygote)."""

    address: str
    pid: int
    confined: Any = None


@contextlib.contextmanager
def running(box=None) -> Iterator[int | None]:
    """Kernels this process starts meanwhile are forked by a new zygote; yields its pid, or None
    if it could not start (kernels then start the normal way). With a sandbox (`box`), the zygote
    and its kernels run inside it (see confined.py)."""
    with started(box) as warm, forking(warm):
        yield warm.pid if warm else None


@contextlib.contextmanager
def started(box=None, preload: tuple[str, ...] = PRELOAD, log=None) -> Iterator[Warm | None]:
    """A new zygote, stopped on exit with any kernels it forked; None if it could not start.
    `forking` is what sends kernels to it (a zygote can outlive many `forking` blocks). What it
    and its kernels print goes to `log` (an open file; None: this process's stderr)."""
    if not _can_watch_processes():
        yield None
        return
    # In a sandbox, the socket is in its run's folder; else in a private folder of our own.
    folder = None if box is not None else tempfile.mkdtemp(prefix="matsuri-fork-")
    address = str(Path(box.ipc if box is not None else folder) / "zygote")
    command = [sys.executable, "-m", "matsuri.grading.forkserver", address]
    if preload != PRELOAD:
        command += ["--preload", ",".join(preload)]
    if box is not None:
        command = box.command([*command, "--sandboxed"], cwd=box.work)
    zygote = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                              env={"PATH": "/usr/bin:/bin"} if box else None)
    try:
        if zygote.stdout.readline().strip() != b"ready":
            print("The kernel zygote did not start; kernels start the normal way.", file=sys.stderr)
            yield None
        elif box is not None:
            from matsuri.grading.confined import Zygote

            yield Warm(address, zygote.pid, Zygote(box, zygote.pid))
        else:
            yield Warm(address, zygote.pid)
    finally:
        zygote.stdin.close()
        try:
            zygote.wait(10)
        except subprocess.TimeoutExpired:
            zygote.kill()
            zygote.wait()
        zygote.stdout.close()
        with contextlib.suppress(OSError):
            os.unlink(address)
        if folder is not None:
            with contextlib.suppress(OSError):
                os.rmdir(folder)


@contextlib.contextmanager
def forking(warm: Warm | None) -> Iterator[None]:
    """Kernels this process starts meanwhile are forked by `warm` (None: the normal way); what
    was in force before comes back on exit, so blocks nest."""
    global _address, _zygote
    from jupyter_client.provisioning.factory import KernelProvisionerFactory

    factory = KernelProvisionerFactory.instance()
    before = _address, _zygote, factory.default_provisioner_name
    if warm is not None:
        _address, _zygote, factory.default_provisioner_name = warm.address, warm.confined, PROVISIONER
    try:
        yield
    finally:
        _address, _zygote, factory.default_provisioner_name = before


def reset() -> None:
    """Between two notebooks: empty this process's sandboxed zygote's sandbox (if any)."""
    global _kernel_folder
    _kernel_folder = None
    if _zygote is not None:
        _zygote.reset()


def kernel_folder() -> Path | None:
    """Where the last kernel started here worked (its check cells export Python answers there)."""
    return _kernel_folder


def _can_watch_processes() -> bool:
    """pidfds (Linux 5.3+, allowed by the sandbox if any) let the worker watch kernels it did not
    start itself."""
    try:
        os.close(os.pidfd_open(os.getpid()))
        return True
    except (AttributeError, OSError):
        return False


# --- the provisioner -----------------------------------------------------------------------
class ForkedKernel:
    """What jupyter_client expects of a kernel process (Popen's poll/wait/signals), by pidfd."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self.stdout = self.stderr = self.stdin = None
        try:
            self.pidfd = os.pidfd_open(pid)
        except ProcessLookupError:  # it ended at once, and the zygote has reaped it
            self.returncode = 1

    def poll(self) -> int | None:
        if self.returncode is None and self._ended(0):
            self.returncode = 0  # its parent, the zygote, has the real status
            os.close(self.pidfd)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._ended(timeout)
        if self.poll() is None:
            raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
        return self.returncode

    def _ended(self, timeout: float | None) -> bool:
        """Has it ended (waiting up to `timeout` s; None: for ever)? poll(), not select(): a server
        with a hundred kernels holds descriptors past select's limit of 1024."""
        watch = select.poll()
        watch.register(self.pidfd, select.POLLIN)
        return bool(watch.poll(None if timeout is None else timeout * 1000))

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            signal.pidfd_send_signal(self.pidfd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class ForkProvisioner(LocalProvisioner):
    """LocalProvisioner whose ipykernel kernels are forked by this process's zygote."""

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        if _zygote is not None:  # no network inside: sockets in the run's own folder
            km, ipc = self.parent, _zygote.box.ipc
            km.transport, km.ip, km.cache_ports = "ipc", str(ipc / "k"), False
            km.connection_file = str(ipc / f"kernel-{self.kernel_id}.json")
        kwargs = await super().pre_launch(**kwargs)
        if _zygote is not None:
            _zygote.box.hand_over(Path(self.parent.connection_file))
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        global _kernel_folder
        address, argv, zygote = _address, ipykernel_argv(cmd), _zygote
        cwd = str(kwargs.get("cwd") or os.getcwd())
        _kernel_folder = Path(cwd)
        env = kwargs.get("env") or dict(os.environ)
        if zygote is not None:  # the notebook's folder and key copy go in; the kernel's env is the box's
            from matsuri.checks.key_file import KEYS_ENV

            folder, keys = zygote.prepare(Path(cwd), Path(env[KEYS_ENV]) if env.get(KEYS_ENV) else None)
            cwd, _kernel_folder = str(folder), folder
            env = zygote.box.environment({KEYS_ENV: str(keys)} if keys else {})
            if not address or argv is None or not os.path.exists(address):  # started in the box
                return await super().launch_kernel(
                    zygote.box.command(cmd, cwd=folder, env=env), env={"PATH": "/usr/bin:/bin"},
                    cwd=str(zygote.box.dir))
        elif not address or argv is None or not os.path.exists(address):
            return await super().launch_kernel(cmd, **kwargs)
        try:
            pid = fork(address, argv, env, cwd)
        except (OSError, ValueError, KeyError):  # the zygote is gone or could not fork
            if zygote is not None:
                return await super().launch_kernel(
                    zygote.box.command(cmd, cwd=Path(cwd), env=env), env={"PATH": "/usr/bin:/bin"},
                    cwd=str(zygote.box.dir))
            return await super().launch_kernel(cmd, **kwargs)
        if zygote is not None:  # the zygote answers with the pid inside the sandbox
            pid = zygote.box.host_pid(pid) or pid
        return await adopted(self, pid, cwd)


def fork(address: str, argv: list[str], env: dict[str, str], cwd: str) -> int:
    """Ask the zygote at `address` for a kernel run with ipykernel's `argv`, in `env` and `cwd`;
    its pid as the zygote sees it. OSError, ValueError or KeyError if it is gone or cannot fork."""
    request = {"argv": argv, "env": env, "cwd": cwd}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(address)
        connection.sendall(json.dumps(request).encode() + b"\n")
        return json.loads(connection.makefile("rb").readline())["pid"]


async def adopted(provisioner: LocalProvisioner, pid: int, cwd: str) -> dict:
    """Make `provisioner` the owner of the forked kernel `pid` (the host's pid) working in `cwd`;
    returns its connection info once its sockets listen."""
    provisioner.process = ForkedKernel(pid)
    provisioner.pid = provisioner.pgid = pid
    provisioner.cwd = cwd
    await listening(provisioner.connection_info, provisioner.process)
    return provisioner.connection_info


async def listening(info: dict, kernel: ForkedKernel, timeout: float = 10) -> None:
    """Return once the forked kernel's sockets are bound (a few tens of ms after the fork).

    jupyter_server greets a new kernel as soon as start() returns and, if the kernel is not there
    yet, asks again only half a second later: a kernel forked in 0.1 s would otherwise still be
    shown as connecting for 0.5 s. A kernel that dies or is slow is left to jupyter_client."""
    ports = [info[name] for name in ("shell_port", "iopub_port") if info.get(name)]
    deadline = time.monotonic() + timeout
    while ports and kernel.poll() is None and time.monotonic() < deadline:
        if info.get("transport", "tcp") == "ipc":
            bound = all(os.path.exists(f"{info['ip']}-{port}") for port in ports)
        else:
            bound = all([await accepts(info.get("ip") or "127.0.0.1", port) for port in ports])
        if bound:
            return
        await asyncio.sleep(0.01)


async def accepts(host: str, port: int) -> bool:
    """Does something listen there? (Forked kernels here, the hub's forked servers too.)"""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
    except (TimeoutError, OSError):
        return False
    writer.close()
    return True


def ipykernel_argv(cmd: list[str]) -> list[str] | None:
    """`python -m ipykernel_launcher -f FILE` → ["-f", "FILE"]; None for any other kernel."""
    if len(cmd) >= 3 and cmd[1] == "-m" and cmd[2] in KERNEL_MODULES and Path(cmd[0]).resolve() == \
            Path(sys.executable).resolve():
        return cmd[3:]
    return None


def _main(argv: list[str]) -> None:
    """python -m matsuri.grading.forkserver ADDRESS [--sandboxed] [--preload MODULE,MODULE...]"""
    preload = argv[argv.index("--preload") + 1].split(",") if "--preload" in argv else PRELOAD
    serve(argv[0], sandboxed="--sandboxed" in argv[1:], preload=tuple(preload))


if __name__ == "__main__":
    _main(sys.argv[1:])
