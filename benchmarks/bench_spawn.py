"""JupyterHub spawn time on one VM: one server, and three at once (median of several rounds).

Compared, in the same run, with the obvious alternative: starting the same single-user server
directly as the same system account, without the hub (what a hub adds on top: OAuth, proxy routes,
the spawner's bookkeeping). Needs root (it creates and removes system accounts).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "tests" / "infra"))
sys.path.insert(0, str(ROOT / "tests"))  # before any site-packages conftest
from common import median, save  # noqa: E402
from infra_hub import HubUser  # noqa: E402

from matsuri.infra import participants, settings  # noqa: E402
from matsuri.infra.hub import launch  # noqa: E402
from matsuri.infra.hub.layout import HubLayout  # noqa: E402
from matsuri.infra.hub.provisioner import HubProvisioner  # noqa: E402

ROUNDS = 5
LEARNERS = 3 * ROUNDS


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(user: HubUser) -> float:
    start = time.monotonic()
    user.start()
    return user.wait_ready(timeout=180) - start


def stop(user: HubUser) -> None:
    user.hub("DELETE", f"/users/{user.name}/server")
    deadline = time.monotonic() + 60
    while user.server_running() and time.monotonic() < deadline:
        time.sleep(0.25)


def direct_start(name: str, bin_dir: Path) -> float:
    """The same server started directly as the account, until its API answers."""
    port = free_port()
    start = time.monotonic()
    proc = subprocess.Popen(["runuser", "-u", name, "--", str(bin_dir / "jupyter"), "lab", "--no-browser",
                             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                             "--IdentityProvider.token=bench", f"--ServerApp.root_dir=/home/{name}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "HOME": f"/home/{name}"})
    try:
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/status?token=bench", timeout=2).ok:
                    return time.monotonic() - start
            except requests.RequestException:
                time.sleep(0.1)
            if time.monotonic() - start > 120:
                raise TimeoutError("direct start took over 120 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    if os.geteuid() != 0:
        print("bench_spawn needs root: it creates system accounts for the hub.")
        return 2
    event = f"b{secrets.token_hex(3)}"
    root = Path(tempfile.mkdtemp(prefix=f"matsuri-bench-{event}-"))
    root.chmod(0o755)
    names = [f"{event}-l{i}" for i in range(LEARNERS)]
    people = participants.parse(["username,email,role,team"] + [f"{n},{n}@example.com,learner," for n in names])
    ports = {k: free_port() for k in ("port", "hub_port", "proxy_api_port", "formgrader_port", "gallery_port")}
    config = settings.from_dict({"event": {"id": event, "course": "bench"},
                                 "jupyterhub": {"state_dir": str(root / "state"), "ip": "127.0.0.1", **ports,
                                                "holdout": str(root / "none"), "warehouse": str(root / "none"),
                                                "gallery_command": ["python", "-m", "http.server", "{port}",
                                                                    "--bind", "127.0.0.1"]}})
    results: dict = {}
    try:
        started = time.monotonic()
        report = HubProvisioner(config, people).apply(progress=False)
        assert not report.failed, report.failed
        results["apply_accounts_s"] = time.monotonic() - started
        with launch.running(config, root / "hub.log"):
            password = (root / "state" / "secrets" / "shared-password").read_text().strip()
            base = f"http://127.0.0.1:{ports['port']}"
            users = [HubUser(base, n, password) for n in names]
            singles, trios, directs = [], [], []
            for r in range(ROUNDS):
                one = users[r]
                singles.append(spawn(one))
                stop(one)
                directs.append(direct_start(users[ROUNDS + r].name, HubLayout(config, []).python_bin))
                trio = users[3 * r:3 * r + 3]
                begin = time.monotonic()
                with ThreadPoolExecutor(3) as pool:
                    list(pool.map(spawn, trio))
                trios.append(time.monotonic() - begin)
                for user in trio:
                    stop(user)
                print(f"  round {r + 1}/{ROUNDS}: one {singles[-1]:.1f} s, three at once {trios[-1]:.1f} s, "
                      f"direct {directs[-1]:.1f} s", flush=True)
        results |= {"one_s": median(singles), "three_at_once_s": median(trios), "direct_s": median(directs),
                    "rounds": ROUNDS, "runs": {"one": singles, "three": trios, "direct": directs}}
    finally:
        HubProvisioner(config, []).destroy(progress=False)
        shutil.rmtree(root, ignore_errors=True)
    print(f"hub spawn, one server:      median {results['one_s']:.1f} s")
    print(f"hub spawn, three at once:   median {results['three_at_once_s']:.1f} s "
          f"({results['three_at_once_s'] / results['one_s']:.2f}× one)")
    print(f"same server started directly as the account: median {results['direct_s']:.1f} s "
          f"(the hub adds {results['one_s'] / results['direct_s']:.2f}×)")
    print(f"saved {save('spawn', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
