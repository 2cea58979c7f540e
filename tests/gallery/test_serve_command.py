"""Does `matsuri gallery serve` start the gallery, print where it is, and stop cleanly on Ctrl-C?"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request

import psutil
import pytest

from conftest import BIN, free_port
from support.gallery_kit import add_team, child_commands, notebook

pytestmark = [pytest.mark.slow]


def test_serve_prints_its_urls_answers_and_stops_on_ctrl_c(make_event):
    """Is the index served on 127.0.0.1 behind a token no command line shows, and is every process
    gone after Ctrl-C?"""
    event = make_event()
    add_team(event, "alpha", "push-open-rate")
    notebook(event.teams_dir / "alpha" / "demo.ipynb", "print('hello')")
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "matsuri"), "gallery", "serve", "--event", str(event.root), "--port", str(port),
         "--no-preheat"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=dict(os.environ, MATSURI_GALLERY_TOKEN="secret-token"),  # a command line is public
    )
    family: list[psutil.Process] = []
    try:
        lines = []
        deadline = time.monotonic() + 120
        while not any(line.startswith("Press Ctrl-C") for line in lines) and time.monotonic() < deadline:
            lines.append(proc.stdout.readline())
        output = "".join(lines)
        assert f"Gallery: http://127.0.0.1:{port}/voila/render/index.ipynb?token=secret-token" in output
        assert "demo of alpha:" in output and "rubric.ipynb" in output
        voila = [p for p in psutil.Process(proc.pid).children() if "voila" in " ".join(p.cmdline())]
        assert voila
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/render/index.ipynb?token=secret-token",
                                    timeout=120) as page:
            assert page.status == 200
        family = psutil.Process(proc.pid).children(recursive=True)  # Voila and the page's kernel
        # Any user can read a process's command line (/proc/PID/cmdline): the token is on none of
        # matsuri's, Voila's or the kernel's.
        commands = [" ".join(psutil.Process(proc.pid).cmdline()), *child_commands(proc.pid)]
        assert any("ipykernel" in c for c in commands), commands
        assert not [c for c in commands if "secret-token" in c]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/render/index.ipynb", timeout=60) as page:
            assert "/login" in page.geturl()  # without the token: sent to the login page
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in family)
    finally:
        if proc.poll() is None:
            proc.kill()
        for leftover in family:  # after a failure: Voila runs in its own session, kill does not reach it
            with contextlib.suppress(psutil.Error):
                leftover.kill()
