"""Does a server forked from the hub's warm process hold nothing of root's, and do stop, poll,
restart and the hub's own restart work as with a normally started server? Does a server still start
when that process is stuck or gone?

One real JupyterHub (the kit's config) on free 127.0.0.1 ports, with real system accounts that the
kit creates and the fixture removes.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from infra_hub import HubUser, cleanup_accounts, run_code

from conftest import free_port
from matsuri.infra import participants, settings
from matsuri.infra.hub import launch
from matsuri.infra.hub.provisioner import HubProvisioner
from matsuri.infra.hub.warm_spawner import ENV_KEEP

pytestmark = [pytest.mark.slow]
ZYGOTE = "matsuri.infra.hub.warm_spawner"


@dataclass
class Hub:
    settings: settings.Settings
    base: str
    password: str
    log: Path
    names: dict
    running: object  # launch.running(...) context, entered
    pid: int

    def user(self, key: str) -> HubUser:
        return HubUser(self.base, self.names[key], self.password)

    def start(self) -> None:
        self.running = launch.running(self.settings, self.log, timeout=180)
        self.pid = self.running.__enter__().pid


@pytest.fixture(scope="module")
def hub():
    event = f"t{secrets.token_hex(3)}"
    root = Path(tempfile.mkdtemp(prefix=f"matsuri-hub-{event}-"))  # not pytest's: see test_hub_one_vm
    root.chmod(0o755)
    names = {k: f"{event}-{k}" for k in ("ann", "ben", "cat", "dan", "eve")}
    people = participants.parse(["username,email,role,team"] + [f"{n},{k}@example.com,learner,"
                                                               for k, n in names.items()])
    ports = {k: free_port() for k in ("port", "hub_port", "proxy_api_port", "formgrader_port", "gallery_port")}
    config = settings.from_dict({
        "event": {"id": event, "course": "tiny"},
        "jupyterhub": {"state_dir": str(root / "state"), "ip": "127.0.0.1", **ports,
                       "holdout": str(root / "none"), "warehouse": str(root / "no-warehouse.duckdb"),
                       "gallery_command": ["python", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]}})
    state = None
    try:
        report = HubProvisioner(config, people).apply(progress=False)
        assert not report.failed, [(o.action.name, o.message) for o in report.failed]
        password = (root / "state" / "secrets" / "shared-password").read_text().strip()
        state = Hub(config, f"http://127.0.0.1:{ports['port']}", password, root / "hub.log", names, None, 0)
        state.start()
        yield state
    finally:
        if state is not None and state.running is not None:
            state.running.__exit__(None, None, None)
        HubProvisioner(config, []).destroy(progress=False)
        cleanup_accounts(event)
        shutil.rmtree(root, ignore_errors=True)


# --- reading processes (as root) ---------------------------------------------------------------
def status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, value in (line.split(":", 1) for line in lines)}


def parent(pid: int) -> int:
    return int(status(pid)["PPid"])


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if parent(int(entry.name)) == pid:
                    found.append(int(entry.name))
            except (OSError, KeyError):
                pass
    return found


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def zygote_of(hub: Hub) -> int | None:
    found = [pid for pid in children(hub.pid) if ZYGOTE in cmdline(pid)]
    return found[0] if found else None


def server_of(user: HubUser) -> int:
    """The pid of the user's running jupyterhub-singleuser (not its kernels or their zygote)."""
    uid = pwd.getpwnam(user.name).pw_uid
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(status(int(entry.name))["Uid"].split()[0]) == uid and \
                        "jupyterhub-singleuser" in cmdline(int(entry.name)):
                    return int(entry.name)
            except (OSError, KeyError):
                pass
    raise AssertionError(f"no server process of {user.name}")


