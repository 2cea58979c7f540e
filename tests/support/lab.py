"""A real JupyterLab on 127.0.0.1 for browser tests, started as the kit starts it (`lab_command`,
the token in the environment) and stopped with everything it started."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def jupyterlab(home: Path, env: dict[str, str], as_user: str | None = None) -> Iterator[str]:
    """JupyterLab serving `home` (run as `as_user` with runuser, if given); yields its base URL
    with the token, e.g. http://127.0.0.1:PORT/lab/tree/{path}?token=… once formatted."""
    from conftest import free_port
    from matsuri.lab import lab_command

    port, token = free_port(), secrets.token_hex(8)
    command = lab_command(home, port)
    settings = {"JUPYTER_TOKEN": token, "PLOOMBER_STATS_ENABLED": "false"}
    if as_user:
        command = ["runuser", "-u", as_user, "--", "env", *(f"{k}={v}" for k, v in (env | settings).items()),
                   *command]
        env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    lab = subprocess.Popen(command, env=env | settings, cwd=home, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=5)
                break
            except OSError:
                assert lab.poll() is None and time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/lab/tree/{{path}}?token={token}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
