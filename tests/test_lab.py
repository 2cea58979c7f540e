"""Does `matsuri lab` start a real JupyterLab on 127.0.0.1 behind a token that no other user can
read from its command line, at the right folder (the one given, the participant workspace you are
in, else the project for organisers), and serve nothing outside it?"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest
import typer
from nbformat.v4 import new_markdown_cell, new_notebook, writes
from tornado import web
from typer.testing import CliRunner

from conftest import BIN, ROOT, free_port, run_matsuri
from matsuri import lab, servers
from matsuri.errors import MatsuriError
from matsuri.infra.local import MARKER
from matsuri.lab_contents import RootedContentsManager


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


# --- which folder the lab shows ---------------------------------------------------------------
def project_tree(base: Path) -> tuple[Path, Path]:
    """A project-like tree (found as the project from below it) with reference answers, a grading
    key, and ann's workspace as the local target makes it."""
    project = base / "proj"
    (project / "datasets").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'fest'\n")
    source = project / "courses" / "x" / "source" / "l"
    source.mkdir(parents=True)
    (source / "l.ipynb").write_text(writes(new_notebook(cells=[new_markdown_cell("REFERENCE ANSWER")])))
    keys = project / "courses" / "build" / "x" / "private" / "keys"
    keys.mkdir(parents=True)
    (keys / "l.json").write_text('{"answer": "GRADING KEY"}')
    workspace = project / "event" / "workspaces" / "ann"
    (workspace / "x" / "l").mkdir(parents=True)
    (workspace / MARKER).write_text(json.dumps({"event": "fest", "participant": "ann"}))
    python = {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}}
    (workspace / "x" / "l" / "l.ipynb").write_text(
        writes(new_notebook(cells=[new_markdown_cell("Ann's lesson")], metadata=python)))
    return project, workspace


class NoServer:
    """Stands in for JupyterLab's process: records how it would have been started."""

    started: list[tuple[list[str], Path]] = []

    def __init__(self, command, env, cwd):
        NoServer.started.append((command, Path(cwd)))

    def wait(self):
        return 0


