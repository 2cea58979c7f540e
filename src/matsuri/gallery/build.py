"""Assemble the gallery folder that Voila serves.

    state/gallery/
        index.ipynb                 the index app (leaderboard chart, one card per team)
        rubric.ipynb                the judges' rubric app
        demos/<team>/demo.ipynb     a snapshot of each team's workspace, demo kernel = confined
        share/                      put on JUPYTER_PATH for the Voila server:
            kernels/matsuri-demo-<team>/  kernelspecs: teams' code runs as the sandbox user, memory-limited
            voila/templates/…       Voila's own page templates minus their CDN links (offline)

The apps are one-line notebooks; their code lives in `matsuri.gallery.apps` where it is tested.
Demos are a snapshot taken when the gallery starts, so what judges see does not change under them.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from matsuri import paths
from matsuri.hackathon import sandbox
from matsuri.hackathon.event import Event
from matsuri.hackathon.teams import list_teams

DEMO_KERNEL = "matsuri-demo"
DEMO_NOTEBOOK = "demo.ipynb"
SKIP = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", ".*", "*.duckdb")
CDN_LINK = re.compile(r"[ \t]*<link[^>]+https://cdn\.jsdelivr\.net[^>]*>[ \t]*\n?")
APPS = {
    "index.ipynb": ("from matsuri.gallery.apps import index_app\n\nindex_app()", "ギャラリー"),
    "rubric.ipynb": ("from matsuri.gallery.apps import rubric_app\n\nrubric_app()", "審査"),
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


def _snapshot(workspace: Path, target: Path, kernel: str) -> Path | None:
    """Copy a team's workspace and point its demo at its confined kernel; None if it has no demo."""
    import nbformat

    if not (workspace / DEMO_NOTEBOOK).is_file():
        return None
    shutil.copytree(workspace, target, ignore=SKIP)
    demo = target / DEMO_NOTEBOOK
    nb = nbformat.read(demo, as_version=4)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "matsuri demo", "language": "python"}
    nbformat.write(nb, demo)
    for path in [target, *target.rglob("*")]:  # the confined kernel reads it as another user
        path.chmod(0o755 if path.is_dir() else 0o644)
    return demo


def build(event: Event) -> Gallery:
    """(Re)create the gallery folder from the teams' workspaces; returns where everything is."""
    settings = event.settings
    root = event.state / "gallery"
    shutil.rmtree(root, ignore_errors=True)
    (root / "demos").mkdir(parents=True)
    for name, (code, title) in APPS.items():
        _app_notebook(root / name, code, title)
    share = root / "share"
    _offline_templates(share)
    scratch = sandbox.scratch_dir("matsuri-gallery-", settings.run_as)
    demos = {}
    for team in list_teams(event):
        kernel = f"{DEMO_KERNEL}-{team.team}"
        demo = _snapshot(team.workspace, root / "demos" / team.team, kernel)
        if demo is None:
            continue
        demos[team.team] = demo.relative_to(root)
        # One kernelspec per team: what a demo caches between page views (MATSURI_CACHE) stays
        # in that team's own folder for this gallery run.
        sandbox.write_kernelspec(
            share, kernel, f"matsuri demo of {team.team} (confined)", user=settings.run_as,
            memory_mb=settings.demo_memory_mb, threads=settings.threads, scratch=scratch,
            env={"MATSURI_WAREHOUSE": str(paths.warehouse_path()),
                 "MATSURI_CACHE": str(scratch / "cache" / team.team)},
        )
    (root / "demos").chmod(0o755)
    root.chmod(0o755)
    return Gallery(root, share, scratch, demos)
