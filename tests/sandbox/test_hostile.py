"""Do hostile submission notebooks get nothing out of the sandbox, leave nothing behind, and fail
in plain words?

Every run here is real: `submit` runs the notebook with papermill, its kernel inside bubblewrap as
an unprivileged pool user, in a cgroup with the event's limits. To stay fast, independent probes
share a run (the "snooping" notebook prints one JSON of findings, each test checks one finding),
and every hostile run is followed by an honest submission of the same team that must score exactly
what the honest baseline scored. The organiser's secrets are planted once per module: a marker in
a root-only file, in this process's environment (MATSURI_SECRET_TOKEN) and in the command line and
environment of a process of ours; the labels store is a secret as it is. Notebooks only ever carry
the marker reversed, so finding it anywhere a run produced means it leaked.

The organiser-side intake of links, pipes and escape sequences is in test_intake.py.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
import pytest

from conftest import BIN, ROOT, run_matsuri  # noqa: E402
from matsuri import paths  # noqa: E402
from matsuri.errors import InvalidSubmission  # noqa: E402
from matsuri.hackathon.submissions import (  # noqa: E402
    Submission,
    get_submission,
    list_submissions,
    remaining,
    submit,
)
from matsuri.hackathon.teams import get_team  # noqa: E402
from matsuri.sandbox import identities  # noqa: E402
from matsuri.sandbox.box import _python_paths, runs_root  # noqa: E402
from support.hackathon_kit import DEFAULTS, SETTINGS, WRITE_PUSH_PREDICTIONS, add_team, notebook  # noqa: E402

LIMITS = dict(memory_mb=768, max_processes=64, max_file_mb=5, folder_mb=16, timeout=60)
TEAMS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")  # slots 1-6: users -1,-2,-3,-1,…
TERMINAL_CONTROLS = ("\x1b", "\x07", "\x9b", "pwned")
PROMPT = 20.0  # seconds an interrupted `submit` may take to clean up and exit


# ---- the hostile world: one event, planted secrets, a server of the organiser's ------------------

class Listener:
    """A TCP server on 127.0.0.1 that records every connection and stops itself after `seconds`."""

    def __init__(self, seconds: float = 300):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections: list[tuple] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(time.monotonic() + seconds,),
                                        daemon=True)
        self._thread.start()

    def _serve(self, deadline: float) -> None:
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    conn, address = self.sock.accept()
                except TimeoutError:
                    continue
                self.connections.append(address)
                with conn:
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nsecret")
        finally:
            self.sock.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@dataclass
class Outcome:
    """One hostile run: its record, the refusal (None when scored), what the notebook printed,
    the sandbox processes alive right after `submit` returned, the honest run after it."""

    record: Submission
    message: str | None
    findings: dict
    leftover: list[str]
    honest_after: dict[str, float]


@dataclass
class World:
    event: object
    company: object
    prefix: str
    marker: str
    tag: str                   # in the command line of every process a hostile run starts
    tmp: Path
    secret_dir: Path           # root-only (0700), holding root-only files with the marker
    secret_file: Path
    listener: Listener
    spy: subprocess.Popen      # a process of ours with the marker in its argv and environment
    baseline: dict[str, float] | None = None

    def uid(self, team: str) -> int:
        user = identities.for_slot(self.prefix, DEFAULTS["identities"], get_team(self.event, team).slot)
        return pwd.getpwnam(user).pw_uid

    def pool_uids(self) -> set[int]:
        return {pwd.getpwnam(u).pw_uid for u in identities.pool(self.prefix, DEFAULTS["identities"])}

    def pool_processes(self) -> list[str]:
        """Every live process of any sandbox identity of the pool, as 'pid: command line'.

        A zombie is not alive: it has ended and holds nothing but its pid. One shows up briefly
        when a sandbox ends: the namespace's first process, orphaned, waits for PID 1 to collect
        it (here PID 1 is a container's supervisor, slower at that than an init)."""
        uids, found = self.pool_uids(), []
        for proc in psutil.process_iter(["pid", "uids", "cmdline", "status"]):
            ids = proc.info["uids"]
            if ids and {ids.real, ids.effective} & uids and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(f"{proc.info['pid']}: {' '.join(proc.info['cmdline'] or [])}")
        return found

    def notebook(self, name: str, *cells: str) -> Path:
        return notebook(self.tmp / "notebooks" / f"{name}.ipynb", *cells)

    def submit(self, team: str, nb: Path) -> tuple[Submission, str | None]:
        try:
            submit(self.event, team, nb, self.company.warehouse, self.company.labels)
            message = None
        except InvalidSubmission as error:
            message = str(error)
        return list_submissions(self.event, team)[-1], message

    def honest(self, team: str) -> dict[str, float]:
        record, message = self.submit(team, self.notebook(f"honest-{team}", WRITE_PUSH_PREDICTIONS))
        assert message is None and record.status == "scored", message
        return record.public

    def run(self, team: str, name: str, *cells: str) -> Outcome:
        record, message = self.submit(team, self.notebook(name, *cells))
        leftover = self.pool_processes()
        findings = _findings(record.folder / "executed.ipynb")
        return Outcome(record, message, findings, leftover, self.honest(team))


def _findings(executed: Path) -> dict:
    """The JSON a notebook printed after 'FINDINGS ' (merged over cells); {} when none."""
    found: dict = {}
    if not executed.is_file():
        return found
    for cell in nbformat.read(executed, as_version=4).cells:
        for output in cell.get("outputs", []):
            for line in str(output.get("text", "")).splitlines():
                if line.startswith("FINDINGS "):
                    found |= json.loads(line.removeprefix("FINDINGS "))
    return found


def _host_processes_with(text: str) -> list[str]:
    """Every process on the machine (any user) whose command line holds `text`."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if text in line and proc.pid != os.getpid():
            found.append(f"{proc.info['pid']}: {line}")
    return found


def _ownership(path: Path) -> tuple[int, int, int]:
    info = os.lstat(path)
    return info.st_uid, info.st_gid, info.st_mode


@pytest.fixture(scope="module")
def world(tmp_path_factory, public_company, sandbox_user):
    from matsuri.hackathon.event import init_event

    tmp = tmp_path_factory.mktemp("hostile")
    marker = f"MTS-SECRET-{secrets.token_hex(12)}"
    secret_dir = tmp / "organiser-only"
    secret_dir.mkdir(mode=0o700)
    secret_file = secret_dir / "secret.txt"
    for path, text in ((secret_file, f"{marker}\n"),
                       (secret_dir / "predictions.csv", f"delivery_id,probability\n{marker},1\n")):
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
    folder = tmp / "event"
    folder.mkdir()
    settings = DEFAULTS | LIMITS | {"run_as": sandbox_user}
    (folder / "event.toml").write_text(SETTINGS.format(**settings), encoding="utf-8")
    event, _ = init_event(folder)
    for team in TEAMS:
        add_team(event, team, "push-open-rate")
    workspace = event.teams_dir / "alpha"  # another team's work, beside the event's settings
    workspace.mkdir(parents=True)
    (workspace / "model.ipynb").write_text("{}", encoding="utf-8")
    ssh = Path(pwd.getpwnam("root").pw_dir) / ".ssh"  # root's keys, made for the test if absent
    made_ssh = not ssh.exists()
    if made_ssh:
        ssh.mkdir(mode=0o700)
        (ssh / "id_ed25519").write_text(f"{marker}\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MATSURI_SECRET_TOKEN", marker)
        patch.setenv("MATSURI_WAREHOUSE", str(public_company.warehouse))
        patch.setenv("MATSURI_LABELS", str(public_company.labels))
        spy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)", f"--token={marker}"],
                               env={"PATH": "/usr/bin:/bin", "MATSURI_SECRET_TOKEN": marker})
        listener = Listener()
        tag = str(10**9 + secrets.randbelow(9 * 10**9))  # digits: `sleep 901.<tag>` is valid
        world = World(event, public_company, sandbox_user, marker, tag, tmp, secret_dir, secret_file,
                      listener, spy)
        try:
            world.baseline = world.honest("alpha")
            yield world
        finally:
            listener.close()
            spy.kill()
            spy.wait()
            if made_ssh:
                shutil.rmtree(ssh, ignore_errors=True)


# ---- 3, 4, 8, 12 (and 7: /tmp): one snooping notebook ----------------------------------------------

SNOOP = """
import errno, json, os, shutil, socket, urllib.request

MARK = REV[::-1]
processes, seen = {}, {"cmdline": [], "environ": []}
for entry in sorted(os.listdir("/proc")):
    if not entry.isdigit():
        continue
    for kind in ("cmdline", "environ"):
        try:
            with open(f"/proc/{entry}/{kind}", "rb") as f:
                data = f.read()
        except OSError:
            continue
        if MARK.encode() in data:
            seen[kind].append(entry)
        if kind == "cmdline":
            processes[entry] = [p.decode(errors="replace") for p in data.split(b"\\0") if p]


def attempt(action):
    try:
        action()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return "connected"


def http():
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/", timeout=3) as reply:
        reply.read()


def fill(folder, mb):  # in 4 MB files: no single file may be larger than max_file_mb
    os.mkdir(folder)
    written, error = 0, None
    try:
        for part in range(mb // 4):
            with open(f"{folder}/{part}", "wb") as f:
                f.write(b"x" * 4 * 2**20)
            written += 4
    except OSError as problem:
        error = errno.errorcode.get(problem.errno)
    finally:
        shutil.rmtree(folder)
    return {"mb": written, "error": error}


findings = {
    "uid": os.getuid(),
    "processes": processes,
    "marker_in_proc": seen,
    "network": {
        "socket": attempt(lambda: socket.create_connection(("127.0.0.1", PORT), timeout=3).close()),
        "localhost": attempt(lambda: socket.create_connection(("localhost", PORT), timeout=3).close()),
        "http": attempt(http),
        "interfaces": [name for _, name in socket.if_nameindex()],
    },
    "exists": {name: os.path.lexists(path) for name, path in PATHS.items()},
    "root_home": sorted(os.listdir("/root")) if os.path.isdir("/root") else None,
    "environment": sorted(os.environ),
    "marker_in_environment": any(MARK in value for value in os.environ.values()),
    "tmpfs": {"/tmp": fill("/tmp/fill", 300), "/dev/shm": fill("/dev/shm/fill", 300)},
}
print("FINDINGS " + json.dumps(findings))
"""


HIDDEN = ["another team's workspace", "event.toml (split_seed)", "the event's state folder",
          "the event's store", "datasets/ORGANISERS.md", "the labels store", "a root-only secret file",
          "root's ssh keys"]


def _hidden_paths(world: World) -> dict[str, str]:
    """Organiser paths a notebook might look for (each exists on the host), by HIDDEN's names."""
    found = [world.event.teams_dir / "alpha", world.event.root / "event.toml", world.event.state,
             world.event.db, paths.project_root() / "datasets" / "ORGANISERS.md", world.company.labels,
             world.secret_file, Path(pwd.getpwnam("root").pw_dir) / ".ssh"]
    return dict(zip(HIDDEN, map(str, found), strict=True))


@pytest.fixture(scope="module")
def snooping(world):
    constants = (f"REV = {world.marker[::-1]!r}\nPORT = {world.listener.port}\n"
                 f"PATHS = {_hidden_paths(world)!r}\n")
    return world.run("bravo", "snoop", WRITE_PUSH_PREDICTIONS, constants + SNOOP)


def test_snooping_notebook_ran_and_scored(snooping, world):
    """Did the snooping notebook run to the end as its team's identity (so its findings count)?"""
    assert snooping.message is None and snooping.record.status == "scored"
    assert snooping.findings["uid"] == world.uid("bravo") != 0


def test_proc_shows_no_organiser_process_command_line_or_environment(snooping, world):
    """Does scanning /proc/*/cmdline and /proc/*/environ find nothing of the organiser's process?"""
    own = Path(f"/proc/{world.spy.pid}")
    assert world.marker.encode() in (own / "cmdline").read_bytes() + (own / "environ").read_bytes()
    assert snooping.findings["marker_in_proc"] == {"cmdline": [], "environ": []}


def test_proc_lists_only_the_sandboxs_own_processes(snooping):
    """Are the numbered entries of /proc only the sandbox's couple of processes (pid 1 and 2)?"""
    processes = snooping.findings["processes"]
    assert set(processes) <= {"1", "2", "3"} and "1" in processes, processes
    programs = {Path(argv[0]).name for argv in processes.values() if argv}
    assert all(p == "bwrap" or p.startswith("python") for p in programs), processes


def test_a_connection_to_the_organisers_loopback_is_refused(snooping):
    """Does socket.create_connection to an organiser's server on 127.0.0.1 (and localhost) fail?"""
    network = snooping.findings["network"]
    assert network["socket"].startswith("ConnectionRefusedError"), network
    assert network["localhost"] != "connected" and "Error" in network["localhost"], network


def test_http_to_the_organisers_loopback_fails(snooping):
    """Does urllib to an organiser's HTTP server on 127.0.0.1 fail inside?"""
    assert snooping.findings["network"]["http"].startswith("URLError"), snooping.findings["network"]


def test_the_organisers_server_saw_no_connection(snooping, world):
    """Did the organiser's server on 127.0.0.1 record no connection at all from the sandbox?"""
    with socket.create_connection(("127.0.0.1", world.listener.port), timeout=3) as probe:
        assert probe.recv(64).startswith(b"HTTP/1.0 200")  # it was listening all along
        ours = probe.getsockname()
    assert world.listener.connections == [ours]


def test_the_only_network_interface_is_loopback(snooping):
    """Is loopback the only network interface inside (no way to any other host)?"""
    assert snooping.findings["network"]["interfaces"] == ["lo"]


@pytest.mark.parametrize("name", HIDDEN)
def test_organiser_paths_do_not_exist_inside(name, snooping, world):
    """Does this organiser path not exist at all inside (not merely unreadable)?"""
    assert Path(_hidden_paths(world)[name]).exists()  # it does on the host
    assert snooping.findings["exists"][name] is False


def test_roots_home_holds_nothing_but_the_python_the_kit_runs_on(snooping):
    """Is root's $HOME empty inside, but for the folders leading to the bound Python (if any)?

    On this machine Python is installed under /root/.pyenv, so /root exists inside as the mount
    point's parent, holding only that path; on a server with Python in /usr or /opt it is absent.
    """
    home = pwd.getpwnam("root").pw_dir
    needed = sorted({Path(p).relative_to(home).parts[0] for p in _python_paths()
                     if Path(p).is_relative_to(home)})
    assert snooping.findings["root_home"] == (needed or None)


def test_the_organisers_environment_is_not_inside(snooping):
    """Is the organiser's MATSURI_SECRET_TOKEN (or any value holding it) absent from os.environ inside?"""
    assert os.environ["MATSURI_SECRET_TOKEN"]  # set in this process for the whole module
    assert "MATSURI_SECRET_TOKEN" not in snooping.findings["environment"]
    assert not snooping.findings["marker_in_environment"]


def test_tmp_and_shm_inside_are_small(snooping):
    """Does writing 300 MB into /tmp or /dev/shm stop at their size (256 MB) with 'no space'?"""
    tmpfs = snooping.findings["tmpfs"]
    assert tmpfs["/tmp"]["error"] == tmpfs["/dev/shm"]["error"] == "ENOSPC", tmpfs
    assert tmpfs["/tmp"]["mb"] <= 256 and tmpfs["/dev/shm"]["mb"] <= 256, tmpfs


# ---- 1: processes that try to outlive the run -----------------------------------------------------

LINGER = """
import os, subprocess, sys, time

subprocess.Popen(["sleep", f"901.{TAG}"], start_new_session=True)
child = os.fork()
if child == 0:  # a double-forked daemon in its own session
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", f"902.{TAG}"])
    os._exit(0)
os.waitpid(child, 0)
subprocess.run(f"nohup sh -c 'sleep 903.{TAG}; true' >/dev/null 2>&1 &", shell=True, check=True)
stubborn = ("import signal, time\\n"
            "for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT): signal.signal(s, signal.SIG_IGN)\\n"
            "time.sleep(900)")
subprocess.Popen([sys.executable, "-c", stubborn, f"904.{TAG}"], start_new_session=True)
time.sleep(1)
"""

ALIVE = """
import json, os
alive = []
for entry in os.listdir("/proc"):
    try:
        with open(f"/proc/{entry}/cmdline", "rb") as f:
            alive.append(f.read().replace(b"\\0", b" ").decode())
    except OSError:
        pass
print("FINDINGS " + json.dumps({"alive": [a for a in alive if TAG in a]}))
"""

LINGERING = {"a new-session sleep": "901", "a double-forked daemon": "902",
             "a nohup'd background shell": "903", "a process ignoring SIGTERM and SIGHUP": "904"}


@pytest.fixture(scope="module")
def lingering(world):
    tag = f"TAG = {world.tag!r}\n"
    outcome = world.run("bravo", "linger", tag + LINGER, WRITE_PUSH_PREDICTIONS, tag + ALIVE)
    outcome.findings["host"] = {kind: _host_processes_with(f"{n}.{world.tag}")
                                for kind, n in LINGERING.items()}
    return outcome


@pytest.mark.parametrize("kind", list(LINGERING))
def test_a_background_process_does_not_outlive_the_run(kind, lingering, world):
    """Is this background process, alive when the notebook ended, gone once `submit` returns?"""
    assert lingering.record.status == "scored", lingering.message
    assert any(f"{LINGERING[kind]}.{world.tag}" in line for line in lingering.findings["alive"])
    assert lingering.findings["host"][kind] == []


def test_no_process_of_any_sandbox_identity_is_left(lingering):
    """Once `submit` returns, is no process of any pool identity alive on the machine?"""
    assert lingering.leftover == []


def test_another_teams_later_run_is_unaffected(lingering, world):
    """Does another team's honest run right after score exactly the honest baseline?"""
    assert world.honest("charlie") == world.baseline


def test_runs_leave_nothing_in_the_organisers_process(lingering, world):
    """After runs end, does the process that ran them hold no extra thread, descriptor or child?"""
    def held() -> tuple[int, int, list[int]]:
        return (threading.active_count(), len(os.listdir("/proc/self/fd")),
                sorted(child.pid for child in psutil.Process().children()))

    before = held()
    for _ in range(2):
        world.honest("charlie")
    threads, descriptors, children = held()
    assert (threads, children) == (before[0], before[2])
    assert descriptors <= before[1] + 2, (descriptors, before[1])


# ---- 2: links in the run folder to root-only files -------------------------------------------------

LINK_FILES = """
import os
from pathlib import Path
out = Path(output_dir)
os.symlink(SECRET_FILE, out / "predictions.csv")
os.symlink(SECRET_FILE, out / "keywords.csv")
os.symlink(SECRET_DIR, out / "results")
"""

LINK_FOLDER = """
import os
from pathlib import Path
out = Path(output_dir)
os.symlink(SECRET_DIR, out / "results")  # the folder holds a root-only predictions.csv
os.symlink("/", out / "everything")
"""

SWAPPER = """
import os, subprocess, sys, time
from pathlib import Path
out = Path(output_dir)
os.rename(out / "predictions.csv", out / "real.csv")
swap = (f"import os\\nos.chdir({str(out)!r})\\nwhile True:\\n"
        f"    os.link('real.csv', 'p.tmp'); os.replace('p.tmp', 'predictions.csv')\\n"
        f"    os.symlink({SECRET_FILE!r}, 'l.tmp'); os.replace('l.tmp', 'predictions.csv')\\n")
subprocess.Popen([sys.executable, "-c", swap, TAG], start_new_session=True)
time.sleep(1)
"""


def _planted(world: World) -> dict[str, tuple[int, int, int]]:
    return {str(p): _ownership(p) for p in (world.secret_dir, *sorted(world.secret_dir.iterdir()))}


def _constants(world: World) -> str:
    return (f"SECRET_FILE = {str(world.secret_file)!r}\nSECRET_DIR = {str(world.secret_dir)!r}\n"
            f"TAG = {world.tag!r}\n")


@pytest.fixture(scope="module")
def linked(world):
    before = _planted(world)
    outcomes = {
        "files": world.run("bravo", "link-files", _constants(world) + LINK_FILES),
        "folder": world.run("bravo", "link-folder", _constants(world) + LINK_FOLDER),
        "swapper": world.run("bravo", "link-swapper", WRITE_PUSH_PREDICTIONS, _constants(world) + SWAPPER),
    }
    return outcomes, before, _planted(world)


def _produced(record: Submission) -> dict[str, bytes]:
    """Every file a submission's folder holds (never through a link), by path."""
    found = {}
    for path in sorted(record.folder.rglob("*")):
        assert not path.is_symlink(), f"a link was kept: {path}"
        if path.is_file():
            found[str(path)] = path.read_bytes()
    return found


def _leaks(record: Submission, message: str | None, secret: bytes) -> list[str]:
    where = [path for path, data in _produced(record).items() if secret in data]
    return where + (["the message"] if message and secret.decode() in message else [])


def test_outputs_linked_to_root_only_files_are_refused_and_leak_nothing(linked, world):
    """predictions.csv, keywords.csv and a folder as links to root-only files: refused, nothing leaked?"""
    outcome = linked[0]["files"]
    assert outcome.record.status == "rejected" and "is not an ordinary file" in outcome.message
    assert _leaks(outcome.record, outcome.message, world.marker.encode()) == []


def test_a_folder_linked_to_a_root_only_folder_is_not_followed(linked, world):
    """A sub-folder linked to a root-only folder holding predictions.csv: not followed, nothing leaked?"""
    outcome = linked[0]["folder"]
    assert outcome.record.status == "rejected" and "wrote no predictions.csv" in outcome.message
    assert not (outcome.record.folder / "files").exists()
    assert _leaks(outcome.record, outcome.message, world.marker.encode()) == []


def test_a_swapper_racing_the_collection_gets_nothing(linked, world):
    """A background process swapping predictions.csv between a file and a link: no secret out?"""
    outcome = linked[0]["swapper"]
    if outcome.record.status == "scored":  # the file was in place when the run was stopped
        assert outcome.record.public == world.baseline
    else:
        assert "is not an ordinary file" in outcome.message, outcome.message
    assert _leaks(outcome.record, outcome.message, world.marker.encode()) == []
    assert _host_processes_with(world.tag) == []


def test_no_planted_file_changed_owner_or_mode(linked):
    """Are the root-only files the links pointed at, and their folder, still root's, unchanged?"""
    _, before, after = linked
    assert after == before
    assert all(uid == 0 and mode & 0o077 == 0 for uid, _, mode in after.values())


# ---- 5, 6, 7: limits of the run as a whole ---------------------------------------------------------

CHILDREN = """
import concurrent.futures, multiprocessing, time

def hold(n):
    block = b"x" * (400 * 2**20)
    time.sleep(5)
    return len(block)

with concurrent.futures.ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("fork")) as pool:
    print(list(pool.map(hold, range(3))))
"""

MANY = """
import subprocess
sleepers = [subprocess.Popen(["sleep", f"600.{TAG}"]) for _ in range(600)]
"""

BOMB = """
import subprocess, time
subprocess.Popen(["sh", "-c", f"b() {{ b | b & }}; b # {TAG}"], start_new_session=True)
time.sleep(3)
for _ in range(50):
    subprocess.run(["true"], check=True)
raise RuntimeError("the fork bomb never reached the limit")
"""

BIG_FILE = """
from pathlib import Path
with open(Path(output_dir) / "big.bin", "wb") as f:
    for _ in range(8):
        f.write(b"x" * 2**20)
"""

FILL_FOLDER = """
from pathlib import Path
for part in range(10):
    (Path(output_dir) / f"part{part}.bin").write_bytes(b"x" * 4 * 2**20)
"""

TMPFS = """
import os
for folder in ("/dev/shm", "/tmp"):
    os.mkdir(f"{folder}/{NAME}")
    for part in range(50):
        with open(f"{folder}/{NAME}/{NAME}-{part}", "wb") as f:
            f.write(b"x" * 4 * 2**20)
"""


@pytest.fixture(scope="module")
def children(world):
    return world.run("bravo", "children", CHILDREN, WRITE_PUSH_PREDICTIONS)


@pytest.fixture(scope="module")
def many(world):
    outcome = world.run("bravo", "many", f"TAG = {world.tag!r}\n" + MANY, WRITE_PUSH_PREDICTIONS)
    outcome.findings["host"] = _host_processes_with(f"600.{world.tag}")
    return outcome


@pytest.fixture(scope="module")
def bomb(world):
    outcome = world.run("bravo", "bomb", f"TAG = {world.tag!r}\n" + BOMB, WRITE_PUSH_PREDICTIONS)
    outcome.findings["host"] = _host_processes_with(world.tag)
    return outcome


@pytest.fixture(scope="module")
def big_file(world):
    return world.run("bravo", "big-file", BIG_FILE, WRITE_PUSH_PREDICTIONS)


@pytest.fixture(scope="module")
def full_folder(world):
    return world.run("bravo", "full-folder", FILL_FOLDER, WRITE_PUSH_PREDICTIONS)


@pytest.fixture(scope="module")
def tmpfs(world):
    name = f"matsuri-hostile-{world.tag}"
    outcome = world.run("bravo", "tmpfs", f"NAME = {name!r}\n" + TMPFS,
                        "hog = b'x' * (400 * 2**20)", WRITE_PUSH_PREDICTIONS)
    outcome.findings["name"] = name
    return outcome


def _plain(message: str | None) -> str:
    """A refusal in one paragraph, with no traceback, that says how to go on."""
    assert message and "\n" not in message and "Traceback" not in message, message
    assert "submit again" in message, message
    return message


def test_children_together_over_the_memory_limit_run_out_of_memory(children):
    """Three children of 400 MB each, under the 768 MB limit alone but over it together: refused?"""
    assert children.record.status == "rejected"
    assert "ran out of memory" in _plain(children.message) and "768 MB" in children.message
    assert children.leftover == []
    assert psutil.virtual_memory().available > 1 * 2**30  # the machine is fine


def test_six_hundred_processes_hit_the_process_limit(many):
    """Starting 600 processes: refused with 'more than the 64 processes', none left?"""
    assert many.record.status == "rejected"
    assert "tried to start more than the 64 processes" in _plain(many.message)
    assert many.leftover == [] and many.findings["host"] == []


def test_a_shell_fork_bomb_is_contained_and_cleaned_up(bomb):
    """A shell fork bomb: refused in plain words, and not one of its processes left?"""
    assert bomb.record.status == "rejected"
    assert "tried to start more than the 64 processes" in _plain(bomb.message)
    assert bomb.leftover == [] and bomb.findings["host"] == []


def test_a_file_over_max_file_mb_is_refused_in_plain_words(big_file):
    """Writing an 8 MB file with max_file_mb = 5: refused with 'larger than 5 MB'?"""
    assert big_file.record.status == "rejected"
    assert "tried to write a file larger than 5 MB in code cell 2" in _plain(big_file.message)


def test_filling_the_run_folder_is_refused_in_plain_words(full_folder):
    """Writing 40 MB into a 16 MB run folder: refused with 'filled its run folder'?"""
    assert full_folder.record.status == "rejected"
    assert "filled its run folder in code cell 2" in _plain(full_folder.message)
    assert "16 MB" in full_folder.message


def test_files_in_tmp_and_shm_count_toward_the_runs_memory(tmpfs):
    """200 MB in /dev/shm, 200 MB in /tmp and then 400 MB in memory: out of memory at 768 MB?"""
    assert tmpfs.record.status == "rejected"
    assert "ran out of memory" in _plain(tmpfs.message) and "768 MB" in tmpfs.message


def test_nothing_written_to_tmp_or_shm_reaches_the_host(tmpfs):
    """After the run, is there no file of that name in the host's /tmp or /dev/shm?"""
    name = tmpfs.findings["name"]
    found = [os.path.join(top, n) for folder in ("/tmp", "/dev/shm")
             for top, dirs, files in os.walk(folder) for n in files + dirs if n.startswith(name)]
    assert found == []


# ---- 9: escape sequences in a notebook's error ----------------------------------------------------

ESCAPES = ('raise type("Model\\x1b]0;pwned\\x07Error", (Exception,), {})'
           '("\\x1b[2J\\x1b]0;pwned\\x07the model \\x1b[31mbroke\\u202e")')


HOSTILE_NAME = "model\x1b]0;pwned\x07\x1b[2J\u202e"  # the notebook's file name, too


@pytest.fixture(scope="module")
def escapes(world):
    return world.run("bravo", HOSTILE_NAME, ESCAPES)


def test_an_error_with_escape_sequences_is_stored_without_them(escapes, world):
    """Is the stored message of a notebook raising escape sequences free of ESC, BEL and the title?"""
    stored = get_submission(world.event, escapes.record.id).message
    assert stored == escapes.message
    assert not any(c in stored for c in TERMINAL_CONTROLS), repr(stored)
    assert "The notebook model.ipynb stopped with an error in code cell 2 (ModelError: the model " \
           "broke)" in stored, stored


def test_the_run_log_keeps_what_the_notebook_printed_without_escape_sequences(escapes):
    """Do papermill's lines in log.txt (the notebook's name, its traceback) carry no escapes?"""
    log = (escapes.record.folder / "log.txt").read_text(encoding="utf-8")
    run_lines = log.splitlines()[:-1]  # the last line is the outcome, written by `submit`
    assert "Executing Cell 2" in log and "the model broke" in log
    assert [line for line in run_lines if any(c in line for c in TERMINAL_CONTROLS)] == []


def test_the_outcome_line_of_the_run_log_has_no_escape_sequences(escapes):
    """Does the outcome line `submit` ends log.txt with carry no escapes from the file's name?"""
    last = (escapes.record.folder / "log.txt").read_text(encoding="utf-8").splitlines()[-1]
    assert "rejected" in last and not any(c in last for c in TERMINAL_CONTROLS), repr(last)


def test_the_cli_shows_a_hostile_error_without_escape_sequences(world, escapes):
    """Do `submit` and `submissions --id` on the command line show that error without escapes?"""
    args = ["hackathon", "--event", str(world.event.root)]
    nb = world.notebook("escapes-cli", ESCAPES)
    submitted = run_matsuri([*args, "submit", str(nb), "--team", "delta"], exit_code=InvalidSubmission.exit_code,
                            env={"COLUMNS": "250"}, timeout=120)
    newest = list_submissions(world.event, "delta")[-1]
    shown = run_matsuri([*args, "submissions", "delta", "--id", str(newest.id)], env={"COLUMNS": "250"})
    for output in (submitted.out, submitted.err, shown.out, shown.err):
        assert not any(c in output for c in TERMINAL_CONTROLS), repr(output)
    assert "ModelError: the model broke" in submitted.err
    assert world.honest("delta") == world.baseline


# ---- 10: the organiser's command interrupted or killed ---------------------------------------------

SLEEP = 'import subprocess\nsubprocess.run(["sleep", f"300.{TAG}"])'


def _start_cli(world: World, team: str) -> tuple[subprocess.Popen, Path, dict]:
    """The real `matsuri hackathon submit` of a notebook that sleeps, once its sleep runs inside;
    returns the command, its run folder and that folder's record."""
    nb = world.notebook(f"sleeps-{team}", f"TAG = {world.tag!r}\n" + SLEEP)
    cli = subprocess.Popen([str(BIN / "matsuri"), "hackathon", "--event", str(world.event.root),
                            "submit", str(nb), "--team", team], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, cwd=ROOT, env=os.environ | {"COLUMNS": "250"})
    uid, deadline = world.uid(team), time.monotonic() + 90
    while time.monotonic() < deadline:
        assert cli.poll() is None, cli.communicate()
        running = [p for p in psutil.process_iter(["uids", "cmdline"])
                   if p.info["uids"] and p.info["uids"].real == uid
                   and f"300.{world.tag}" in " ".join(p.info["cmdline"] or [])]
        for folder in runs_root().iterdir() if running else ():
            try:
                record = json.loads((folder / "sandbox.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if record["owner"].split(":")[0] == str(cli.pid):
                return cli, folder, record
        time.sleep(0.1)
    cli.kill()
    raise AssertionError(f"the sandboxed kernel never started: {cli.communicate()}")


def _gone(world: World, folder: Path, record: dict) -> list[str]:
    """What is left of a run: its folder, its mount, its cgroup folders."""
    mounts = Path("/proc/self/mountinfo").read_text()
    left = [str(folder)] if folder.exists() else []
    left += [f"mount {folder / 'work'}"] if f" {folder / 'work'} " in mounts else []
    return left + [p for p in record["cgroup"].values() if Path(p).exists()]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_submit_stops_promptly_and_leaves_nothing(sig, world):
    """Ctrl-C (or SIGTERM) during a run: exit 130 within seconds, nothing left, not counted?"""
    team = "echo" if sig == signal.SIGINT else "foxtrot"
    before = remaining(world.event, team)
    cli, folder, record = _start_cli(world, team)
    started = time.monotonic()
    os.kill(cli.pid, sig)
    out, err = cli.communicate(timeout=PROMPT + 10)
    took = time.monotonic() - started
    assert cli.returncode == 130 and took < PROMPT, (cli.returncode, took, out, err)
    assert "cancelled" in err
    assert world.pool_processes() == []
    assert _gone(world, folder, record) == []
    newest = list_submissions(world.event, team)[-1]
    assert newest.status == "cancelled" and newest.public == {}
    assert remaining(world.event, team) == before
    assert world.honest(team) == world.baseline


def test_a_killed_submit_takes_its_sandbox_along_and_the_next_submit_cleans_up(world):
    """kill -9 of the command: its sandbox dies with it, and the team's next submit cancels the
    row and removes the run's folder, mount and cgroup?"""
    team = "echo"
    before = remaining(world.event, team)
    cli, folder, record = _start_cli(world, team)
    killed = list_submissions(world.event, team)[-1]
    cli.kill()
    cli.communicate(timeout=10)
    deadline = time.monotonic() + 10
    while world.pool_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert world.pool_processes() == []
    assert get_submission(world.event, killed.id).status == "running"
    assert folder.exists()  # nobody was left to clean up: the next run does
    assert world.honest(team) == world.baseline
    assert get_submission(world.event, killed.id).status == "cancelled"
    assert _gone(world, folder, record) == []
    today, total = before
    assert remaining(world.event, team) == (today - 1, total - 1)  # only the honest run counts


# ---- 11, 12: after everything --------------------------------------------------------------------

HOSTILE_RUNS = ["snooping", "lingering", "children", "many", "bomb", "big_file", "full_folder",
                "tmpfs", "escapes"]


@pytest.mark.parametrize("run", HOSTILE_RUNS)
def test_an_honest_submission_after_a_hostile_one_scores_as_before(run, request, world):
    """Does the same team's honest submission right after this hostile run score exactly as before?"""
    assert request.getfixturevalue(run).honest_after == world.baseline


def test_the_link_runs_are_followed_by_honest_scores(linked, world):
    """After each link trick, does the team's honest submission score exactly as before?"""
    assert [o.honest_after for o in linked[0].values()] == [world.baseline] * 3


def _fingerprints(data: bytes, count: int = 24) -> list[bytes]:
    """Distinctive 64-byte pieces of a binary file (many different byte values)."""
    pieces = [data[i:i + 64] for i in range(0, len(data) - 64, 61)]
    return [p for p in pieces if len(set(p)) >= 32][:count]


def test_no_secret_is_in_anything_any_run_produced(world, request):
    """Are the marker (file, environment, process) and the labels' bytes in nothing any run left
    (executed notebooks, logs, files) nor in any stored message?"""
    for run in HOSTILE_RUNS + ["linked"]:
        request.getfixturevalue(run)
    pieces = _fingerprints(world.company.labels.read_bytes())
    assert len(pieces) >= 5
    leaks = []
    for folder in sorted((world.event.state / "submissions").iterdir()):
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                if world.marker.encode() in data or any(p in data for p in pieces):
                    leaks.append(str(path))
    with world.event.connect() as con:
        messages = [r[0] or "" for r in con.execute("SELECT message FROM submissions")]
    assert len(messages) >= 20
    assert leaks == [] and [m for m in messages if world.marker in m] == []


