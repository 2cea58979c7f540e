"""Is the gallery assembled offline, with confined demo kernels, culling and no secrets in reach?"""

from __future__ import annotations

import json
import shutil

import nbformat

from matsuri.gallery import server
from matsuri.gallery.build import DEMO_KERNEL, build
from matsuri.hackathon.event import EVENT_ENV
from support.gallery_kit import add_team, notebook


def _workspace(event, team: str, with_demo: bool = True) -> None:
    folder = event.teams_dir / team
    notebook(folder / "starter.ipynb", "print('starter')")
    if with_demo:
        notebook(folder / "demo.ipynb", "print('demo')")
        (folder / "model.json").write_text("{}")
        (folder / "copied-warehouse.duckdb").write_bytes(b"big")


def test_build_snapshots_only_demos_each_with_a_sandboxed_kernel(make_event, public_company, sandbox_user):
    """Does each team with a demo get a snapshot of its demo and data (no other notebook, no links)
    whose kernel is a new sandbox as the team's own identity?"""
    event = make_event()
    for team, demo in (("alpha", True), ("beta", True), ("gamma", False)):
        add_team(event, team, "push-open-rate")
        _workspace(event, team, demo)
    secret = public_company.folder / "organiser" / "labels.duckdb"
    (event.teams_dir / "alpha" / "answers.duckdb.csv").symlink_to(secret)
    gallery = build(event)
    try:
        assert sorted(gallery.demos) == ["alpha", "beta"]
        demo = gallery.root / gallery.demos["alpha"]
        assert nbformat.read(demo, as_version=4).metadata["kernelspec"]["name"] == f"{DEMO_KERNEL}-alpha"
        assert sorted(p.name for p in demo.parent.iterdir()) == ["demo.ipynb", "model.json"]
        assert demo.stat().st_mode & 0o004 and demo.parent.stat().st_mode & 0o001
        assert oct(secret.stat().st_mode & 0o777) == "0o600"  # never chmod-ed through a link
        assert not (gallery.share / "kernels" / f"{DEMO_KERNEL}-gamma").exists()
        for team, user in (("alpha", f"{sandbox_user}-1"), ("beta", f"{sandbox_user}-2")):
            spec = json.loads((gallery.share / "kernels" / f"{DEMO_KERNEL}-{team}" / "kernel.json").read_text())
            provisioner = spec["metadata"]["kernel_provisioner"]
            assert provisioner["provisioner_name"] == "matsuri-sandbox"
            box = provisioner["config"]["spec"]
            assert box["user"] == user and box["limits"]["memory_mb"] == 3072
            assert box["env"]["MATSURI_WAREHOUSE"] == str(public_company.warehouse)
            assert box["env"]["MATSURI_CACHE"] == str(gallery.scratch / "cache" / team)
            assert box["env"]["MATSURI_LANG"] == event.settings.language  # the demo speaks the event's
            assert box["writable"] == [str(gallery.scratch / "cache" / team)]
            assert spec["interrupt_mode"] == "message" and "LABELS" not in json.dumps(spec)
        for name in ("index.ipynb", "rubric.ipynb", "funnel.ipynb"):
            app = nbformat.read(gallery.root / name, as_version=4)
            assert app.metadata["kernelspec"]["name"] == "python3" and len(app.cells) == 1
        notebooks = sorted(p.relative_to(gallery.root).as_posix() for p in gallery.root.rglob("*.ipynb"))
        assert notebooks == ["demos/alpha/demo.ipynb", "demos/beta/demo.ipynb", "funnel.ipynb",
                             "index.ipynb", "rubric.ipynb"]
    finally:
        shutil.rmtree(gallery.scratch, ignore_errors=True)


def test_voila_pages_fetch_nothing_from_the_internet(make_event):
    """Do the gallery's page templates keep Voila's CDN stylesheet links out?"""
    event = make_event()
    gallery = build(event)
    try:
        index = (gallery.share / "voila" / "templates" / "lab" / "index.html.j2").read_text()
        page = (gallery.share / "voila" / "templates" / "base" / "page.html").read_text()
        assert "extends 'nbconvert/templates/lab/index.html.j2'" in index
        assert "cdn.jsdelivr.net" not in index + page and "{% block body %}" in page
    finally:
        shutil.rmtree(gallery.scratch, ignore_errors=True)


def test_voila_runs_local_only_with_culling_and_without_the_labels(make_event, monkeypatch):
    """Is Voila bound to 127.0.0.1, culling idle kernels, denying learner extensions, label-free?"""
    event = make_event()
    monkeypatch.setenv("MATSURI_LABELS", "/somewhere/labels.duckdb")
    gallery = build(event)
    try:
        command = server.voila_command(gallery, event, 9999, preheat=True)
        assert "--Voila.ip=127.0.0.1" in command and "--port=9999" in command
        assert "--MappingKernelManager.cull_idle_timeout=600" in command
        assert "--preheat_kernel=True" in command and "--pool_size=1" in command
        denied = next(c for c in command if c.startswith("--VoilaConfiguration.extension_denylist="))
        for extension in ("jupysql-plugin", "jupyterlab-jupytext", "@jupyter/nbgrader"):
            assert extension in denied
        assert "--preheat_kernel=True" not in server.voila_command(gallery, event, 9999, preheat=False)
        env = server._env(gallery, event, final=False)
        assert "MATSURI_LABELS" not in env and env[EVENT_ENV] == str(event.root)
        assert env["JUPYTER_PATH"] == str(gallery.share)
    finally:
        shutil.rmtree(gallery.scratch, ignore_errors=True)
