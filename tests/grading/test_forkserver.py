"""Are grading kernels forked warm, yet each still a fresh process of its own notebook?"""

from __future__ import annotations

import os
import socket
import time

import pytest
from jupyter_client.manager import KernelManager

from matsuri.grading import forkserver


def run(kc, code: str, timeout: float = 60) -> dict:
    """Execute `code`; returns the reply content and what was printed."""
    printed = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)["content"]
    reply["printed"] = "".join(printed)
    return reply


def start(folder, **env):
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(folder), env=dict(os.environ) | env)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def stop(km, kc):
    kc.stop_channels()
    km.shutdown_kernel(now=True)


PROBE = ("import os, sys\n"
         "print(os.getppid(), 'sql.magic' in sys.modules, os.getcwd(), os.environ['PROBE'], "
         "getattr(sys, 'left_behind', None))\n"
         "sys.left_behind = os.environ['PROBE']")


def probe(folder, label: str) -> list[str]:
    """Start a kernel in `folder`, run PROBE in it, stop it: parent pid, warm, cwd, label, left."""
    km, kc = start(folder, PROBE=label)
    try:
        return run(kc, PROBE)["printed"].split()
    finally:
        stop(km, kc)


def test_are_kernels_forked_with_their_own_folder_environment_and_state(tmp_path):
    folders = [tmp_path / "one", tmp_path / "two"]
    with forkserver.running() as zygote:
        assert zygote
        for number, folder in enumerate(folders):
            folder.mkdir()
            ppid, warm, cwd, label, left = probe(folder, f"notebook-{number}")
            assert (int(ppid), warm, cwd, label) == (zygote, "True", str(folder), f"notebook-{number}")
            assert left == "None"  # nothing the first notebook did is there for the second


def test_is_an_endless_cell_interrupted_and_a_kernel_gone_after_shutdown(tmp_path):
    with forkserver.running():
        km, kc = start(tmp_path, PROBE="x")
        pid = km.provisioner.pid
        try:
            sent = kc.execute("while True: pass", stop_on_error=False)  # no aborting what comes next
            deadline = time.monotonic() + 60  # interrupt only once the loop runs (a loaded machine)
            while time.monotonic() < deadline:
                msg = kc.get_iopub_msg(timeout=30)
                if msg["parent_header"].get("msg_id") == sent and msg["msg_type"] == "execute_input":
                    break
            time.sleep(0.5)
            km.interrupt_kernel()
            reply = kc.get_shell_msg(timeout=30)["content"]
            assert (reply["status"], reply.get("ename")) == ("error", "KeyboardInterrupt"), reply
            assert run(kc, "print(6 * 7)")["printed"].strip() == "42"  # and it goes on
        finally:
            stop(km, kc)
        assert not km.is_alive()
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_are_kernels_left_running_stopped_with_the_zygote(tmp_path):
    with forkserver.running():
        km, kc = start(tmp_path, PROBE="x")
        pid = km.provisioner.pid
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"kernel {pid} outlived its zygote")
    kc.stop_channels()


def test_does_a_kernel_start_the_normal_way_without_a_zygote(tmp_path):
    ppid, warm, *_ = probe(tmp_path, "plain")
    assert (int(ppid), warm) == (os.getpid(), "False")


def test_does_a_kernel_start_the_normal_way_when_the_zygote_is_gone(tmp_path):
    with forkserver.running() as zygote:
        os.kill(zygote, 9)
        ppid, warm, *_ = probe(tmp_path, "after")
    assert (int(ppid), warm) == (os.getpid(), "False")


def test_is_there_no_zygote_where_the_system_cannot_watch_forked_kernels(monkeypatch, tmp_path):
    monkeypatch.delattr(os, "pidfd_open")
    with forkserver.running() as zygote:
        assert zygote is None
        ppid, warm, *_ = probe(tmp_path, "mac")
    assert (int(ppid), warm) == (os.getpid(), "False")


def test_is_a_forked_kernel_listening_when_its_start_returns(tmp_path):
    """jupyter_server greets a new kernel at once and retries only half a second later."""
    with forkserver.running():
        km = KernelManager(kernel_name="python3")
        km.start_kernel(cwd=str(tmp_path))
        try:
            info = km.get_connection_info()
            assert isinstance(km.provisioner.process, forkserver.ForkedKernel)  # forked, not started
            for port in ("shell_port", "iopub_port"):  # refused unless listening: no retry here
                socket.create_connection((info["ip"], info[port]), timeout=2).close()
        finally:
            km.shutdown_kernel(now=True)


def test_does_a_forked_kernel_show_a_chart_at_the_end_of_its_cell(tmp_path):
    """As in a fresh kernel: a figure drawn in a cell is shown under it, without plt.show()."""
    shown = []

    def hook(msg):
        if msg["msg_type"] == "display_data":
            shown.extend(msg["content"]["data"])

    with forkserver.running():
        km, kc = start(tmp_path, PROBE="x")
        try:
            assert isinstance(km.provisioner.process, forkserver.ForkedKernel)
            kc.execute_interactive("import matplotlib.pyplot as plt\nplt.plot([1, 3, 2]);",
                                   timeout=60, output_hook=hook)
        finally:
            stop(km, kc)
    assert "image/png" in shown


def test_does_a_forked_kernel_run_its_exit_handlers_when_it_is_shut_down(tmp_path):
    """A kernel's atexit handlers (the templates' private data copies are removed by one) run at a
    normal shutdown, as in a kernel started the normal way."""
    left = tmp_path / "left.txt"
    with forkserver.running() as zygote:
        assert zygote
        km, kc = start(tmp_path)
        run(kc, f"import atexit, os\natexit.register(lambda: open({str(left)!r}, 'w').write(str(os.getpid())))")
        forked = run(kc, "import os; print(os.getppid())")["printed"].strip()
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    assert forked == str(zygote) and left.read_text().isdigit()


def test_is_a_forked_kernel_watched_when_descriptors_run_past_a_thousand():
    """A gallery's Voila holding a hundred kernels' sockets hands out descriptors past 1024,
    where select() refuses them (a demo kernel failed to start so): its end is still seen."""
    import resource
    import subprocess

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        if hard != resource.RLIM_INFINITY and hard < 1200:
            pytest.skip(f"this machine allows {hard} open files at most")
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
    spare = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    child = subprocess.Popen(["sleep", "30"])
    try:
        kernel = forkserver.ForkedKernel(child.pid)
        assert kernel.pidfd > 1024 and kernel.poll() is None
        kernel.kill()
        child.wait(10)  # reaped by its parent, as the zygote reaps its kernels
        assert kernel.wait(10) == 0
    finally:
        for fd in spare:
            os.close(fd)
