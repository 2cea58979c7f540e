"""Does a sandbox get the limits it was given, say which folder its user cannot reach, and leave
nothing behind when it closes?"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from matsuri.sandbox.box import Limits, Sandbox, SandboxUnavailable, Spec  # noqa: E402


def test_the_run_cgroup_carries_the_limits_and_goes_with_the_sandbox(sandbox_user):
    """Are memory (with swap), processes and CPU weight set on the run's cgroup, the run folder a
    tmpfs of the given size owned by the run's user, and all of it gone after close()?"""
    user = f"{sandbox_user}-1"
    limits = Limits(memory_mb=300, max_processes=40, cpu_weight=50, folder_mb=20)
    with Sandbox(Spec(user, limits)) as box:
        folders = box.group.folders
        if box.group.version == 1:
            assert (folders["memory"] / "memory.limit_in_bytes").read_text().strip() == str(300 * 2**20)
            swap = folders["memory"] / "memory.memsw.limit_in_bytes"
            assert not swap.exists() or swap.read_text().strip() == str(300 * 2**20)
            assert (folders["pids"] / "pids.max").read_text().strip() == "40"
            if "cpu" in folders:
                assert (folders["cpu"] / "cpu.shares").read_text().strip() == "512"
        else:
            assert (folders["unified"] / "memory.max").read_text().strip() == str(300 * 2**20)
            assert (folders["unified"] / "pids.max").read_text().strip() == "40"
        mounts = Path("/proc/self/mountinfo").read_text()
        line = next(m for m in mounts.splitlines() if m.split()[4] == str(box.work))
        assert "tmpfs" in line and "size=20480k" in line
        assert box.work.stat().st_uid == box.identity.uid and box.work.stat().st_mode & 0o777 == 0o700
        where = (box.dir, box.work, *folders.values())
    assert not any(path.exists() for path in where)
    assert f" {where[1]} " not in Path("/proc/self/mountinfo").read_text()


def test_a_folder_the_sandbox_user_cannot_reach_is_named_with_the_fix(sandbox_user):
    """Is a warehouse in a private folder refused when the sandbox opens, naming the folder and
    the command that lets the user through, instead of a kernel that dies later?"""
    private = Path(tempfile.mkdtemp(prefix="matsuri-test-private-"))  # 0700, root's
    try:
        warehouse = private / "company.duckdb"
        warehouse.write_bytes(b"")
        spec = Spec(f"{sandbox_user}-2", Limits(), read_only=(str(warehouse),))
        with pytest.raises(SandboxUnavailable, match=f"cannot reach {warehouse}.*setfacl -m u:"):
            Sandbox(spec).open()
    finally:
        warehouse.unlink()
        private.rmdir()



def test_a_run_group_says_whether_it_has_room_for_more(sandbox_user):
    """Does `has_room` read what is left below the memory and process limits (a shared sandbox
    asks it before it forks one more kernel)?"""
    with Sandbox(Spec(f"{sandbox_user}-1", Limits(memory_mb=300, max_processes=40))) as box:
        assert box.group.has_room(200, 30)
        assert not box.group.has_room(301, 0) and not box.group.has_room(0, 41)
