"""Where the sandbox cannot run, is participant code refused in plain words; and is a trusted run
(--no-sandbox) marked everywhere it shows? Also: is what a notebook prints kept only up to a bound?"""

from __future__ import annotations

import pytest

from conftest import run_matsuri  # noqa: E402
from matsuri.hackathon.leaderboard import public_board  # noqa: E402
from matsuri.hackathon.submissions import get_submission, submit  # noqa: E402
from matsuri.sandbox import box  # noqa: E402
from support.hackathon_kit import WRITE_PUSH_PREDICTIONS, add_team, notebook  # noqa: E402


@pytest.fixture
def fresh_probe():
    box.require.cache_clear()
    yield
    box.require.cache_clear()


@pytest.mark.parametrize("missing, words", [
    ("root", "needs root"),
    ("bwrap", "`bwrap` is missing; install bubblewrap"),
    ("cgroups", "No usable cgroups"),
])
def test_a_machine_that_cannot_sandbox_refuses_notebooks_and_says_what_is_missing(
        make_event, tmp_path, monkeypatch, fresh_probe, missing, words):
    """Without root, bubblewrap or cgroups, is a notebook refused (not run unconfined), with what
    is missing and how to get it, and does the attempt not count?"""
    event = make_event()
    add_team(event, "alpha", "push-open-rate")
    if missing == "root":
        monkeypatch.setattr(box.os, "geteuid", lambda: 1000)
    elif missing == "bwrap":
        real = box.shutil.which
        monkeypatch.setattr(box.shutil, "which", lambda name, path=None: None if name == "bwrap"
                            else real(name, path=path))
    else:
        monkeypatch.setattr(box, "layout", lambda: None)
    box.require.cache_clear()  # checked once per process: ask again on this "machine"
    marker = tmp_path / "ran"
    nb = notebook(tmp_path / "model.ipynb", f"open({str(marker)!r}, 'w').close()", WRITE_PUSH_PREDICTIONS)
    with pytest.raises(box.SandboxUnavailable, match=words):
        submit(event, "alpha", nb)
    assert not marker.exists()
    record = get_submission(event, 1)
    assert record.status == "rejected" and words.split(";")[0] in record.message


def test_a_trusted_run_without_the_sandbox_is_marked_in_the_log_and_on_the_boards(make_event, tmp_path):
    """Does --no-sandbox run the notebook as the organiser, and say so in its log, on the
    leaderboard (CLI) and in the library's board entries?"""
    event = make_event()
    add_team(event, "alpha", "push-open-rate")
    nb = notebook(tmp_path / "model.ipynb", "import os\nprint('uid', os.getuid())", WRITE_PUSH_PREDICTIONS)
    result = submit(event, "alpha", nb, sandbox=False)
    assert result.status == "scored"
    assert "WARNING: trusted run without a sandbox" in (result.folder / "log.txt").read_text()
    assert "uid 0" in (result.folder / "executed.ipynb").read_text()
    assert [e.sandboxed for e in public_board(event, "push-open-rate")] == [False]
    shown = run_matsuri(["hackathon", "--event", str(event.root), "leaderboard"])
    assert "(no sandbox)" in shown.out


def test_what_a_notebook_prints_is_kept_only_up_to_a_bound(make_event, tmp_path):
    """Does a notebook printing 40 MB leave a small executed notebook and log, with a note
    saying the output was cut, and still score?"""
    event = make_event()
    add_team(event, "alpha", "push-open-rate")
    flood = "for _ in range(400):\n    print('x' * 100_000)"
    result = submit(event, "alpha", notebook(tmp_path / "loud.ipynb", flood, WRITE_PUSH_PREDICTIONS))
    assert result.status == "scored"
    executed, log = result.folder / "executed.ipynb", result.folder / "log.txt"
    assert executed.stat().st_size < 3_000_000 and log.stat().st_size < 3_000_000
    assert "Output stopped here" in executed.read_text()