def environ(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(p.decode().split("=", 1) for p in pairs if b"=" in p)


def fd_targets(pid: int) -> dict[int, str]:
    folder = Path(f"/proc/{pid}/fd")
    targets = {}
    for fd in folder.iterdir():
        try:
            targets[int(fd.name)] = os.readlink(fd)
        except OSError:  # closed meanwhile
            pass
    return targets


def memory_holds(pid: int, needle: bytes) -> bool:
    """Whether `needle` is anywhere in the readable memory of process `pid` (read as root)."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as memory:
        for line in maps:
            fields = line.split()
            if not fields[1].startswith("r") or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                memory.seek(start)
                if needle in memory.read(end - start):
                    return True
            except OSError:  # a region that cannot be read (a guard page)
                continue
    return False


def gone(pid: int, timeout: float = 60) -> bool:
    """True once `pid` no longer exists (a zombie still exists: it must have been reaped)."""
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop(user: HubUser) -> None:
    assert user.hub("DELETE", f"/users/{user.name}/server").status_code in (202, 204)
    deadline = time.monotonic() + 90
    while user.server_running():
        assert time.monotonic() < deadline, f"{user.name}'s server did not stop"
        time.sleep(0.25)


# --- the tests ---------------------------------------------------------------------------------
def test_a_warm_server_is_the_participant_with_nothing_of_roots(hub):
    ann = hub.user("ann")
    ann.ensure_running()
    server, zygote = server_of(ann), zygote_of(hub)
    assert zygote and parent(server) == zygote  # forked warm, not started the normal way
    account = pwd.getpwnam(ann.name)
    fields = status(server)
    assert fields["Uid"].split() == [str(account.pw_uid)] * 4  # real, effective, saved, filesystem
    assert fields["Gid"].split() == [str(account.pw_gid)] * 4
    assert sorted(map(int, fields["Groups"].split())) == sorted(os.getgrouplist(ann.name, account.pw_gid))
    for capabilities in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert int(fields[capabilities], 16) == 0, capabilities
    assert os.readlink(f"/proc/{server}/cwd") == account.pw_dir
    assert status(zygote)["Uid"].split()[0] == "0" and status(zygote)["Threads"] == "1"

    # The environment: the spawner's, as ps and /proc show it and as the server really has it
    # (its kernels inherit it); nothing of the hub's own (its settings, the proxy's token).
    shown = environ(server)
    assert shown["USER"] == shown["JUPYTERHUB_USER"] == ann.name and shown["HOME"] == account.pw_dir
    assert "jupyterhub-singleuser" in cmdline(server) and ZYGOTE not in cmdline(server)
    assert Path(f"/proc/{server}/comm").read_text().strip().startswith("jupyterhub-sing")
    assert "MATSURI_HUB_SETTINGS" in environ(hub.pid)
    inside = json.loads(run_code(ann, "import json, os; print(json.dumps({'env': dict(os.environ), "
                                      "'uid': os.getuid(), 'groups': os.getgroups(), 'cwd': os.getcwd()}))"))
    for env in (shown, inside["env"]):
        assert not {"MATSURI_HUB_SETTINGS", "CONFIGPROXY_AUTH_TOKEN", "JPY_COOKIE_SECRET"} & set(env)
        assert env["USER"] == ann.name and env["HOME"] == account.pw_dir
    assert set(shown) <= set(inside["env"])  # the kernel's is the server's, plus the kernel's own
    assert inside["uid"] == account.pw_uid and sorted(inside["groups"]) == sorted(
        os.getgrouplist(ann.name, account.pw_gid))
    assert set(environ(zygote)) <= set(ENV_KEEP)  # the zygote itself has nothing else to hand on

    # Another participant's server, forked from the same process, holds nothing of ann's: her
    # server's token never went through the zygote.
    ben = hub.user("ben")
    ben.ensure_running()
    token = shown["JUPYTERHUB_API_TOKEN"].encode()
    assert memory_holds(server, token)  # (the check finds it where it is)
    assert not memory_holds(zygote, token) and not memory_holds(server_of(ben), token)
    stop(ben)

    # Open files: stdin is /dev/null; nothing under root's or the hub's folders; no socket of the
    # zygote's (its channel to the hub) or of the hub's.
    targets = fd_targets(server)
    assert targets[0] == "/dev/null"
    state = str(Path(hub.settings.jupyterhub.state_dir).resolve())
    for target in targets.values():
        assert not target.startswith(("/root", state)), target
    theirs = {t for pid in (zygote, hub.pid) for t in fd_targets(pid).values() if t.startswith("socket:")}
    assert not theirs & {t for t in targets.values() if t.startswith("socket:")}


def test_stop_poll_and_restart_work_on_a_warm_server(hub):
    ben = hub.user("ben")
    ben.ensure_running()
    first = server_of(ben)
    stop(ben)
    assert gone(first)  # stopped, and reaped (no zombie left for the hub to mistake for a server)
    ben.ensure_running()
    second = server_of(ben)
    assert second != first and parent(second) == zygote_of(hub)
    os.kill(second, signal.SIGKILL)  # the server dies behind the hub's back
    assert gone(second)
    answer = ben.hub("POST", f"/users/{ben.name}/server")
    assert answer.status_code in (201, 202), answer.text  # the hub polled and saw it had ended
    ben.wait_ready()
    assert server_of(ben) != second
    assert ben.get(f"/user/{ben.name}/api/status").status_code == 200
    stop(ben)


def test_servers_start_the_normal_way_when_the_zygote_is_stuck_and_warm_again_after(hub):
    cat, dan, eve = hub.user("cat"), hub.user("dan"), hub.user("eve")
    eve.ensure_running()  # the zygote has imported and forks
    stuck = zygote_of(hub)
    assert stuck and parent(server_of(eve)) == stuck
    stop(eve)
    os.kill(stuck, signal.SIGSTOP)
    try:
        cat.ensure_running()  # the hub gives up on the zygote after a while and starts it normally
    finally:
        if Path(f"/proc/{stuck}").exists():
            os.kill(stuck, signal.SIGCONT)
    assert parent(server_of(cat)) == hub.pid
    assert cat.get(f"/user/{cat.name}/api/status").status_code == 200
    assert gone(stuck)  # abandoned
    assert "starting it the normal way" in hub.log.read_text()
    dan.ensure_running()  # the next server: a new zygote
    fresh = zygote_of(hub)
    assert fresh and fresh != stuck and parent(server_of(dan)) == fresh
    os.kill(fresh, signal.SIGKILL)  # gone altogether: the next server still starts
    assert gone(fresh)
    eve.ensure_running()
    assert eve.get(f"/user/{eve.name}/api/status").status_code == 200
    assert server_of(dan) and dan.get(f"/user/{dan.name}/api/status").status_code == 200  # unharmed
    for user in (cat, dan, eve):
        stop(user)


def test_the_hub_stops_its_servers_and_zygote_and_restarts_warm(hub):
    ann = hub.user("ann")
    ann.ensure_running()
    server, zygote = server_of(ann), zygote_of(hub)
    hub.running.__exit__(None, None, None)
    hub.running = None
    assert gone(server) and gone(zygote)  # nothing left running as root or as ann
    hub.start()
    ann = hub.user("ann")
    ann.ensure_running()
    assert parent(server_of(ann)) == zygote_of(hub) != zygote
    assert ann.get(f"/user/{ann.name}/api/status").status_code == 200
