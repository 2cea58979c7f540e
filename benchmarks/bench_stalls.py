"""Judges' pages that never finish: the push demo opened OPENS times from CONTEXTS browsers at
once, on Voila with and without the kernel watch (`matsuri.voila_kernels`), in alternating rounds
so both sides meet the same load.

A page counts as stalled when Voila has not finished sending it STALL_SECONDS after navigation
(the browser's `load` event: a lost wake-up keeps the page open for ever). A page that ends but
draws its chart late is slow, not stalled: on 2 cores, many browsers and kernels at once are
slow. Also reported: the median and 95th percentile time to the chart, and how often the watch
woke a kernel.
Settings: MATSURI_BENCH_OPENS (default 200 per side), MATSURI_BENCH_CONTEXTS (10),
MATSURI_BENCH_SCALE (tiny).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import median, save  # noqa: E402

from matsuri import paths, servers, voila_kernels  # noqa: E402
from matsuri.templates import voila  # noqa: E402
from matsuri.theme_spec import template_dir  # noqa: E402

OPENS = int(os.environ.get("MATSURI_BENCH_OPENS", "200"))
CONTEXTS = int(os.environ.get("MATSURI_BENCH_CONTEXTS", "10"))
SCALE = os.environ.get("MATSURI_BENCH_SCALE", "tiny")
ROUNDS = 4
STALL_SECONDS = 150
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(folder: Path, port: int, watched: bool) -> list[str]:
    full = voila.voila_command(folder, port)
    return full if watched else [arg for arg in full if arg not in voila_kernels.options()]


def open_pages(url: str, count: int) -> list[float | None]:
    """Seconds to the chart for `count` page opens spread over CONTEXTS browsers (None: stalled)."""
    from playwright.sync_api import sync_playwright

    times: list[float | None] = []
    lock = threading.Lock()
    todo = iter(range(count))

    def browse():
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            while True:
                with lock:
                    if next(todo, None) is None:
                        break
                context = browser.new_context()
                page = context.new_page()
                started = time.perf_counter()
                took: float | None = None
                try:
                    page.goto(url, timeout=STALL_SECONDS * 1000, wait_until="load")
                    took = -1.0  # sent, but no chart yet
                    page.wait_for_selector(".matsuri-chart img", timeout=STALL_SECONDS * 1000)
                    took = time.perf_counter() - started
                except Exception:
                    pass
                with lock:
                    times.append(took)
                    shown = "STALLED" if took is None else "no chart" if took < 0 else f"{took:.1f} s"
                    print(f"  {len(times)}/{count} {shown}", flush=True)
                context.close()
            browser.close()

    threads = [threading.Thread(target=browse) for _ in range(min(CONTEXTS, count))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times


def main() -> int:
    from matsuri.warehouse.build import build

    work = Path(tempfile.mkdtemp(prefix="bench-stalls-"))
    try:
        company = build(SCALE, 7, out_dir=work / "company", progress=False)
        demos = work / "demos"
        (demos / "push-open-rate").mkdir(parents=True)
        shutil.copy(template_dir("push-open-rate") / "demo.ipynb", demos / "push-open-rate")
        env = paths.festival_env() | {"MATSURI_WAREHOUSE": str(company.warehouse),
                                      "MATSURI_CACHE": str(work / "cache")}
        results: dict[str, list[float | None]] = {"without the watch": [], "with the watch": []}
        woken = {side: 0 for side in results}
        for round_no in range(ROUNDS):
            for side in results:
                watched = side == "with the watch"
                log = work / f"voila-{round_no}-{watched}.log"
                port = free_port()
                server = servers.start("Voila", command(demos, port, watched), env=env, cwd=demos, log=log)
                try:
                    url = servers.wait_for(server, lambda log=log: voila._announced(log), 60, "start serving")
                    print(f"round {round_no + 1}/{ROUNDS}, {side}", flush=True)
                    results[side] += open_pages(f"{url}voila/render/push-open-rate/demo.ipynb", OPENS // ROUNDS)
                finally:
                    servers.stop(server)
                woken[side] += log.read_text(errors="replace").count("waking its sockets")
        summary = {}
        for side, times in results.items():
            done = sorted(t for t in times if t is not None and t >= 0)
            summary[side] = {"opens": len(times), "stalled": sum(t is None for t in times),
                             "no_chart": sum(t is not None and t < 0 for t in times), "woken": woken[side],
                             "median_s": round(median(done), 2) if done else None,
                             "p95_s": round(done[int(0.95 * (len(done) - 1))], 2) if done else None}
            print(f"{side}: {summary[side]}")
        save("stalls", {"scale": SCALE, "contexts": CONTEXTS, "stall_seconds": STALL_SECONDS, **summary})
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
