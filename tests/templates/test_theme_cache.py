"""Does a demo learn once per warehouse, and learn again when the warehouse or the cache changes?"""

from __future__ import annotations

import os

import pytest

from matsuri.templates.cache import cache_dir, remembered


@pytest.fixture
def counted(tmp_path, monkeypatch):
    monkeypatch.setenv("MATSURI_CACHE", str(tmp_path / "cache"))
    warehouse = tmp_path / "company.duckdb"
    warehouse.write_bytes(b"first version")
    calls = []

    def learn():
        calls.append(1)
        return {"model": len(calls)}

    return warehouse, learn, calls


def test_the_second_visit_reuses_what_the_first_learnt(counted):
    warehouse, learn, calls = counted
    assert remembered("demo", warehouse, learn) == {"model": 1}
    assert remembered("demo", warehouse, learn) == {"model": 1}
    assert len(calls) == 1
    assert oct(cache_dir().stat().st_mode & 0o777) == "0o700"


def test_a_rebuilt_warehouse_or_another_demo_learns_again(counted):
    warehouse, learn, calls = counted
    remembered("demo", warehouse, learn)
    remembered("other demo", warehouse, learn)
    warehouse.write_bytes(b"second, longer version")
    os.utime(warehouse, ns=(1, 1))
    assert remembered("demo", warehouse, learn) == {"model": 3}


def test_a_damaged_cache_file_is_replaced(counted):
    warehouse, learn, calls = counted
    remembered("demo", warehouse, learn)
    for stored in cache_dir().glob("*.joblib"):
        stored.write_bytes(b"not a pickle")
    assert remembered("demo", warehouse, learn) == {"model": 2}
    assert remembered("demo", warehouse, learn) == {"model": 2}


def test_without_a_usable_cache_folder_the_demo_still_learns(counted, monkeypatch, tmp_path):
    warehouse, learn, calls = counted
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("MATSURI_CACHE", str(blocker / "cache"))
    assert remembered("demo", warehouse, learn) == {"model": 1}
    assert remembered("demo", warehouse, learn) == {"model": 2}


def test_pages_opened_while_the_first_learns_wait_for_its_result(counted, tmp_path):
    """Four kernels (processes) open the demo at once with nothing stored: one learns, the
    others load what it stored."""
    import subprocess
    import sys

    warehouse, _, _ = counted
    marks = tmp_path / "learnt"
    marks.mkdir()
    script = (
        "import os, sys, time\n"
        "from matsuri.templates.cache import remembered\n"
        "def learn():\n"
        f"    open(os.path.join({str(marks)!r}, str(os.getpid())), 'w').close()\n"
        "    time.sleep(1)\n"
        "    return {'by': os.getpid()}\n"
        f"print(remembered('demo', {str(warehouse)!r}, learn)['by'])\n"
    )
    views = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env=os.environ.copy()) for _ in range(4)]
    answers = {view.communicate(timeout=120)[0].strip() for view in views}
    assert len(os.listdir(marks)) == 1
    assert answers == {os.listdir(marks)[0]}  # all four show the model the one learnt
