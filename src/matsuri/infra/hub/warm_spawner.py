"""Participants' servers forked from a warm process: a server is up in under a second, not in four.

A single-user server spends most of its start importing jupyter_server, JupyterLab, nbgrader,
Voila, jupytext and their dependencies. The hub starts one *zygote* (as root, like the hub) that
imports them once and holds nothing else: no event loop, no threads, no participant's data, no
secret (it is started with only the variables a server would inherit anyway). For each server it
forks a child that becomes the participant exactly as LocalProcessSpawner's child does (a new
session; setgid, the participant's groups, setuid; their home as the folder; the spawner's
environment in place of the zygote's), then runs jupyterhub-singleuser's main.

The zygote never sees a server's environment (it holds the server's hub token): it hands the hub
a private socket to the new child, and the hub sends the environment to the child alone.

The hub tracks each server by pid (pidfd), so poll, stop and a hub restart work as before; the
zygote reaps its children at once, and ends when the hub does (its channel closes). A zygote that
has gone, cannot fork, or a command that is not jupyterhub-singleuser: the server starts the normal
way. The grading kernels' zygote (`matsuri.grading.forkserver`) is the same idea for kernels; the
process handle is shared with it.

Whether the spawner returns early or not, it waits for the server's port itself (every 50 ms), so
the hub's own check, which backs off to seconds between tries, finds the server up at its first try.

What still differs from a normal start: servers share the zygote's memory layout and string hash
seed (as Android's apps share theirs), and, having changed user without exec, the kernel makes
them non-dumpable (the participant's other processes cannot ptrace or read the server's memory;
root still can). Modules that work out a per-user path at import are imported again (PER_USER).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from jupyterhub.utils import random_port
from traitlets import Bool, Float, List, Unicode

# The grading kernels' pidfd process handle (Popen's poll/wait/signals for a process we did not
# start), and whether this system has pidfds at all.
from matsuri.grading.forkserver import ForkedKernel, _can_watch_processes, accepts

#: What a learner's server imports before it serves (`python -X importtime`, and the modules a
#: running server holds): the hub's single-user extension, jupyter_server, and the servers'
#: extensions. A module that is not installed is skipped.
PRELOAD = (
    "jupyterhub.singleuser.extension", "jupyter_server.serverapp", "jupyter_server.kernelspecs",
    "jupyter_server.nbconvert", "jupyter_server.view", "jupyterlab", "jupyterlab.labapp",
    "jupyterlab_server", "jupyter_server_terminals", "jupyter_lsp", "jupyter_lsp.virtual_documents_shadow",
    "jupytext", "jupyterlab_jupytext", "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.validate_assignment", "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list", "notebook", "notebook.app", "notebook_shim",
    "notebook_shim.nbserver", "voila", "jupysql_plugin", "matsuri.warm_kernels", "httpx", "rich.console",
)
#: Modules that work out a per-user path when imported (here: the Trash folder, from HOME): the
#: child imports them again as the participant.
PER_USER = ("send2trash.plat_other",)
#: What the zygote inherits of the hub's environment: what LocalProcessSpawner passes on to every
#: server anyway (its default env_keep), nothing else.
ENV_KEEP = ("CONDA_DEFAULT_ENV", "CONDA_ROOT", "JUPYTERHUB_SINGLEUSER_APP", "LANG", "LC_ALL",
            "LD_LIBRARY_PATH", "PATH", "PYTHONPATH", "VIRTUAL_ENV")
FORK_TIMEOUT = 10  # seconds; a fork takes milliseconds
_PR_SET_PDEATHSIG, _PR_SET_NAME, _PR_SET_MM = 1, 15, 35
_PR_SET_MM_MAP = 14


# --- the zygote ----------------------------------------------------------------------------
def serve(channel_fd: int) -> None:
    """Import what servers need, then fork one server per request until the hub goes.

    The hub's first line says which script to become and what to import (not on the command line:
    no root process should look like a server in `ps`)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)  # the hub died before we got here
    channel = socket.socket(fileno=channel_fd)
    if os.getppid() == 1:
        return
    with channel.makefile("rb", buffering=0) as lines:
        orders = json.loads(lines.readline() or b"{}")
    singleuser, preload = orders["singleuser"], orders["preload"]
    sys.path[0] = str(Path(singleuser).parent)  # as when the script runs: its folder first
    sys.argv = [singleuser]
    for module in preload:
        try:
            __import__(module)
        except Exception as error:  # not installed here: the server imports what it has
            print(f"matsuri zygote: not preloading {module}: {error}", file=sys.stderr, flush=True)
    if threading.active_count() != 1:  # forking a process with threads is not safe
        print("matsuri zygote: an import started a thread; servers start the normal way",
              file=sys.stderr, flush=True)
        return
    channel.sendall(b"ready\n")
    servers: dict[int, int] = {}  # pid -> pidfd: reaped the moment they end (the hub polls by pid)
    while True:
        readable, _, _ = select.select([channel, *servers.values()], [], [])
        for pid, fd in [(p, f) for p, f in servers.items() if f in readable]:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            os.close(fd)
            del servers[pid]
        if channel in readable:
            if channel.recv(1) != b"f":
                return  # the hub closed the channel (or died): servers keep running, as before
            mine, theirs = socket.socketpair()
            try:
                pid = os.fork()
            except OSError as error:
                mine.close()
                theirs.close()
                channel.sendall(json.dumps({"error": str(error)}).encode() + b"\n")
                continue
            if pid == 0:
                _become_server(theirs.detach(), singleuser)
            theirs.close()
            servers[pid] = os.pidfd_open(pid)
            socket.send_fds(channel, [json.dumps({"pid": pid}).encode() + b"\n"], [mine.fileno()])
            mine.close()


