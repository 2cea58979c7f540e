"""Run Voila on the gallery folder: 127.0.0.1 only, offline, warm kernels, idle kernels culled,
each team's demo kernels forked from a warm process of its own (`warm_demos`).

Voila's options shared with every Voila of the festival (Content-Security-Policy, the lab
extensions kept out, culling) are in `matsuri.voila_settings`; kernels idle for
`gallery.cull_idle_seconds` are shut down.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from matsuri import paths, servers, voila_settings
from matsuri.gallery import warm_demos
from matsuri.gallery.apps import BOARD_ENV
from matsuri.gallery.build import Gallery, build
from matsuri.hackathon.event import EVENT_ENV, Event

STOP_GRACE_SECONDS = 20  # Voila shuts its kernels down on SIGTERM; a busy machine makes that slow


@dataclass
class Running:
    url: str           # the index page, with the token
    base: str          # http://127.0.0.1:PORT
    token: str
    gallery: Gallery
    server: servers.Server

    @property
    def process(self):
        return self.server.process

    def page(self, relative: str, **query: str) -> str:
        from urllib.parse import quote, urlencode

        params = urlencode({"token": self.token, **query})
        return f"{self.base}/voila/render/{quote(relative)}?{params}"


def voila_command(gallery: Gallery, event: Event, port: int, preheat: bool) -> list[str]:
    """The Voila command line. It holds no token: every user can read a command line.

    The token comes from JUPYTER_TOKEN in Voila's environment (see `serve`). Voila 0.5 only lets
    jupyter_server's IdentityProvider read that variable when `auto_token` is on; with neither
    `Voila.token` nor `auto_token`, it would serve the pages to anyone.
    """
    settings = event.settings
    command = [
        sys.executable, "-m", "voila", str(gallery.root), "--no-browser",
        "--Voila.ip=127.0.0.1", f"--port={port}", "--Voila.port_retries=0", "--Voila.auto_token=True",
        *voila_settings.options(settings.cull_idle_seconds),
    ]
    if preheat and settings.pool_size > 0:
        command += ["--preheat_kernel=True", f"--pool_size={settings.pool_size}"]
    return command


def _env(gallery: Gallery, event: Event, final: bool) -> dict[str, str]:
    env = paths.festival_env()
    env.pop("MATSURI_LABELS", None)  # nothing the gallery runs needs the answers
    env["JUPYTER_PATH"] = str(gallery.share)
    env[EVENT_ENV] = str(event.root)
    env[BOARD_ENV] = "final" if final else "public"
    return env


def stop(running: Running) -> None:
    """Stop Voila (it shuts its kernels down) and what is left of its processes, then clean up
    after the sandboxes of its demo kernels (cgroups, run folders, mounts) and the gallery's
    scratch folder. The teams' warm sandboxes are `serve`'s to close, after this."""
    try:
        servers.stop(running.server, grace=STOP_GRACE_SECONDS)
    finally:
        from matsuri.sandbox.box import reap

        with contextlib.suppress(OSError):
            reap()  # what Voila could not close itself: the demos' cgroups, run folders and mounts
        shutil.rmtree(running.gallery.scratch, ignore_errors=True)


@contextlib.contextmanager
def serve(event: Event, port: int, token: str = "", preheat: bool | None = None, final: bool = False,
          log: Path | IO | None = None, timeout: float = 90, progress: bool = False) -> Iterator[Running]:
    """Build the gallery and run Voila until the block ends (always stopped, kernels included).
    `progress` shows a bar while the teams' demos are warmed (`warm_demos`), before Voila starts.

    Voila's output goes to `log` (a path, an open file such as sys.stderr, or None for a temporary
    file); if Voila does not come up, `servers.ServerDidNotStart` quotes its end."""
    gallery = build(event)
    token = token or secrets.token_hex(16)
    preheat = event.settings.preheat if preheat is None else preheat
    env = _env(gallery, event, final) | {"JUPYTER_TOKEN": token}  # not on the command line
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, gallery.scratch, ignore_errors=True)
        # Before Voila, so that its first demo kernels (the warm pools) are forked too.
        stack.enter_context(warm_demos.started(gallery, progress))
        server = servers.start("Voila", voila_command(gallery, event, port, preheat), env=env,
                               cwd=gallery.root, log=log)
        base = f"http://127.0.0.1:{port}"
        running = Running(f"{base}/voila/render/index.ipynb?token={token}", base, token, gallery, server)
        stack.callback(stop, running)
        servers.wait_until_answers(server, f"{base}/voila/static/voila.js", timeout)
        yield running


def demo_urls(running: Running) -> dict[str, str]:
    return {team: running.page(str(path)) for team, path in running.gallery.demos.items()}

