"""Serve one demo notebook with Voila on 127.0.0.1, the way judges will see it.

The settings live in `voila_config/voila.json`: sources stripped, no tracebacks, lab extensions
that break inside Voila switched off, idle kernels culled, and a Content-Security-Policy that lets
the page load nothing from outside this server (the demo works offline, and no CDN request can
stall it on a closed network).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from matsuri.errors import NotFound

CONFIG_DIR = Path(__file__).with_name("voila_config")
RUNNING_AT = re.compile(r"running at:\s*(http://127\.0\.0\.1:(\d+)/?\S*)")


def voila_command(target: Path, port: int) -> list[str]:
    voila = Path(sys.executable).parent / "voila"
    return [
        str(voila) if voila.exists() else "voila", str(target), "--no-browser",
        f"--port={port}", "--Voila.ip=127.0.0.1", "--Voila.config_file_paths", str(CONFIG_DIR),
    ]


@dataclass
class Served:
    root: Path          # the notebook served, or the folder whose notebooks are served
    url: str
    process: subprocess.Popen
    log: Path

    def page(self, notebook: str | Path | None = None) -> str:
        """URL of one notebook (a path under `root` when a folder is served)."""
        if notebook is None:
            return self.url
        rel = Path(notebook).resolve().relative_to(self.root) if Path(notebook).is_absolute() else Path(notebook)
        return f"{self.url}voila/render/{rel.as_posix()}"


@contextmanager
def serve(target: str | Path, port: int, env: Mapping[str, str] | None = None,
          log: Path | None = None, timeout: float = 60) -> Iterator[Served]:
    """Start Voila on a notebook (or a folder of notebooks) and yield once it answers.

    If the port is taken meanwhile, Voila moves to the next free one; the URL yielded is the one
    Voila reports in its log. Voila and its kernels are always stopped on the way out.
    """
    from matsuri.lab import festival_env

    target = Path(target).resolve()
    if not target.exists():
        raise NotFound(f"No demo notebook or folder at {target}.")
    log = log or Path(tempfile.mkstemp(prefix="voila-", suffix=".log")[1])
    with open(log, "wb") as out:
        process = subprocess.Popen(
            voila_command(target, port), cwd=target if target.is_dir() else target.parent,
            env=festival_env() | dict(env or {}), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = _wait_until_serving(process, log, timeout)
        yield Served(target, url, process, log)
    finally:
        _stop(process)


def _wait_until_serving(process: subprocess.Popen, log: Path, timeout: float) -> str:
    """The URL Voila announces in its log, once that port accepts connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Voila stopped (exit {process.returncode}):\n{log.read_text()[-2000:]}")
        found = RUNNING_AT.search(log.read_text(errors="replace"))
        if found:
            url = found.group(1).rstrip("/") + "/"
            try:
                with socket.create_connection(("127.0.0.1", int(found.group(2))), timeout=0.5):
                    return url
            except OSError:
                pass
        time.sleep(0.2)
    raise TimeoutError(f"Voila did not start serving within {timeout:.0f} s:\n{log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen) -> None:
    """Stop Voila: on SIGTERM it shuts its kernels down; force it only if it hangs (its kernels
    then exit on their own when they see their parent gone)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=5)
