"""Run Voila on the gallery folder: 127.0.0.1 only, offline, warm kernels, idle kernels culled.

Voila starts one kernel per page view and does not stop it when the page closes, so kernels
idle for `gallery.cull_idle_seconds` are shut down (warm pooled kernels are exempt). The
JupyterLab extensions installed for learners (jupysql, jupytext, nbgrader) are kept out of Voila
pages, where they only throw errors.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from matsuri.errors import MatsuriError
from matsuri.gallery.apps import BOARD_ENV
from matsuri.gallery.build import Gallery, build
from matsuri.hackathon.event import EVENT_ENV, Event

EXTENSION_DENYLIST = [
    "jupysql-plugin", "jupyterlab-jupytext", "@jupyter/nbgrader",
    "@jupyter-notebook/lab-extension", "@voila-dashboards/jupyterlab-preview",
]


TORNADO_SETTINGS = {
    # Pages may load nothing from outside this server: offline rooms work, and no CDN can stall them.
    "headers": {"Content-Security-Policy": "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; "
                                           "connect-src 'self'; frame-ancestors 'self'"},
    # A page's kernel is shut down by a beacon sent when the tab closes; that beacon carries no
    # XSRF token (Voila issue 1458) and would be refused, leaving the kernel running until culled.
    # The only POST Voila serves is that shutdown, keyed by an unguessable kernel id.
    "disable_check_xsrf": True,
}


@dataclass
class Running:
    url: str           # the index page, with the token
    base: str          # http://127.0.0.1:PORT
    token: str
    gallery: Gallery
    process: subprocess.Popen

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
        f"--VoilaConfiguration.extension_denylist={EXTENSION_DENYLIST!r}",
        f"--MappingKernelManager.cull_idle_timeout={settings.cull_idle_seconds}",
        "--MappingKernelManager.cull_interval=60",
        "--MappingKernelManager.cull_connected=False",
        f"--Voila.tornado_settings={TORNADO_SETTINGS!r}",
    ]
    if preheat and settings.pool_size > 0:
        command += ["--preheat_kernel=True", f"--pool_size={settings.pool_size}"]
    return command


def _env(gallery: Gallery, event: Event, final: bool) -> dict[str, str]:
    from matsuri.lab import festival_env

    env = festival_env()
    env.pop("MATSURI_LABELS", None)  # nothing the gallery runs needs the answers
    env["JUPYTER_PATH"] = str(gallery.share)
    env[EVENT_ENV] = str(event.root)
    env[BOARD_ENV] = "final" if final else "public"
    return env


def _wait_until_up(base: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MatsuriError(f"Voila stopped while starting (exit code {process.returncode}); see its log above.")
        try:
            urllib.request.urlopen(f"{base}/voila/static/voila.js", timeout=2).close()
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.25)
    raise MatsuriError(f"Voila did not answer on {base} within {timeout:.0f} s.")


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    procs = [*parent.children(recursive=True), parent]
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(procs, timeout=10)


def stop(running: Running) -> None:
    """Stop Voila (it shuts its kernels down), then anything left of its process tree."""
    process = running.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    _kill_tree(process.pid)  # the demos' sandboxes die with their bubblewrap parent (Voila)
    with contextlib.suppress(Exception):
        process.wait(timeout=5)
    from matsuri.sandbox.box import reap

    with contextlib.suppress(OSError):
        reap()  # what Voila could not close itself: the demos' cgroups, run folders and mounts
    shutil.rmtree(running.gallery.scratch, ignore_errors=True)


@contextlib.contextmanager
def serve(event: Event, port: int, token: str = "", preheat: bool | None = None, final: bool = False,
          log=subprocess.DEVNULL) -> Iterator[Running]:
    """Build the gallery and run Voila until the block ends (always stopped, kernels included)."""
    gallery = build(event)
    token = token or secrets.token_hex(16)
    preheat = event.settings.preheat if preheat is None else preheat
    env = _env(gallery, event, final) | {"JUPYTER_TOKEN": token}  # not on the command line
    process = subprocess.Popen(
        voila_command(gallery, event, port, preheat), env=env,
        cwd=gallery.root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    running = Running(f"{base}/voila/render/index.ipynb?token={token}", base, token, gallery, process)
    try:
        _wait_until_up(base, process)
        yield running
    finally:
        stop(running)


def demo_urls(running: Running) -> dict[str, str]:
    return {team: running.page(str(path)) for team, path in running.gallery.demos.items()}

