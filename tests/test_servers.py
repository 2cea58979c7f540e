"""Does one helper start a child server in its own session, wait until it answers, say clearly why
one did not start (its command and the end of its log), and stop it with what it started?"""

from __future__ import annotations

import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from conftest import free_port
from matsuri import servers
from matsuri.errors import MatsuriError


def http_server(port: int) -> list[str]:
    return [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]


def test_a_server_is_started_in_its_own_session_waited_for_and_stopped(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path / "http.log"
    with servers.running("http.server", http_server(port), url, cwd=tmp_path, log=log, timeout=30) as server:
        assert servers.answer(url) == 200
        assert os.getsid(server.pid) == server.pid  # a Ctrl-C in our terminal does not reach it
    assert server.process.returncode is not None
    assert servers.answer(url) is None
    assert "GET / HTTP" in log.read_text()  # its output went to the log given, which stays


def test_a_server_that_exits_while_starting_is_named_with_its_command_and_log_tail():
    command = [sys.executable, "-c", "import sys; print('loading the gallery', flush=True); sys.exit('port 1 is taken')"]
    server = servers.start("Voila", command)  # no log given: a temporary one
    try:
        with pytest.raises(servers.ServerDidNotStart) as caught:
            servers.wait_until_answers(server, f"http://127.0.0.1:{free_port()}/", timeout=30)
    finally:
        servers.stop(server)
    message = str(caught.value)
    assert isinstance(caught.value, MatsuriError)  # the CLI shows it without a traceback
    assert message.startswith("Voila stopped while starting (exit code 1).")
    assert "import sys; print(" in message and sys.executable in message  # the command
    assert message.endswith("The end of its log:\nloading the gallery\nport 1 is taken")
    assert not server.log.exists()  # the temporary log went with it


def test_a_program_that_is_not_there_is_named_too(tmp_path):
    with pytest.raises(servers.ServerDidNotStart) as caught:
        servers.start("JupyterHub", [tmp_path / "bin" / "jupyterhub", "-f", "config.py"])
    assert str(caught.value) == (f"JupyterHub could not be started: No such file or directory "
                                 f"({tmp_path / 'bin' / 'jupyterhub'}).\nCommand: {tmp_path}/bin/jupyterhub -f config.py")
    assert not list(Path(tempfile.gettempdir()).glob("matsuri-jupyterhub-*.log"))


def test_a_server_that_answers_the_wrong_status_or_nothing_times_out_saying_so(tmp_path):
    port = free_port()
    missing = f"http://127.0.0.1:{port}/not-there"
    server = servers.start("http.server", http_server(port), cwd=tmp_path, log=tmp_path / "http.log")
    try:
        servers.wait_until_answers(server, missing, timeout=30, any_status=True)  # it is up, but
        with pytest.raises(servers.ServerDidNotStart) as caught:
            servers.wait_until_answers(server, missing, timeout=1)
        assert f"did not answer at {missing} within 1 s (its last answer was HTTP 404)" in str(caught.value)
        assert f"The end of its log ({tmp_path / 'http.log'}):" in str(caught.value)
    finally:
        servers.stop(server)
    silent = servers.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with pytest.raises(servers.ServerDidNotStart, match=r"did not answer at .* within 1 s\.\n"):
            servers.wait_until_answers(silent, missing, timeout=1)
    finally:
        servers.stop(silent)


STUBBORN = textwrap.dedent("""
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a server that hangs on the way out
    kernel = subprocess.Popen(["sleep", "60"], start_new_session=True)  # as Jupyter starts kernels
    print(kernel.pid, flush=True)
    time.sleep(60)
""")


def test_a_server_that_ignores_sigterm_is_killed_after_the_grace_with_what_it_started(tmp_path):
    log = tmp_path / "stubborn.log"
    server = servers.start("stubborn", [sys.executable, "-c", STUBBORN], log=log)
    kernel_pid = servers.wait_for(server, lambda: int(log.read_text()) if log.read_text().strip() else None,
                                  timeout=30, waiting_for="start its kernel")
    started = time.monotonic()
    servers.stop(server, grace=0.5)
    assert time.monotonic() - started < 10
    assert server.process.returncode == -9
    try:
        assert psutil.Process(kernel_pid).status() == psutil.STATUS_ZOMBIE  # killed, not yet reaped
    except psutil.NoSuchProcess:
        pass


def test_output_that_goes_to_our_own_stream_is_said_to_be_above():
    with open(os.devnull, "w") as ours:
        server = servers.start("quick", [sys.executable, "-c", "pass"], log=ours)
        with pytest.raises(servers.ServerDidNotStart) as caught:
            servers.wait_until_answers(server, f"http://127.0.0.1:{free_port()}/", timeout=30)
    servers.stop(server)
    assert server.log is None and str(caught.value).endswith("Its output is above.")