def run_lab(monkeypatch, cwd: Path, *args: str):
    """`matsuri lab` in `cwd`, JupyterLab not started: (its --ServerApp.root_dir, its cwd, stderr)."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(lab.subprocess, "Popen", NoServer)
    NoServer.started.clear()
    cli = typer.Typer(add_completion=False)
    cli.command()(lab.lab)  # as `matsuri lab` (src/matsuri/cli.py), without the other commands
    result = CliRunner().invoke(cli, ["--port", str(free_port()), *args])
    assert result.exit_code == 0, result.output
    [(command, server_cwd)] = NoServer.started
    [root] = [part.split("=", 1)[1] for part in command if part.startswith("--ServerApp.root_dir=")]
    return Path(root), server_cwd, result.stderr


def test_inside_a_workspace_the_lab_shows_that_workspace_and_starts_there(tmp_path, monkeypatch):
    project, workspace = project_tree(tmp_path)
    monkeypatch.delenv("MATSURI_HOME", raising=False)
    root, server_cwd, err = run_lab(monkeypatch, workspace / "x" / "l")  # found walking up
    assert root == server_cwd == workspace.resolve()
    assert "whole project" not in err
    assert lab.lab_root() == workspace.resolve()


def test_elsewhere_the_lab_shows_the_project_and_says_it_is_for_organisers(tmp_path, monkeypatch):
    project, workspace = project_tree(tmp_path)
    monkeypatch.setenv("MATSURI_HOME", str(project))
    root, server_cwd, err = run_lab(monkeypatch, project / "courses")
    assert root == server_cwd == project.resolve()
    [note] = [line for line in err.splitlines() if "whole project" in line]  # one line
    assert "grading keys" in note and "organisers" in note and "matsuri lab <workspace>" in note
    # a folder given wins over the workspace you are in; the project given is the organisers' lab
    assert run_lab(monkeypatch, workspace, str(project / "courses" / "x"))[0] == (project / "courses" / "x").resolve()
    assert "whole project" in run_lab(monkeypatch, workspace, str(project))[2]


def test_a_folder_that_does_not_exist_is_refused(tmp_path):
    missing = tmp_path / "nobody"
    with pytest.raises(MatsuriError, match="There is no folder"):
        lab.lab_root(missing)
    (tmp_path / "file.txt").write_text("")
    with pytest.raises(MatsuriError):
        lab.lab_root(tmp_path / "file.txt")
    refused = run_matsuri(["lab", str(missing)], exit_code=3, cwd=tmp_path)
    assert f"There is no folder {missing}" in refused.err and "Traceback" not in refused.err


def test_the_contents_manager_serves_nothing_outside_the_folder(tmp_path):
    """`..`, hidden files and symlinks leading out are refused (404) and left out of listings."""
    project, workspace = project_tree(tmp_path)
    (workspace / "peek.ipynb").symlink_to(project / "courses" / "x" / "source" / "l" / "l.ipynb")
    (workspace / "keys").symlink_to(project / "courses" / "build" / "x" / "private" / "keys")
    (workspace / "mine.ipynb").symlink_to(workspace / "x" / "l" / "l.ipynb")  # inside: fine
    contents = RootedContentsManager(root_dir=str(workspace))

    async def check():
        listing = await contents.get("")
        assert {item["name"] for item in listing["content"]} == {"x", "mine.ipynb"}
        assert "Ann's lesson" in json.dumps((await contents.get("mine.ipynb"))["content"])
        for path in ("peek.ipynb", "keys/l.json", "keys", MARKER, "../../../courses/x/source/l/l.ipynb",
                     "x/../../../../courses/build/x/private/keys/l.json"):
            with pytest.raises(web.HTTPError) as refused:
                await contents.get(path)
            assert refused.value.status_code == 404, path
        for path in ("peek.ipynb", "keys/new.json"):  # nor written through a link
            with pytest.raises(web.HTTPError):
                await contents.save({"type": "file", "format": "text", "content": "x"}, path)
        with pytest.raises(web.HTTPError):
            await contents.rename("x/l/l.ipynb", "keys/stolen.ipynb")

    # in a thread of its own: an earlier test of this worker may have left a loop running here
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, check()).result()
    assert sorted(p.name for p in (project / "courses" / "build" / "x" / "private" / "keys").iterdir()) == ["l.json"]


# --- a learner's lab in a real browser --------------------------------------------------------
@pytest.fixture
def learners_lab(tmp_path):
    """A real `matsuri lab`, started inside ann's workspace (below its top), in a project-like tree,
    with links in the workspace to the reference answers and to the grading keys."""
    project, workspace = project_tree(tmp_path)
    (workspace / "peek.ipynb").symlink_to(project / "courses" / "x" / "source" / "l" / "l.ipynb")
    (workspace / "keys").symlink_to(project / "courses" / "build" / "x" / "private" / "keys")
    port, token = free_port(), "learner-lab-test-token"
    env = dict(os.environ, MATSURI_HOME=str(project), MATSURI_WAREHOUSE=str(tmp_path / "none.duckdb"),
               JUPYTER_TOKEN=token, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    # `matsuri lab` and JupyterLab share a process group, stopped together; then the kernels
    with servers.running("matsuri lab", [BIN / "matsuri", "lab", "--port", str(port)],
                         f"http://127.0.0.1:{port}/api/status?token={token}", env=env, cwd=workspace / "x",
                         log=tmp_path / "lab.log", grace=30) as lab_server:
        yield f"http://127.0.0.1:{port}", token, project, workspace, lab_server.process


FETCH = """async urls => Promise.all(urls.map(async url => {
    const response = await fetch(url);
    return [url, response.status, await response.text()];
}))"""


@pytest.mark.slow
@pytest.mark.browser
def test_a_learners_lab_opens_their_notebook_and_serves_nothing_outside_their_workspace(learners_lab, browser):
    base, token, project, workspace, proc = learners_lab
    page = browser.new_page()
    try:
        page.goto(f"{base}/lab/tree/x/l/l.ipynb?token={token}", timeout=60_000)  # logs in (cookie)
        page.locator(".jp-RenderedMarkdown").filter(has_text="Ann's lesson").wait_for(timeout=60_000)
        listing, mine, mine_file = page.evaluate(FETCH, ["/api/contents", "/api/contents/x/l/l.ipynb",
                                                         "/files/x/l/l.ipynb"])
        assert listing[1] == mine[1] == mine_file[1] == 200, (listing, mine[1], mine_file[1])
        assert {item["name"] for item in json.loads(listing[2])["content"]} == {"x"}  # no links, no marker
        assert "Ann's lesson" in mine[2] and "Ann's lesson" in mine_file[2]

        source, key = "courses/x/source/l/l.ipynb", "courses/build/x/private/keys/l.json"
        up = "../../../"  # from the workspace (proj/event/workspaces/ann) to the project
        wanted = []
        for target in (source, key):
            for api in ("/api/contents/", "/files/"):
                wanted += [
                    api + up + target,  # the browser itself resolves these dots
                    api + urllib.parse.quote(up + target, safe=""),  # ..%2F..%2F: reach the server
                    api + "x/" + urllib.parse.quote("../" + up + target, safe=""),
                    api + up.replace(".", "%2E") + target,
                    api + urllib.parse.quote(str(project / target), safe=""),  # %2Fabsolute%2Fpath
                    api + "/" + str(project / target).lstrip("/"),  # //absolute/path
                ]
        wanted += [api + path for api in ("/api/contents/", "/files/")
                   for path in ("peek.ipynb", "keys/l.json", MARKER)]  # links leading out; hidden file
        answers = page.evaluate(FETCH, wanted)
        served = [(url, status) for url, status, _ in answers if not 400 <= status < 500]
        assert served == [], served
        assert not [url for url, _, body in answers if "REFERENCE ANSWER" in body or "GRADING KEY" in body]

        jupyter = psutil.Process(proc.pid).children()  # JupyterLab, then the notebook's kernel in it
        assert [Path(p.cwd()) for p in jupyter] == [workspace.resolve()]
        deadline = time.time() + 30
        while not (kernels := _kernels(jupyter[0])):
            assert time.time() < deadline, "the notebook's kernel did not start"
            time.sleep(0.3)
        assert all(Path(k.cwd()).is_relative_to(workspace.resolve()) for k in kernels)
    finally:
        page.close()


def _kernels(server: psutil.Process) -> list[psutil.Process]:
    """The server's kernels: started by ipykernel_launcher, or forked warm by its zygote."""
    kernels = []
    for process in server.children(recursive=True):
        command = " ".join(process.cmdline())
        if "ipykernel_launcher" in command or ("matsuri.grading.forkserver" in command
                                               and process.ppid() != server.pid):
            kernels.append(process)
    return kernels