_views: list = []  # the child's argv and environment as /proc shows them (kept alive)


def _become_server(fd: int, singleuser: str) -> None:
    """In the forked child: read the request from the hub, become the participant, run the server."""
    code = 1
    try:
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.setsid()  # as start_new_session=True: the hub's signals are not forwarded
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        keep = os.dup2(fd, 3)
        os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))  # the zygote's channel, other servers' pidfds
        with socket.socket(fileno=keep) as hub, hub.makefile("rb") as lines:
            request = json.loads(lines.readline())
        user, argv, env = request["user"], request["argv"], request["env"]
        _show_as(argv, env)
        set_user_setuid(user)()  # exactly LocalProcessSpawner's: setgid, groups, setuid, chdir home
        os.environ.clear()
        os.environ.update(env)
        _as_participant()
        sys.argv = [singleuser, *argv[1:]]
        from jupyterhub.singleuser import main

        code = main() or 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        import atexit

        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()  # the server's own (its kernels' zygote stops with it)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code)


def _as_participant() -> None:
    """What Python and the preloaded modules worked out at import from root's HOME and random
    state, worked out again for the participant."""
    import importlib
    import random
    import site

    random.seed()  # a fork would otherwise repeat the zygote's (and every other server's) numbers
    site.USER_BASE = site.USER_SITE = None
    site.getusersitepackages()
    for module in PER_USER:
        if module in sys.modules:
            importlib.reload(sys.modules[module])


class _MemoryMap(ctypes.Structure):
    """struct prctl_mm_map (linux/prctl.h)."""

    _fields_ = [(name, ctypes.c_uint64) for name in (
        "start_code", "end_code", "start_data", "end_data", "start_brk", "brk", "start_stack",
        "arg_start", "arg_end", "env_start", "env_end")] + [
        ("auxv", ctypes.c_void_p), ("auxv_size", ctypes.c_uint32), ("exe_fd", ctypes.c_uint32)]


