"""JupyterHub spawn time on one VM: one server, and three at once (median of several rounds).

Three hubs run side by side: the kit's spawner (servers forked from a warm process that has imported
the server), the same with that process off ("cold": only its prompt check that a server is up), and
JupyterHub's plain LocalProcessSpawner; each round rotates which goes first. Also compared, in the same run: starting the same single-user server directly as the
same system account, without the hub (what a hub adds on top: OAuth, proxy routes, the spawner's
bookkeeping). The load average is recorded each round (others may share the machine). Needs root
(it creates and removes system accounts).
"""

from __future__ import annotations

import contextlib
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
LEARNERS = 4 * ROUNDS  # one alone and three at once per round; then one direct, one warm-up


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


# The kit's spawner; the same with its zygote off (the server starts the normal way, only its
# prompt check that the server is up remains); JupyterHub's own LocalProcessSpawner.
SPAWNERS = {"warm": (), "cold": ("--WarmLocalProcessSpawner.warm=False",),
            "plain": ("--JupyterHub.spawner_class=jupyterhub.spawner.LocalProcessSpawner",)}


def event_config(root: Path, event: str):
    ports = {k: free_port() for k in ("port", "hub_port", "proxy_api_port", "formgrader_port", "gallery_port")}
    return settings.from_dict({"event": {"id": event, "course": "bench"},
                               "jupyterhub": {"state_dir": str(root / "state"), "ip": "127.0.0.1", **ports,
                                              "holdout": str(root / "none"), "warehouse": str(root / "none"),
                                              "gallery_command": ["python", "-m", "http.server", "{port}",
                                                                  "--bind", "127.0.0.1"]}})


def one_round(users: list[HubUser], r: int) -> tuple[float, float]:
    one = users[r]
    single = spawn(one)
    stop(one)
    trio = users[ROUNDS + 3 * r:ROUNDS + 3 * r + 3]
    begin = time.monotonic()
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(spawn, trio))
    three = time.monotonic() - begin
    for user in trio:
        stop(user)
    return single, three


def main() -> int:
    if os.geteuid() != 0:
        print("bench_spawn needs root: it creates system accounts for the hub.")
        return 2
    tag = secrets.token_hex(2)
    events = {kind: f"b{tag}{kind[0]}" for kind in SPAWNERS}
    roots = {kind: Path(tempfile.mkdtemp(prefix=f"matsuri-bench-{event}-")) for kind, event in events.items()}
    configs = {kind: event_config(roots[kind], events[kind]) for kind in SPAWNERS}
    names = {kind: [f"{events[kind]}-l{i}" for i in range(LEARNERS + 2)] for kind in SPAWNERS}
    results: dict = {"load_before": os.getloadavg()[0]}
    try:
        started = time.monotonic()
        for kind in SPAWNERS:
            roots[kind].chmod(0o755)
            people = participants.parse(["username,email,role,team"]
                                        + [f"{n},{n}@example.com,learner," for n in names[kind]])
            report = HubProvisioner(configs[kind], people).apply(progress=False)
            assert not report.failed, report.failed
        results["apply_accounts_s"] = (time.monotonic() - started) / len(SPAWNERS)
        with contextlib.ExitStack() as stack:
            users = {}
            for kind, args in SPAWNERS.items():
                stack.enter_context(launch.running(configs[kind], roots[kind] / "hub.log", timeout=180, args=args))
                password = (roots[kind] / "state" / "secrets" / "shared-password").read_text().strip()
                base = f"http://127.0.0.1:{configs[kind].jupyterhub.port}"
                users[kind] = [HubUser(base, n, password) for n in names[kind]]
            for kind in SPAWNERS:  # the first spawn (the warm hub's zygote imports then) is not counted
                spawn(users[kind][LEARNERS + 1])
                stop(users[kind][LEARNERS + 1])
            runs: dict[str, list] = {f"{kind}_{n}": [] for kind in SPAWNERS for n in ("one", "three")}
            runs |= {"direct": [], "load": []}
            bin_dir = HubLayout(configs["plain"], []).python_bin
            for r in range(ROUNDS):
                kinds = list(SPAWNERS)
                order = kinds[r % len(kinds):] + kinds[:r % len(kinds)]
                for kind in order:
                    single, three = one_round(users[kind], r)
                    runs[f"{kind}_one"].append(single)
                    runs[f"{kind}_three"].append(three)
                runs["direct"].append(direct_start(names["plain"][LEARNERS], bin_dir))
                runs["load"].append(os.getloadavg()[0])
                print(f"  round {r + 1}/{ROUNDS} ({' then '.join(order)}): " + "; ".join(
                    f"{kind} one {runs[f'{kind}_one'][-1]:.1f} s, three {runs[f'{kind}_three'][-1]:.1f} s"
                    for kind in SPAWNERS) + f"; direct {runs['direct'][-1]:.1f} s; load {runs['load'][-1]:.2f}",
                    flush=True)
        results |= {f"{key}_s": median(values) for key, values in runs.items() if key != "load"}
        results |= {"load_median": median(runs["load"]), "rounds": ROUNDS, "runs": runs,
                    "cores": os.cpu_count()}
    finally:
        for kind in SPAWNERS:
            HubProvisioner(configs[kind], []).destroy(progress=False)
            shutil.rmtree(roots[kind], ignore_errors=True)
    for kind in SPAWNERS:
        print(f"{kind:>5} hub, one server:    median {results[f'{kind}_one_s']:.2f} s")
        print(f"{kind:>5} hub, three at once: median {results[f'{kind}_three_s']:.2f} s")
    for kind in ("warm", "cold"):
        print(f"{kind} / plain: one {results[f'{kind}_one_s'] / results['plain_one_s']:.2f}×, "
              f"three at once {results[f'{kind}_three_s'] / results['plain_three_s']:.2f}×")
    print(f"same server started directly as the account: median {results['direct_s']:.2f} s")
    print(f"load average (1 min) during the rounds: median {results['load_median']:.2f} "
          f"on {results['cores']} cores")
    print(f"saved {save('spawn', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
