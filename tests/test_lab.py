"""Does `matsuri lab` start a real JupyterLab on 127.0.0.1 at the project root, behind a token
that no other user can read from its command line?"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from conftest import BIN, ROOT, free_port


def command_lines(pids: list[int]) -> list[str]:
    """What any user on the machine can read in /proc/PID/cmdline; ended processes are skipped."""
    lines = []
    for pid in pids:
        with contextlib.suppress(OSError):
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    return lines


@pytest.mark.slow
def test_lab_serves_the_project_behind_a_token(tiny_company):
    port = free_port()
    env = dict(os.environ, MATSURI_WAREHOUSE=str(tiny_company.warehouse))
    proc = subprocess.Popen([str(BIN / "matsuri"), "lab", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    children: list[psutil.Process] = []
    try:
        first = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:(\d+)/lab\?token=(\w+)", first)
        assert url, first
        assert int(url.group(1)) == port
        token = url.group(2)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token}") as r:
                    listing = json.load(r)
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.time() < deadline, "JupyterLab did not answer within 60 s"
                time.sleep(0.5)
        children = psutil.Process(proc.pid).children(recursive=True)
        commands = command_lines([proc.pid, *(child.pid for child in children)])
        assert any("--ServerApp.root_dir" in c for c in commands), commands  # JupyterLab is there
        assert not [c for c in commands if token in c]
        names = {item["name"] for item in listing["content"]}
        assert {"courses", "templates", "datasets"} <= names
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents")
        assert refused.value.code == 403
        proc.terminate()  # SIGTERM to `matsuri lab` alone: JupyterLab must stop with it
        assert proc.wait(timeout=30) is not None
        gone, alive = psutil.wait_procs(children, timeout=30)
        assert alive == [], [c.pid for c in alive]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        for child in psutil.wait_procs(children, timeout=30)[1]:
            child.kill()
