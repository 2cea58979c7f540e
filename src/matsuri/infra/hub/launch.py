"""Start the event's JupyterHub with infra/jupyterhub/jupyterhub_config.py and the event's hub.json."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from matsuri import paths, servers
from matsuri.errors import NotFound
from matsuri.infra.hub.layout import HubLayout


def config_file() -> Path:
    return paths.project_root() / "infra" / "jupyterhub" / "jupyterhub_config.py"


def command(layout: HubLayout, args: Sequence[str] = ()) -> list[str]:
    """The hub's command line; `args` are JupyterHub options over the config file's."""
    return [str(layout.python_bin / "jupyterhub"), "-f", str(config_file()), *args]


def environment(layout: HubLayout) -> dict[str, str]:
    env = dict(os.environ)
    env["MATSURI_HUB_SETTINGS"] = str(layout.hub_json)
    chp = layout.chp()
    extra = [str(layout.python_bin)] + ([str(Path(chp).parent)] if chp else [])
    env["PATH"] = os.pathsep.join([*extra, env.get("PATH", "")])
    return env


def _check(layout: HubLayout) -> None:
    if not layout.hub_json.is_file():
        raise NotFound(f"No hub settings at {layout.hub_json}: run "
                       "`matsuri infra apply --target jupyterhub --participants …` first.")


def serve(settings) -> None:
    """Become the hub (in the foreground, until Ctrl-C or SIGTERM)."""
    layout = HubLayout(settings, [])
    _check(layout)
    os.chdir(layout.state)
    cmd = command(layout)
    os.execve(cmd[0], cmd, environment(layout))  # the hub itself gets the signals (systemd, Ctrl-C)


@contextmanager
def running(settings, log: Path, timeout: float = 60, args: Sequence[str] = ()) -> Iterator[servers.Server]:
    """The hub as a child process, up when this yields, stopped (with its servers) afterwards.

    On SIGTERM the hub stops every server and service it started; anything still running after
    that (or a minute later, if the hub hangs) is killed."""
    layout = HubLayout(settings, [])
    _check(layout)
    url = f"http://127.0.0.1:{settings.jupyterhub.port}/hub/api/"
    with servers.running("JupyterHub", command(layout, args), url, env=environment(layout), cwd=layout.state,
                         log=log, timeout=timeout, grace=60) as hub:
        yield hub
