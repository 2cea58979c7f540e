"""Kernels forked in one shared sandbox, as the gallery's demo kernels are (`sandbox/kernels.py`,
`gallery/warm_demos.py`): do they run confined as the sandbox's user, side by side, does each take
what it started with it when it is shut down, and does a kernel still start (in a sandbox of its
own) when the zygote is not there?"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psutil
import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

from matsuri.grading import forkserver
from matsuri.sandbox import kernels
from matsuri.sandbox.box import Limits, Sandbox, Spec, runs_root

PRELOAD = ("ipykernel.kernelapp", "IPython")  # enough to fork kernels; quick to start
ZYGOTE = ["-m", "matsuri.grading.forkserver"]


@pytest.fixture
def demo_folder():
    folder = Path(tempfile.mkdtemp(prefix="matsuri-test-demo-"))
    folder.chmod(0o755)  # the sandbox's user reads it, as a gallery's demo folder
    yield folder
    shutil.rmtree(folder)


def _kernelspec(share: Path, spec: Spec) -> KernelSpecManager:
    kernels.write_kernelspec(share, "demo", "demo", spec=spec)
    return KernelSpecManager(kernel_dirs=[str(share / "kernels")])


def _start(specs: KernelSpecManager, cwd: Path) -> KernelManager:
    km = KernelManager(kernel_name="demo", kernel_spec_manager=specs)
    km.start_kernel(cwd=str(cwd))
    return km


def _run(km: KernelManager, code: str) -> str:
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        out: list[str] = []
        client.execute_interactive(code, timeout=60, output_hook=lambda msg: out.append(
            msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None)
        return "".join(out).strip()
    finally:
        client.stop_channels()


WHO = "import os; print(os.getuid(), os.getcwd())"


def test_kernels_forked_side_by_side_in_a_shared_sandbox_are_confined_and_end_alone(
        sandbox_user, demo_folder, tmp_path):
    spec = Spec(f"{sandbox_user}-1", Limits(memory_mb=1024), read_only=(str(demo_folder),))
    specs = _kernelspec(tmp_path / "share", spec)
    with Sandbox(spec, "demo") as box, forkserver.started(box, PRELOAD) as warm:
        assert warm is not None
        kernels.fork_from(tmp_path / "share" / "kernels" / "demo", box, warm.address)
        first, second = _start(specs, demo_folder), _start(specs, demo_folder)
        try:
            for km in (first, second):  # each a fork of the zygote, running as the sandbox's user
                assert psutil.Process(km.provisioner.pid).parent().cmdline()[1:3] == ZYGOTE
                assert km.provisioner.pid in box.group.pids()
                assert _run(km, WHO) == f"{box.identity.uid} {demo_folder}"
            here = str(Path(__file__).parent)  # the checkout's tests: not bound in, unlike the kit
            assert _run(first, f"print(os.path.exists({here!r}))") == "False"
            # Left running by the kernel, no longer its child (ipykernel ends its own children).
            _run(first, "import subprocess; subprocess.run(['sh', '-c', 'sleep 300 &'])")
            sleeper = next(p for p in box.group.pids() if psutil.Process(p).cmdline()[:1] == ["sleep"])
            first.shutdown_kernel(now=False)
            assert not psutil.pid_exists(sleeper) or psutil.Process(sleeper).status() == psutil.STATUS_ZOMBIE
            assert _run(second, "print(6 * 7)") == "42"  # the other page view's kernel lives on
        finally:
            for km in (first, second):
                if km.has_kernel:
                    km.shutdown_kernel(now=True)
        assert box.dir.is_dir()  # the shared sandbox is its owner's to close


def test_without_its_zygote_a_kernel_starts_in_a_sandbox_of_its_own(sandbox_user, demo_folder, tmp_path):
    spec = Spec(f"{sandbox_user}-1", Limits(memory_mb=1024), read_only=(str(demo_folder),))
    specs = _kernelspec(tmp_path / "share", spec)
    with Sandbox(spec, "demo") as box:
        kernels.fork_from(tmp_path / "share" / "kernels" / "demo", box, str(box.ipc / "zygote"))
        km = _start(specs, demo_folder)
        try:
            assert _run(km, WHO) == f"{box.identity.uid} {demo_folder}"
            own = Path(km.connection_file).parent
            assert own.parent == runs_root() and own != box.dir and km.provisioner.pid not in box.group.pids()
        finally:
            km.shutdown_kernel(now=True)
        assert not own.exists()  # its own sandbox goes with it
        assert os.listdir(box.ipc) == []


def test_a_kernel_still_starts_in_the_shared_sandbox_after_its_zygote_was_killed(
        sandbox_user, demo_folder, tmp_path):
    """A page view's code may kill the zygote (same user): later kernels start the normal way,
    still in the team's sandbox."""
    spec = Spec(f"{sandbox_user}-1", Limits(memory_mb=1024), read_only=(str(demo_folder),))
    specs = _kernelspec(tmp_path / "share", spec)
    with Sandbox(spec, "demo") as box, forkserver.started(box, PRELOAD) as warm:
        kernels.fork_from(tmp_path / "share" / "kernels" / "demo", box, warm.address)
        os.kill(warm.confined.python, 9)
        psutil.Process(warm.confined.python).wait(10)
        km = _start(specs, demo_folder)
        try:
            assert _run(km, WHO) == f"{box.identity.uid} {demo_folder}"
            inside = [psutil.Process(p) for p in box.group.pids()]
            kernel = next(p for p in inside if "ipykernel_launcher" in p.cmdline())
            assert kernel.uids().real == box.identity.uid and ZYGOTE[1] not in " ".join(kernel.parent().cmdline())
        finally:
            km.shutdown_kernel(now=True)


