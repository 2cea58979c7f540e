"""Serve one demo notebook with Voila on 127.0.0.1, the way judges will see it.

Voila runs with the options every Voila of the festival shares (`matsuri.voila_settings`): sources
stripped, no tracebacks, lab extensions that break inside Voila switched off, idle kernels culled,
and a Content-Security-Policy that lets the page load nothing from outside this server (the demo
works offline, and no CDN request can stall it on a closed network).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from matsuri import paths, servers, voila_settings
from matsuri.errors import NotFound

CULL_IDLE_SECONDS = 900
RUNNING_AT = re.compile(r"running at:\s*(http://127\.0\.0\.1:(\d+)/?\S*)")


def voila_command(target: Path, port: int) -> list[str]:
    voila = Path(sys.executable).parent / "voila"
    return [
        str(voila) if voila.exists() else "voila", str(target), "--no-browser",
        f"--port={port}", "--Voila.ip=127.0.0.1", *voila_settings.options(CULL_IDLE_SECONDS),
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
    Voila reports in its log (a temporary file unless `log` is given). Voila and its kernels are
    always stopped on the way out; if it does not come up, `servers.ServerDidNotStart` quotes its log.
    """
    target = Path(target).resolve()
    if not target.exists():
        raise NotFound(f"No demo notebook or folder at {target}.")
    server = servers.start("Voila", voila_command(target, port), env=paths.festival_env() | dict(env or {}),
                           cwd=target if target.is_dir() else target.parent, log=log)
    try:
        url = servers.wait_for(server, lambda: _announced(server.log), timeout, "start serving")
        yield Served(target, url, server.process, server.log)
    finally:
        servers.stop(server)


def _announced(log: Path) -> str | None:
    """The URL Voila announces in its log, once it answers there (asked for a static file: the
    page itself would start a kernel)."""
    found = RUNNING_AT.search(log.read_text(errors="replace"))
    if found is None:
        return None
    url = found.group(1).rstrip("/") + "/"
    return url if servers.answer(f"{url}voila/static/voila.js") is not None else None
