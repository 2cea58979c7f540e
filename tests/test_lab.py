"""Does `matsuri lab` start a real JupyterLab on 127.0.0.1 at the project root, behind its token?"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import BIN, ROOT, free_port


@pytest.mark.slow
def test_lab_serves_the_project_behind_a_token(tiny_company):
    port = free_port()
    env = dict(os.environ, MATSURI_WAREHOUSE=str(tiny_company.warehouse))
    proc = subprocess.Popen([str(BIN / "matsuri"), "lab", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
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
        names = {item["name"] for item in listing["content"]}
        assert {"courses", "templates", "datasets"} <= names
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents")
        assert refused.value.code == 403
    finally:
        proc.terminate()
        proc.wait(timeout=30)