def test_a_shared_sandbox_without_room_for_one_more_kernel_sends_it_to_a_sandbox_of_its_own(
        sandbox_user, demo_folder, tmp_path):
    """Its zygote fits, but not one more kernel (`KERNEL_ROOM`): the next page view's kernel is
    not forked into it, where it would be killed for memory, but started in its own sandbox."""
    memory = kernels.KERNEL_ROOM[0] - 16
    spec = Spec(f"{sandbox_user}-1", Limits(memory_mb=memory), read_only=(str(demo_folder),))
    specs = _kernelspec(tmp_path / "share", spec)
    with Sandbox(spec, "demo") as box, forkserver.started(box, PRELOAD) as warm:
        assert warm is not None
        kernels.fork_from(tmp_path / "share" / "kernels" / "demo", box, warm.address)
        km = _start(specs, demo_folder)
        try:
            assert _run(km, WHO) == f"{box.identity.uid} {demo_folder}"
            assert km.provisioner.pid not in box.group.pids() and Path(km.connection_file).parent != box.ipc
        finally:
            km.shutdown_kernel(now=True)


def test_room_is_kept_for_a_kernel_forked_moments_ago(sandbox_user, demo_folder, tmp_path):
    """Two page views opened at once, in a sandbox with room for one more kernel but not two
    (`KERNEL_ROOM` tasks): the first is forked, the second, which would share the room the first
    is still growing into, gets a sandbox of its own."""
    tasks = kernels.KERNEL_ROOM[1]
    spec = Spec(f"{sandbox_user}-1", Limits(memory_mb=2048, max_processes=2 * tasks - 4),
                read_only=(str(demo_folder),))
    specs = _kernelspec(tmp_path / "share", spec)
    with Sandbox(spec, "demo") as box, forkserver.started(box, PRELOAD) as warm:
        kernels.fork_from(tmp_path / "share" / "kernels" / "demo", box, warm.address)
        first, second = _start(specs, demo_folder), _start(specs, demo_folder)
        try:
            assert first.provisioner.pid in box.group.pids()
            assert second.provisioner.pid not in box.group.pids()
            assert _run(second, WHO) == f"{box.identity.uid} {demo_folder}"
        finally:
            for km in (first, second):
                km.shutdown_kernel(now=True)
