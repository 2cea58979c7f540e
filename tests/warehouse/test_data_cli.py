"""Does `matsuri data` refuse bad input with one clear line, and never lose the previous warehouse?"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time

import pytest

from conftest import BIN, build_company, run_matsuri
from matsuri.warehouse.query import table_checksums


@pytest.fixture
def existing(tmp_path):
    """A built warehouse whose contents must survive every failure below."""
    built = build_company(tmp_path / "wh", seed=3)
    return built, table_checksums(built.warehouse)


def leftovers(folder):
    return [p.name for p in folder.rglob("*building*")]


def test_build_writes_both_stores_and_describe_lists_every_table(tmp_path):
    run = run_matsuri(["data", "build", "--scale", "tiny", "--seed", "5", "--out", str(tmp_path)])
    assert (tmp_path / "company.duckdb").is_file() and (tmp_path / "organiser" / "labels.duckdb").is_file()
    assert "Building the tiny company" in run.err  # the progress bar
    described = run_matsuri(["data", "describe", "--warehouse", str(tmp_path / "company.duckdb")]).out
    for table in ("users", "events", "push_deliveries", "sales_calls", "holdout_sales_calls"):
        assert table in described
    assert "2,000" in described  # tiny has 2,000 users


def test_query_prints_a_table(tiny_company):
    out = run_matsuri(["data", "query", "SELECT plan, count(*) AS n FROM users GROUP BY plan ORDER BY plan",
                       "--warehouse", str(tiny_company.warehouse)]).out
    assert "premium" in out and "free" in out


@pytest.mark.parametrize("sql", [
    "DROP TABLE users",
    "INSERT INTO users (user_id) VALUES (-1)",
    "UPDATE users SET plan = 'premium'",
    "COPY users TO 'stolen.csv'",
])
def test_query_refuses_writes_and_leaves_the_warehouse_unchanged(existing, sql, tmp_path):
    built, before = existing
    run = run_matsuri(["data", "query", sql, "--warehouse", str(built.warehouse)], exit_code=5, cwd=tmp_path)
    assert "read-only" in run.err and "Traceback" not in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert table_checksums(built.warehouse) == before
    assert not (tmp_path / "stolen.csv").exists()


def test_query_with_a_typo_says_what_is_wrong(tiny_company):
    run = run_matsuri(["data", "query", "SELECT nme FROM users", "--warehouse", str(tiny_company.warehouse)],
                      exit_code=2)
    assert "nme" in run.err and "Traceback" not in run.err


def test_missing_warehouse_says_how_to_build_it(tmp_path):
    run = run_matsuri(["data", "describe", "--warehouse", str(tmp_path / "nope.duckdb")], exit_code=3)
    assert "matsuri data build" in run.err


@pytest.mark.parametrize("args, code, words", [
    (["--scale", "huge"], 2, "Unknown scale 'huge'"),
    (["--seed", "-4"], 2, "seed must be 0 or a positive"),
    ([], 4, "already exists"),
])
def test_bad_build_requests_fail_with_one_line_and_keep_the_old_warehouse(existing, args, code, words):
    built, before = existing
    run = run_matsuri(["data", "build", "--scale", "tiny", "--out", str(built.warehouse.parent), *args],
                      exit_code=code)
    assert words in run.err and len(run.err.strip().splitlines()) == 1
    assert table_checksums(built.warehouse) == before


def test_unwritable_output_folder_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run = run_matsuri(["data", "build", "--scale", "tiny", "--out", str(blocker / "wh")], exit_code=2)
    assert "Cannot create the folder" in run.err and "Traceback" not in run.err


def test_force_replaces_atomically(existing):
    built, before = existing
    run_matsuri(["data", "build", "--scale", "tiny", "--seed", "4", "--force", "--out", str(built.warehouse.parent)])
    assert table_checksums(built.warehouse) != before
    assert not leftovers(built.warehouse.parent)


def _limit_file_size():
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))


def test_disk_full_fails_cleanly_and_keeps_the_old_warehouse(existing):
    """A file-size limit stands in for a full disk: the write fails half-way through."""
    built, before = existing
    proc = subprocess.run(
        [str(BIN / "matsuri"), "data", "build", "--scale", "small", "--force", "--out", str(built.warehouse.parent)],
        capture_output=True, text=True, preexec_fn=_limit_file_size, timeout=300,
    )
    assert proc.returncode == 6, proc.stderr
    assert "Ran out of disk space" in proc.stderr and "Traceback" not in proc.stderr
    assert table_checksums(built.warehouse) == before
    assert not leftovers(built.warehouse.parent)


@pytest.mark.slow
def test_interrupted_build_keeps_the_old_warehouse(existing):
    built, before = existing
    proc = subprocess.Popen(
        [str(BIN / "matsuri"), "data", "build", "--scale", "large", "--force", "--out", str(built.warehouse.parent)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    started = b""  # interrupt once the build shows its progress bar (on a busy machine, later)
    deadline = time.monotonic() + 120
    while b"Building the large company" not in started and time.monotonic() < deadline:
        if select.select([proc.stderr], [], [], 1)[0]:
            started += os.read(proc.stderr.fileno(), 4096)
    time.sleep(1)
    assert proc.poll() is None, "the large build should still be running"
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    err = (started + rest).decode()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "previous warehouse is unchanged" in err
    assert table_checksums(built.warehouse) == before
    assert not leftovers(built.warehouse.parent)
    assert os.access(built.warehouse, os.R_OK)
