"""A learner opens a lesson: how long until its kernel is ready, and how long its setup cell takes,
with kernels forked warm (`matsuri.warm_kernels`, the default) against started the normal way
(MATSURI_WARM_KERNELS=off), in alternating rounds of the same run.

Each round starts `matsuri lab` in a learner's workspace holding lesson 1 of sql-101 (small
company), then
  1. in chromium: opens the lesson until the kernel status says idle (what the learner waits for),
     then runs the setup cell until its "ready" line shows;
  2. through the API: starts a kernel until it answers kernel_info, then times the setup cell.
Targets (issue: time to first feedback): kernel ready < 3 s after opening, setup cell < 0.5 s.

Usage: python benchmarks/bench_learner_kernels.py  (env MATSURI_BENCH_ROUNDS, default 5)
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).parent))
from common import median, save  # noqa: E402

from matsuri import servers  # noqa: E402
from matsuri.infra import participants, settings  # noqa: E402
from matsuri.infra.local import LocalProvisioner  # noqa: E402
from matsuri.warehouse.build import build  # noqa: E402

LESSON = "01-reading-a-table"
BIN = Path(sys.executable).parent
SETUP = f"from matsuri.checks import start\nstart('sql-101', {LESSON!r})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workspace(tmp: Path, warehouse: Path) -> Path:
    """ann's workspace as the local target makes it, holding lesson 1 as released."""
    work = tmp / "course-work"
    subprocess.run([BIN / "matsuri", "course", "release", "sql-101", "--lesson", LESSON, "--workdir", str(work),
                    "--warehouse", str(warehouse)], check=True, capture_output=True)
    os.environ["MATSURI_COURSE_WORK"] = str(work)
    config = settings.from_dict({"event": {"id": "bench"}, "local": {"root": str(tmp / "proj" / "event")}})
    people = participants.parse(["username,email,role", "ann,ann@example.com,learner"])
    LocalProvisioner(config, people).apply(progress=False)
    return tmp / "proj" / "event" / "workspaces" / "ann"


def one_round(home: Path, warehouse: Path, warm: bool, browser, tmp: Path) -> dict[str, float]:
    port, token = free_port(), secrets.token_hex(8)
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_CONFIG_PATH", "MATSURI_LANG")}
    env |= {"MATSURI_WAREHOUSE": str(warehouse), "JUPYTER_TOKEN": token, "PLOOMBER_STATS_ENABLED": "false",
            "JUPYTER_RUNTIME_DIR": str(tmp / f"runtime-{port}"), "MATSURI_WARM_KERNELS": "on" if warm else "off"}
    log = tmp / f"lab-{port}.log"
    out = {}
    with servers.running("matsuri lab", [BIN / "matsuri", "lab", "--port", str(port)],
                         f"http://127.0.0.1:{port}/api/status?token={token}", env=env, cwd=home, log=log,
                         grace=30):
        deadline = time.monotonic() + 60
        while warm and "kernels are forked warm" not in log.read_text():  # a learner is slower than this
            assert time.monotonic() < deadline, "the zygote did not start"
            time.sleep(0.1)
        page = browser.new_page()
        try:
            started = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/lab/tree/sql-101/{LESSON}/{LESSON}.ipynb?token={token}",
                      timeout=120_000)
            page.get_by_text("Python 3 (ipykernel) | アイドル").wait_for(timeout=120_000)
            out["open_to_kernel_idle_s"] = time.perf_counter() - started
            setup = page.locator(".jp-CodeCell").filter(has_text="from matsuri.checks import start").first
            setup.locator(".jp-InputArea-editor").click()
            started = time.perf_counter()
            page.keyboard.press("Shift+Enter")
            setup.locator(".jp-OutputArea").get_by_text(f"sql-101 · {LESSON}").wait_for(timeout=120_000)
            out["browser_setup_cell_s"] = time.perf_counter() - started
        finally:
            page.close()
        out |= api_round(port, token, tmp / f"runtime-{port}", f"sql-101/{LESSON}")
    return out


def api_round(port: int, token: str, runtime: Path, folder: str) -> dict[str, float]:
    from jupyter_client import BlockingKernelClient

    api = f"http://127.0.0.1:{port}/api"
    started = time.perf_counter()
    kernel = requests.post(f"{api}/kernels?token={token}", json={"name": "python3", "path": folder}, timeout=60).json()
    client = BlockingKernelClient(connection_file=str(runtime / f"kernel-{kernel['id']}.json"))
    client.load_connection_file()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        ready = time.perf_counter() - started
        started = time.perf_counter()
        reply = client.execute_interactive(SETUP, timeout=120, output_hook=lambda message: None)
        assert reply["content"]["status"] == "ok", reply["content"]
        return {"api_kernel_ready_s": ready, "api_setup_cell_s": time.perf_counter() - started}
    finally:
        client.stop_channels()
        requests.delete(f"{api}/kernels/{kernel['id']}?token={token}", timeout=60)


def main() -> int:
    from playwright.sync_api import sync_playwright

    rounds = int(os.environ.get("MATSURI_BENCH_ROUNDS", "5"))
    runs: dict[str, list[dict]] = {"warm": [], "cold": []}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        tmp = Path(tmp)
        warehouse = build("small", 42, out_dir=tmp / "small", progress=False).warehouse
        home = workspace(tmp, warehouse)
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            for i in range(rounds):
                for mode in (("warm", "cold") if i % 2 == 0 else ("cold", "warm")):
                    result = one_round(home, warehouse, mode == "warm", browser, tmp)
                    runs[mode].append(result)
                    print(f"  round {i + 1} {mode}: " + ", ".join(f"{k} {v:.2f}" for k, v in result.items()), flush=True)
        finally:
            browser.close()
    summary = {mode: {key: median([r[key] for r in results]) for key in results[0]} for mode, results in runs.items()}
    summary["cold_over_warm"] = {key: summary["cold"][key] / summary["warm"][key] for key in summary["warm"]}
    for key in summary["warm"]:
        print(f"{key}: warm {summary['warm'][key]:.2f} s, cold {summary['cold'][key]:.2f} s "
              f"({summary['cold_over_warm'][key]:.1f}×)")
    print(f"results: {save('learner_kernels', {'rounds': rounds, 'median': summary, 'runs': runs})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
