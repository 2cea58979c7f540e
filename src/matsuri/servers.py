"""Child servers (Voila, JupyterHub, the app behind the hub's gallery gate): start one, wait until
it answers, stop it. One way for all of them:

- `start` runs the command in its own session (a Ctrl-C in our terminal does not reach it: we stop
  it), with its output in a log file (a temporary one unless given);
- `wait_until_answers` returns once an HTTP URL on 127.0.0.1 answers; if the server exits first or
  the time runs out it raises `ServerDidNotStart`, naming the command and quoting the end of its log;
- `stop` sends SIGTERM to its process group, kills the group after a grace period, then whatever
  it started in other sessions (kernels) that outlived it;
- `running` does all three around a `with` block.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

from matsuri.errors import MatsuriError

T = TypeVar("T")
TAIL_LINES = 40
POLL_SECONDS = 0.2


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer; following it could lead off this machine


# Waiting asks the server itself: no HTTP proxy from the environment stands in between.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


class ServerDidNotStart(MatsuriError):
    """A server exited, or did not answer in time, while starting; the message quotes its log."""


@dataclass
class Server:
    name: str                    # for messages: "Voila", "JupyterHub"
    command: list[str]
    process: subprocess.Popen
    log: Path | None             # its output; None when it goes to a terminal or a pipe of ours
    owns_log: bool = False       # a temporary log made by `start`, removed by `stop`

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        """The last lines of its log ('' when there is none)."""
        if self.log is None:
            return ""
        try:
            with open(self.log, "rb") as f:
                start = max(0, f.seek(0, os.SEEK_END) - 200 * lines)
                f.seek(start)
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        kept = text.splitlines()
        if start and len(kept) > 1:
            kept = kept[1:]  # the line the seek cut into
        return "\n".join(kept[-lines:])

    def failure(self, what: str) -> ServerDidNotStart:
        """`what` went wrong, with the command and the end of the log."""
        message = f"{self.name} {what}.\nCommand: {shlex.join(self.command)}\n"
        where = "" if self.owns_log else f" ({self.log})"  # a temporary log goes away with it
        tail = self.log_tail()
        if self.log is None:
            message += "Its output is above."
        elif tail:
            message += f"The end of its log{where}:\n{tail}"
        else:
            message += f"Its log{where} is empty."
        return ServerDidNotStart(message)


def start(name: str, command: Sequence[str | Path], *, env: Mapping[str, str] | None = None,
          cwd: str | Path | None = None, log: Path | IO | None = None) -> Server:
    """Start `command` in its own session, stdout and stderr to `log`: a path (overwritten), an
    open file (its own when it has a path, else the output is "above"), or None for a temporary
    file that `stop` removes."""
    command = [str(part) for part in command]
    owns = log is None
    if owns:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        fd, temporary = tempfile.mkstemp(prefix=f"matsuri-{slug}-", suffix=".log")
        os.close(fd)
        log = Path(temporary)
    try:
        if isinstance(log, str | Path):
            path: Path | None = Path(log)
            with open(path, "wb") as out:
                process = _popen(command, env, cwd, out)
        else:
            name_of = getattr(log, "name", None)
            path = Path(name_of) if isinstance(name_of, str) and Path(name_of).is_file() else None
            process = _popen(command, env, cwd, log)
    except OSError as error:  # no such program, or not executable, or no such folder to start in
        if owns:
            Path(log).unlink(missing_ok=True)
        raise ServerDidNotStart(f"{name} could not be started: {error.strerror or error}"
                                f"{f' ({error.filename})' if error.filename else ''}.\n"
                                f"Command: {shlex.join(command)}") from None
    return Server(name, command, process, path, owns)


def _popen(command: list[str], env, cwd, out) -> subprocess.Popen:
    return subprocess.Popen(command, env=None if env is None else dict(env), cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(server: Server, probe: Callable[[], T | None], timeout: float, waiting_for: str,
             note: Callable[[], str] | None = None) -> T:
    """The first result of `probe()` that is not None, polled until `timeout` seconds have passed.

    Raises ServerDidNotStart if the server exits first or the time runs out: "{name} did not
    {waiting_for} within N s", then what `note()` adds.
    """
    deadline = time.monotonic() + timeout
    while True:
        code = server.process.poll()
        if code is not None:
            raise server.failure(f"stopped while starting ({_exit_status(code)})")
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise server.failure(f"did not {waiting_for} within {timeout:.0f} s{note() if note else ''}")
        time.sleep(POLL_SECONDS)


def wait_until_answers(server: Server, url: str, timeout: float = 60, *, any_status: bool = False) -> None:
    """Return once `url` (on 127.0.0.1) answers with a success or a redirect, or with any HTTP
    status at all if `any_status` (a page behind a login still shows that the server is up)."""
    last: list[int] = []

    def probe() -> bool | None:
        status = answer(url)
        if status is None:
            return None
        last[:] = [status]
        return True if any_status or status < 400 else None

    wait_for(server, probe, timeout, f"answer at {url}",
             note=lambda: f" (its last answer was HTTP {last[0]})" if last else "")


def answer(url: str, timeout: float = 2) -> int | None:
    """The HTTP status `url` answers with, or None when nothing answers (yet)."""
    try:
        with _LOCAL.open(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def stop(server: Server, grace: float = 10) -> None:
    """SIGTERM to its process group; after `grace` seconds SIGKILL. Then the processes it started in
    sessions of their own (Jupyter kernels do that) are given a few seconds and killed if still there."""
    process = server.process
    try:
        if process.poll() is None:
            family = _descendants(process.pid)  # now: once it is gone, they are nobody's children
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            _end(family, wait=min(grace, 5))
    finally:
        if server.owns_log and server.log is not None:
            server.log.unlink(missing_ok=True)


@contextlib.contextmanager
def running(name: str, command: Sequence[str | Path], url: str, *, env: Mapping[str, str] | None = None,
            cwd: str | Path | None = None, log: Path | IO | None = None, timeout: float = 60,
            grace: float = 10, any_status: bool = False) -> Iterator[Server]:
    """The server, answering at `url` when the block starts and stopped when it ends."""
    server = start(name, command, env=env, cwd=cwd, log=log)
    try:
        wait_until_answers(server, url, timeout, any_status=any_status)
        yield server
    finally:
        stop(server, grace)


def _exit_status(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _signal_group(pid: int, sig: int) -> None:
    """Signal the group `pid` leads (its session, started by `start`); it may have just ended."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _end(processes: list, wait: float) -> None:
    """Give `processes` `wait` seconds to end on their own, then kill the rest."""
    import psutil

    alive = _still_running(processes, wait)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    _still_running(alive, 5)


def _still_running(processes: list, wait: float) -> list:
    """Those of `processes` still running after up to `wait` seconds. A zombie has ended: once its
    parent is gone, reaping it is up to init, which may take its time."""
    import psutil

    def running(proc) -> bool:
        try:
            return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    deadline = time.monotonic() + wait
    while True:
        processes = [proc for proc in processes if running(proc)]
        if not processes or time.monotonic() >= deadline:
            return processes
        time.sleep(0.1)
