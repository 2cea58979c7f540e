"""A handed-off component's scoring service against the notebook's own predict code in-process.

Setup (not timed): the tiny company, an event with one team whose push-open-rate starter is
submitted and scored (trusted run), then `matsuri handoff` (trusted run) to a pack folder.

Measured:
- latency of POST /predict for 1 row and for 1,000 rows (median, p99 over --rounds requests, one
  client, keep-alive), uvicorn on 127.0.0.1 with 1 and with 2 worker processes (the 2 cores);
- requests per second with 1-row requests from 8 concurrent clients for --seconds, each way;
- the same rows predicted in this process: the notebook's own call (`model.predict_proba` on the
  DataFrame) and the component's `predict` (which the service calls), median of --rounds.

Usage: python benchmarks/bench_handoff.py [--rounds N] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from common import median, save  # noqa: E402

from matsuri import paths, servers  # noqa: E402
from matsuri.handoff import bundle, component  # noqa: E402

THEME = "push-open-rate"
POOL = f"mtbench{os.getpid()}"


def p99(values: list[float]) -> float:
    return float(np.percentile(values, 99))


def make_pack(tmp: Path) -> Path:
    from matsuri.hackathon.event import init_event
    from matsuri.hackathon.submissions import submit
    from matsuri.hackathon.teams import add_team, new_workspace
    from matsuri.warehouse.build import build
    from support.hackathon_kit import DEFAULTS, SETTINGS

    built = build("tiny", 7, out_dir=tmp / "company", progress=False)
    os.environ["MATSURI_WAREHOUSE"], os.environ["MATSURI_LABELS"] = str(built.warehouse), str(built.labels)
    (tmp / "event").mkdir()
    (tmp / "event" / "event.toml").write_text(SETTINGS.format(**DEFAULTS | {"run_as": POOL, "timeout": 600}),
                                              encoding="utf-8")
    event, _ = init_event(tmp / "event")
    add_team(event, "alpha", ["Aki"])
    workspace = new_workspace(event, "alpha", THEME, paths.project_root() / "templates").workspace
    submit(event, "alpha", workspace / "starter.ipynb", sandbox=False)
    return bundle.make(event, "alpha", tmp / "pack", sandbox=False).folder


def rows_of(pack: Path):
    from matsuri.templates.tables import open_warehouse

    comp = component.load(pack)
    with open_warehouse(None, comp.library.NEEDS) as con:
        rows = comp.library.serving_rows(con)
    return comp, rows


def timed(call, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out


def throughput(url: str, body: dict, seconds: float, clients: int = 8) -> float:
    done, stop = [0] * clients, time.monotonic() + seconds

    def client(i: int) -> None:
        with httpx.Client(timeout=30) as c:
            while time.monotonic() < stop:
                c.post(url, json=body).raise_for_status()
                done[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="matsuri-bench-handoff-"))
    try:
        pack = make_pack(tmp)
        comp, rows = rows_of(pack)
        names = [i["name"] for i in comp.inputs]
        bodies = {n: {"rows": json.loads(rows[names].head(n).to_json(orient="records"))} for n in (1, 1000)}
        frames = {n: rows.head(n) for n in (1, 1000)}
        result = {"in_process": {}, "service": {}}
        seen = list(comp.model.feature_names_in_)
        for n, frame in frames.items():
            result["in_process"][f"notebook_{n}"] = median(
                timed(lambda f=frame: comp.model.predict_proba(f[seen]), args.rounds))
            result["in_process"][f"component_{n}"] = median(
                timed(lambda f=frame: component.predict(comp.library, comp.spec, comp.model, f), args.rounds))
        env = dict(os.environ, PYTHONPATH=str(pack / "vendor"), MATSURI_TEMPLATES=str(pack / "vendor" / "templates"),
                   MATSURI_COMPONENT=str(pack))
        for workers in (1, 2):
            port = 8765 + workers
            command = [sys.executable, "-m", "uvicorn", "--factory", "matsuri.handoff.service:from_environment",
                       "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                       "--log-level", "warning"]
            url = f"http://127.0.0.1:{port}"
            side = result["service"].setdefault(f"workers_{workers}", {})
            with servers.running("component", command, f"{url}/health", env=env, cwd=pack, timeout=120):
                time.sleep(3)  # every worker up
                with httpx.Client(base_url=url, timeout=60) as client:
                    for n, body in bodies.items():
                        client.post("/predict", json=body).raise_for_status()
                        rounds = args.rounds if n == 1 else max(20, args.rounds // 4)
                        took = timed(lambda b=body: client.post("/predict", json=b).raise_for_status(), rounds)
                        side[f"rows_{n}"] = {"median": median(took), "p99": p99(took), "requests": rounds}
                side["requests_per_second_1_row"] = throughput(f"{url}/predict", bodies[1], args.seconds)
    finally:
        from matsuri.sandbox import identities

        shutil.rmtree(tmp, ignore_errors=True)
        for user in identities.pool(POOL, 3):  # the event's identities, made by its init
            identities.remove(user)
    for workers in (1, 2):
        side = result["service"][f"workers_{workers}"]
        for n in (1, 1000):
            s = side[f"rows_{n}"]
            notebook, own = result["in_process"][f"notebook_{n}"], result["in_process"][f"component_{n}"]
            print(f"uvicorn --workers {workers}, {n:>5} row(s): median {s['median'] * 1000:.1f} ms, "
                  f"p99 {s['p99'] * 1000:.1f} ms; in-process notebook predict {notebook * 1000:.2f} ms, "
                  f"component.predict {own * 1000:.2f} ms; service / notebook {s['median'] / notebook:.1f}×")
        print(f"uvicorn --workers {workers}: {side['requests_per_second_1_row']:.0f} requests/s "
              "(1-row requests from 8 clients)")
    save("handoff", result)


if __name__ == "__main__":
    main()
