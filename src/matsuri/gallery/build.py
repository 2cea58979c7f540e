"""Assemble the gallery folder that Voila serves.

    /tmp/matsuri-gallery-XXXX/      root's, 0711; removed when the gallery stops
      cache/<team>/                 what a team's demo keeps between page views (its identity's)
      site/                         the folder Voila serves:
        index.ipynb                 the index app (leaderboard chart, one card per team)
        rubric.ipynb                the judges' rubric app
        funnel.ipynb                the festival funnel (matsuri.funnel.page), for organisers and managers
        demos/<team>/demo.ipynb     a snapshot of each team's workspace: its demo and data files,
                                    no other notebook (nothing of a team is ever run but its demo)
        share/                      put on JUPYTER_PATH for the Voila server:
            kernels/matsuri-demo-<team>/  kernelspecs: each demo kernel sandboxed as the team's
                                    identity (see matsuri.sandbox), forked in the team's one
                                    sandbox once the gallery runs (warm_demos.py)
            voila/templates/…       Voila's own page templates minus their CDN links (offline)

The apps are one-line notebooks; their code lives in `matsuri.gallery.apps` where it is tested.
Demos are a snapshot taken when the gallery starts, so what judges see does not change under them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from matsuri import paths
from matsuri.errors import InvalidSubmission
from matsuri.hackathon import runner
from matsuri.hackathon.event import Event
from matsuri.hackathon.teams import list_teams
from matsuri.language import LANG_ENV, configured
from matsuri.sandbox import identities, kernels
from matsuri.sandbox.box import Spec

DEMO_KERNEL = "matsuri-demo"
DEMO_NOTEBOOK = "demo.ipynb"
MAX_FILE_BYTES = 512 * 2**20
CDN_LINK = re.compile(r"[ \t]*<link[^>]+https://cdn\.jsdelivr\.net[^>]*>[ \t]*\n?")
APPS = {
    "index.ipynb": ("from matsuri.gallery.apps import index_app\n\nindex_app()", "ギャラリー"),
    "rubric.ipynb": ("from matsuri.gallery.apps import rubric_app\n\nrubric_app()", "審査"),
    "funnel.ipynb": ("from matsuri.funnel.page import funnel_app\n\nfunnel_app()", "参加ファネル"),
}


@dataclass
class Gallery:
    root: Path
    share: Path
    scratch: Path
    demos: dict[str, Path]  # team -> demo notebook, relative to root


def _app_notebook(path: Path, code: str, title: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["title"] = title
    nb.cells = [nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)


def _offline_templates(share: Path) -> None:
    """Copies of Voila's page templates with the CDN stylesheet links removed.

    Earlier on JUPYTER_PATH than Voila's own, so they shadow them; the icon font those links
    fetch is only used by widget icons, which the gallery's apps do not use.
    """
    from jupyter_core.paths import jupyter_path

    for relative in ("voila/templates/lab/index.html.j2", "voila/templates/base/page.html"):
        original = next(Path(p) / relative for p in jupyter_path()
                        if (Path(p) / relative).is_file() and not Path(p).is_relative_to(share))
        target = share / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(CDN_LINK.sub("", original.read_text(encoding="utf-8")), encoding="utf-8")


def _copy_tree(source: Path, target: Path) -> None:
    """Copy a team's folder as root without trusting it: ordinary files and folders only, never
    through a link, never another notebook (Voila's warm pools run every notebook they find)."""
    from matsuri.sandbox.intake import copy_in

    target.mkdir(mode=0o755)
    for entry in os.scandir(source):
        if entry.name.startswith(".") or entry.name == "__pycache__" or \
                entry.name.endswith((".duckdb", ".ipynb")):
            continue
        if entry.is_dir(follow_symlinks=False):
            _copy_tree(Path(entry.path), target / entry.name)
        elif entry.is_file(follow_symlinks=False):
            with contextlib.suppress(InvalidSubmission):  # changed or grown meanwhile: left out
                copy_in(Path(entry.path), target / entry.name, MAX_FILE_BYTES)


def _snapshot(workspace: Path, target: Path, kernel: str) -> Path | None:
    """Copy a team's workspace and point its demo at its sandboxed kernel; None if it has no demo."""
    import nbformat

    from matsuri.sandbox.intake import copy_in

    demo = target / DEMO_NOTEBOOK
    if not (workspace / DEMO_NOTEBOOK).is_file() or (workspace / DEMO_NOTEBOOK).is_symlink():
        return None
    _copy_tree(workspace, target)
    try:
        copy_in(workspace / DEMO_NOTEBOOK, demo, MAX_FILE_BYTES)
        nb = nbformat.read(demo, as_version=4)
    except (InvalidSubmission, ValueError, OSError):
        shutil.rmtree(target, ignore_errors=True)
        return None
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "matsuri demo", "language": "python"}
    nbformat.write(nb, demo)
    for path in [target, *target.rglob("*")]:  # the sandboxed kernel reads it as another user
        path.chmod(0o755 if path.is_dir() else 0o644)
    return demo


def build(event: Event) -> Gallery:
    """(Re)create the gallery folder from the teams' workspaces; returns where everything is."""
    # Outside the event's private state: bubblewrap, started as a team's identity, must be able to
    # reach the demo folder it binds in. Root's, closed to listing; removed when the gallery stops.
    scratch = Path(tempfile.mkdtemp(prefix="matsuri-gallery-"))
    scratch.chmod(0o711)
    root = scratch / "site"
    (root / "demos").mkdir(parents=True)
    for name, (code, title) in APPS.items():
        _app_notebook(root / name, code, title)
    share = root / "share"
    _offline_templates(share)
    demos = {}
    for team in list_teams(event):
        kernel = f"{DEMO_KERNEL}-{team.team}"
        demo = _snapshot(team.workspace, root / "demos" / team.team, kernel)
        if demo is None:
            continue
        demos[team.team] = demo.relative_to(root)
        kernels.write_kernelspec(share, kernel, f"matsuri demo of {team.team} (sandboxed)",
                                 spec=_demo_spec(event, team, scratch))
    (root / "demos").chmod(0o755)
    root.chmod(0o755)
    return Gallery(root, share, scratch, demos)


def _demo_spec(event: Event, team, scratch: Path) -> Spec:
    """The sandbox of a team's demo kernels: as the team's identity, with the demo memory limit
    (shared by all of the team's page views once they are forked in one sandbox: warm_demos.py),
    told the gallery's language (MATSURI_LANG: the organiser's, else the event's) so the demo's labels
    match the gallery's. A sandboxed demo never sees a page's `?lang=`.

    What a demo caches between page views (MATSURI_CACHE) stays in that team's own folder for
    this gallery run, writable by the team's identity only.
    """
    settings = event.settings
    user = identities.for_slot(settings.run_as, settings.identities, team.slot)
    if not identities.exists(user):
        identities.create(user)
    who = identities.Identity.of(user)
    cache = scratch / "cache" / team.team
    cache.mkdir(parents=True)
    os.chown(cache, who.uid, who.gid, follow_symlinks=False)
    cache.chmod(0o700)
    (scratch / "cache").chmod(0o711)
    warehouse = str(paths.warehouse_path())
    limits = replace(runner.limits(settings), memory_mb=settings.demo_memory_mb)
    return runner.notebook_spec(user, limits, warehouse, writable=(str(cache),),
                                env={"MATSURI_CACHE": str(cache), LANG_ENV: configured(settings.language)})