def _show_as(argv: list[str], env: dict[str, str]) -> None:
    """ps, pgrep -f and /proc/PID/environ show the server's command and environment, not the
    zygote's (PR_SET_MM_MAP, as checkpoint/restore tools do). Best effort."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    libc.sbrk.restype = ctypes.c_void_p
    libc.prctl(_PR_SET_NAME, ctypes.cast(ctypes.c_char_p(Path(argv[0]).name.encode()[:15]), ctypes.c_void_p).value,
               0, 0, 0)
    stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()

    def field(n: int) -> int:  # proc(5) numbers the fields from 1; the first two are gone
        return int(stat[n - 3])

    blocks = []
    for items in (argv, [f"{k}={v}" for k, v in env.items()]):
        data = b"".join(item.encode() + b"\0" for item in items)
        block = ctypes.create_string_buffer(data)
        blocks.append((ctypes.addressof(block), ctypes.addressof(block) + len(data)))
        _views.append(block)
    (arg_start, arg_end), (env_start, env_end) = blocks
    view = _MemoryMap(start_code=field(26), end_code=field(27), start_data=field(45), end_data=field(46),
                      start_brk=field(47), brk=libc.sbrk(0), start_stack=field(28),
                      arg_start=arg_start, arg_end=arg_end, env_start=env_start, env_end=env_end,
                      auxv=None, auxv_size=0, exe_fd=0xFFFFFFFF)
    libc.prctl(_PR_SET_MM, _PR_SET_MM_MAP, ctypes.addressof(view), ctypes.sizeof(view), 0)


# --- the hub's side ------------------------------------------------------------------------
class Zygote:
    """The hub's handle on its zygote: started once, shared by every spawner."""

    def __init__(self, python: str, singleuser: str, preload: list[str], env: dict[str, str]):
        self.singleuser = singleuser
        self.ready = threading.Event()
        self.settled = threading.Event()  # ready, or could not start
        self._lock = threading.Lock()
        mine, theirs = socket.socketpair()
        self.channel = mine
        self.process = subprocess.Popen(
            [python, "-s", "-m", "matsuri.infra.hub.warm_spawner", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env, cwd="/", start_new_session=True)
        theirs.close()
        mine.sendall(json.dumps({"singleuser": singleuser, "preload": preload}).encode() + b"\n")
        threading.Thread(target=self._wait_ready, name="matsuri-zygote", daemon=True).start()

    def _wait_ready(self) -> None:
        try:
            with self._lock:
                line = b""
                while not line.endswith(b"\n"):
                    part = self.channel.recv(64)
                    if not part:
                        return  # it could not start: servers start the normal way
                    line += part
                if line == b"ready\n":
                    self.ready.set()
        finally:
            self.settled.set()
        self.process.wait()  # reaped as soon as it ends, however it ends

    def alive(self) -> bool:
        return self.ready.is_set() and self.process.poll() is None

    def fork(self, user: str, argv: list[str], env: dict[str, str]) -> int | None:
        """A new server process for `user` (its pid), or None if the zygote could not make one."""
        if not self.alive():
            return None
        try:
            with self._lock:
                self.channel.settimeout(FORK_TIMEOUT)
                self.channel.sendall(b"f")
                message, fds, _, _ = socket.recv_fds(self.channel, 4096, 1)
        except TimeoutError:  # stopped or stuck: abandoned (the next spawn starts a new one)
            self.abandon()
            return None
        except OSError:
            return None
        try:
            answer = json.loads(message)
            if "pid" not in answer or not fds:
                return None
            with socket.socket(fileno=fds[0]) as child:
                child.sendall(json.dumps({"user": user, "argv": argv, "env": env}).encode() + b"\n")
            return answer["pid"]
        except (OSError, ValueError):
            return None

    def abandon(self) -> None:
        """Stop a zygote that does not answer (servers it forked keep running)."""
        self.ready.clear()
        self.process.kill()
        self.process.wait()

    def close(self) -> None:
        self.channel.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_zygotes: dict[tuple, Zygote] = {}


def start_zygote(singleuser: str, preload=PRELOAD, env_keep=ENV_KEEP) -> Zygote | None:
    """This hub's zygote for `singleuser` (started now if it is not running), or None where
    servers start the normal way. Shared by all of the hub's spawners."""
    python = _interpreter(singleuser)
    if python is None or not _can_watch_processes():
        return None
    key = (python, singleuser, tuple(preload))
    zygote = _zygotes.get(key)
    if zygote is None or zygote.process.poll() is not None:
        env = {k: os.environ[k] for k in env_keep if k in os.environ}
        zygote = _zygotes[key] = Zygote(python, singleuser, list(preload), env)
    return zygote


class WarmLocalProcessSpawner(LocalProcessSpawner):
    """LocalProcessSpawner whose jupyterhub-singleuser servers are forked from a warm zygote."""

    warm = Bool(True, help="Fork servers from a warm zygote (off: every server starts the normal way)."
                ).tag(config=True)
    preload = List(Unicode(), default_value=list(PRELOAD),
                   help="Modules the zygote imports before it forks servers.").tag(config=True)
    zygote_wait = Float(30, help="Seconds a spawn waits for a zygote that is still importing "
                        "before it starts the normal way.").tag(config=True)
    ready_interval = Float(0.05, help="Seconds between checks that a new server listens; start() "
                           "returns when it does, so the hub finds it up at its first try.").tag(config=True)

    _forked: ForkedKernel | None = None  # the running server, if the zygote forked it

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        try:  # the hub makes a person's spawner when they log in: the zygote imports meanwhile
            self.zygote()
        except OSError as error:
            self.log.warning("Servers start the normal way: the zygote did not start (%s)", error)

    def zygote(self) -> Zygote | None:
        """This hub's zygote (started at the first call), or None if servers start the normal way."""
        if not self.warm or self.shell_cmd or self.popen_kwargs or not self.cmd:
            return None
        return start_zygote(self.cmd[0], self.preload, self.env_keep)

    async def start(self):
        zygote = self.zygote()
        pid = None
        if zygote is not None and not zygote.settled.is_set():  # still importing: worth the wait
            if not await asyncio.get_running_loop().run_in_executor(None, zygote.settled.wait, self.zygote_wait):
                self.log.warning("The zygote is stuck importing; %s's server starts the normal way",
                                 self.user.name)
                zygote.abandon()  # the next spawn starts a new one
        if zygote is not None and zygote.alive():
            if self.port == 0:
                self.port = random_port()
            argv = [*self.cmd, *self.get_args()]
            self.log.info("Spawning %s (forked warm)", " ".join(shlex.quote(s) for s in argv))
            pid = await asyncio.get_running_loop().run_in_executor(
                None, zygote.fork, self.user.name, argv, self.get_env())
            if pid is None:
                self.log.warning("The zygote could not fork %s's server; starting it the normal way",
                                 self.user.name)
        if pid is None:
            address = await super().start()
        else:
            self._forked = ForkedKernel(pid)
            self.pid = pid
            address = (self.ip or "127.0.0.1", self.port)
        await self._listening(address)
        return address

    async def _listening(self, address) -> None:
        """Until the server accepts connections (or has ended, or a while has passed: the hub's own
        checks report those)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(self.http_timeout, self.start_timeout / 2)
        while loop.time() < deadline and await self.poll() is None:
            if await accepts(*address):
                return
            await asyncio.sleep(self.ready_interval)

    async def poll(self):
        forked = self._forked
        if forked is None:
            return await super().poll()
        status = forked.poll()
        if status is not None:
            self._forked = None
            self.clear_state()
        return status

    async def _signal(self, sig):
        forked = self._forked
        if forked is None:
            return await super()._signal(sig)
        if forked.poll() is not None:
            return False
        forked.send_signal(sig)  # by pidfd: never a stranger that reused the pid
        return True


def _interpreter(script: str) -> str | None:
    """The Python a console script runs with (its #! line), if it is this hub's kind of script."""
    try:
        with open(script, "rb") as f:
            first = f.readline()
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    parts = first[2:].decode(errors="replace").split()
    return parts[0] if len(parts) == 1 and Path(parts[0]).name.startswith("python") else None


if __name__ == "__main__":
    serve(int(sys.argv[1]))
