"""`matsuri lab`: JupyterLab on 127.0.0.1 behind a token, showing one folder and nothing outside it.

The folder is the one given; else the participant workspace around the current directory (the
folder holding the local target's marker); else the project root, the organisers' lab, which shows
course sources and grading keys. The contents API and /files/ refuse `../`, hidden files and
symlinks leading out (`lab_contents`). Kernels and terminals start in the folder but run as whoever
started the lab and can read what that account can: only separate accounts (the JupyterHub
target) keep learners apart from each other and from the answers.

A learner's lab (a workspace) reads the kit's learners' Jupyter config first (`LEARNERS_CONFIG`);
the organisers' lab reads none of it and stays as JupyterLab ships.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import typer

from matsuri import paths
from matsuri.checks.messages import LANG_ENV
from matsuri.errors import NotFound
from matsuri.infra.local import MARKER
from matsuri.stopping import stoppable

LEARNERS_CONFIG = Path(__file__).with_name("learners_lab")
"""The Jupyter config folder of every learner's lab, first on its JUPYTER_CONFIG_PATH (the hub's
servers get the same files in the event's config folder): JupyterLab in Japanese, no Jupyter news
and no question about it, nbgrader's authoring and grading tools hidden (the assignment list and
validate stay). A lesson opens sooner without the lab parts learners do not use, whose start-up the
page and the server otherwise pay at every opening: the debugger, language servers (LSP), jupytext,
Voila preview, "open in Notebook", the extension manager, jupysql's Format SQL and Deploy buttons,
the export menu (the server works out the export formats for a second or more, holding up the
lesson's kernel), the build check and the update check (which asks PyPI); the kernels are forked
warm (`warm_kernels`). Only defaults: a learner may still choose English under Settings → Language
(their own settings win), and the kit writes no settings in anyone's home."""


ENGLISH_CONFIG = Path(__file__).with_name("learners_lab_en")
"""Put before LEARNERS_CONFIG for a participant who reads English (participants.csv `language`)."""


def learners_config_files() -> dict[str, str]:
    """The learners' config files by their path inside a Jupyter config folder."""
    return {p.relative_to(LEARNERS_CONFIG).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(LEARNERS_CONFIG.rglob("*.json"))}


def first_free_port(start: int) -> int:
    """The requested port, or the next free one: the URL we print must be the one Jupyter uses."""
    for port in range(start, start + 50):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise NotFound(f"No free port between {start} and {start + 49}; pass another with --port.")


def workspace_around(folder: Path) -> Path | None:
    """The participant workspace holding `folder` (marked by the local target), if any."""
    return next((f for f in (folder, *folder.parents) if (f / MARKER).is_file()), None)


def lab_root(folder: Path | None = None) -> Path:
    """The folder given, else the participant workspace around the current directory, else the project."""
    if folder is not None:
        if not folder.is_dir():
            raise NotFound(f"There is no folder {folder}; pass an existing one (a participant's "
                           "workspace, e.g. event/workspaces/<user>) or none to use the workspace you are in.")
        return folder.resolve()
    root = workspace_around(Path.cwd().resolve()) or paths.project_root()
    if not root.is_dir():
        raise NotFound(f"The project folder {root} does not exist.")
    return root


def lab_command(root: Path, port: int) -> list[str]:
    """The JupyterLab command line; it holds no token (see `lab_env`)."""
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    as_root = ["--allow-root"] if os.geteuid() == 0 else []  # containers and CI often run as root
    return [
        jupyter, "lab", "--no-browser", *as_root,
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.contents_manager_class=matsuri.lab_contents.RootedContentsManager",
        "--ContentsManager.allow_hidden=False",  # the default, kept even if a config file says otherwise
    ]


def lab_env(token: str, root: Path | None = None) -> dict[str, str]:
    """The festival environment plus the login token; for a participant's workspace also the
    learners' Jupyter config and their language for the checks' feedback (the local target writes
    it in the marker).

    Any user can read a process's command line (/proc/PID/cmdline), but only its owner and root
    can read its environment; jupyter_server takes its token from JUPYTER_TOKEN.
    """
    env = paths.festival_env() | {"JUPYTER_TOKEN": token}
    workspace = workspace_around(root) if root is not None else None
    if workspace is None:
        return env
    language = ""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        language = json.loads((workspace / MARKER).read_text()).get("language") or ""
    folders = [str(ENGLISH_CONFIG)] if language == "en" else []
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        filter(None, [*folders, str(LEARNERS_CONFIG), env.get("JUPYTER_CONFIG_PATH")]))
    if language and LANG_ENV not in os.environ:
        env[LANG_ENV] = language
    return env


def lab(
    folder: Path | None = typer.Argument(
        None, help="Folder to show; default: the participant workspace you are in, else the project.",
    ),
    port: int = typer.Option(8888, help="Port on 127.0.0.1."),
    token: str = typer.Option(
        "", envvar="JUPYTER_TOKEN",
        help="Login token; a random one if empty. Prefer the environment variable: "
             "every user on the machine can see a command line.",
    ),
) -> None:
    """Start JupyterLab for the festival and print its URL with the login token."""
    root = lab_root(folder)
    if workspace_around(root) is None and paths.project_root().is_relative_to(root):
        typer.echo("This lab shows the whole project, course sources and grading keys included, and is for "
                   "organisers; learners open their own with `cd <workspace> && matsuri lab` or "
                   "`matsuri lab <workspace>`.", err=True)
    if not paths.warehouse_path().exists():
        typer.secho(
            "note: no warehouse yet; build it with `matsuri data build`.", fg="yellow", err=True
        )
    token = token or secrets.token_hex(16)
    port = first_free_port(port)
    typer.secho(f"JupyterLab: http://127.0.0.1:{port}/lab?token={token}", fg="green", bold=True)
    typer.echo("Press Ctrl-C to stop.")
    server = None
    try:
        with stoppable():  # Ctrl-C, SIGTERM or a closed terminal: JupyterLab stops with us
            server = subprocess.Popen(lab_command(root, port), env=lab_env(token, root), cwd=root)
            server.wait()
    except KeyboardInterrupt:
        if server is None:
            return
        server.terminate()  # a server left behind would keep serving its token on the port
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
