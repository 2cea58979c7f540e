"""A learner opens a lesson: how long until its kernel is ready, and how long its setup cell takes,
in alternating rounds of the same run, for three learners' labs:

- `new`: the kit's learners' lab as shipped (kernels forked warm, `matsuri.warm_kernels`; the lab
  plugins and server requests learners do not use switched off, `learners_lab/`);
- `cold`: the same lab with kernels started the normal way (MATSURI_WARM_KERNELS=off);
- `old_lab`: kernels forked warm, but the learners' lab settings as they were before the lab's own
  start-up was cut (`OLD_LEARNERS_LAB` below: every plugin on, the build, update and export-format
  checks on, jupytext, LSP and Voila server extensions on).

Each round starts JupyterLab as `matsuri lab` does in a learner's workspace holding lesson 1 of
sql-101 (small company), as a learner's first visit: no saved JupyterLab workspace (layout), no
checkpoint of the lesson yet, a new browser profile (nothing cached). Then
  1. in chromium, as a learner does: opens the lab's address (what the hub and `matsuri lab` give),
     until the file browser shows the course (`lab_shows_files_s`), walks to the lesson and
     double-clicks it: the target is from that double-click until the kernel status says idle
     (`open_to_kernel_idle_s`);
  2. in a new profile again, with the lesson's kernel, checkpoint and layout forgotten: opens the
     lesson's own link (…/lab/tree/…ipynb), which starts the whole lab and the lesson at once
     (`link_open_to_kernel_idle_s`; JupyterLab opens a linked file only after it has saved the
     new layout, a 0.5 s wait of its own), with the page's main-thread busy time (Chrome's
     TaskDuration: less noisy than wall time on a shared machine), then runs the setup cell until
     its "ready" line shows, then reloads the lesson until the kernel shows idle again
     (`reopen_to_kernel_idle_s`: scripts cached, the kernel already running);
  3. through the API: starts a kernel until it answers kernel_info, then times the setup cell.
Every round records the load average (the machine has 2 cores; quote medians and ratios).
Targets (issue: time to first feedback): kernel ready < 3 s after opening, setup cell < 0.5 s.

Usage: python benchmarks/bench_learner_kernels.py  (env MATSURI_BENCH_ROUNDS, default 5)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import requests

sys.path.insert(0, str(Path(__file__).parent))
from common import median, save  # noqa: E402

from matsuri import lab, servers  # noqa: E402
from matsuri.infra import participants, settings  # noqa: E402
from matsuri.infra.local import LocalProvisioner  # noqa: E402
from matsuri.warehouse.build import build  # noqa: E402

LESSON = "01-reading-a-table"
BIN = Path(sys.executable).parent
SETUP = f"from matsuri.checks import start\nstart('sql-101', {LESSON!r})"
MODES = ("new", "cold", "old_lab")
IDLE = "Python 3 (ipykernel) | アイドル"  # the kernel status, in Japanese as learners see it
# When things show (visible, JupyterLab's splash gone), as the page's own clock has it (ms since
# the page's navigation began): a Playwright wait polls every 0.5 s after its first few tries,
# too coarse to time a second.
SEEN = {"idle": (".jp-StatusBar-TextItem", IDLE), "files": (".jp-DirListing-itemText", "sql-101"),
        "ready": (".jp-OutputArea-output", f"sql-101 · {LESSON}")}
CLOCK = """(() => {
  const seen = SEEN, at = window.__at = {};
  const shown = e => e.checkVisibility() && !document.getElementById("jupyterlab-splash");
  const look = () => { for (const [name, [selector, text]] of Object.entries(seen)) {
    if (!(name in at) && [...document.querySelectorAll(selector)].some(e => e.textContent.includes(text) && shown(e)))
      at[name] = performance.now(); } };
  new MutationObserver(look).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
  for (const action of ["dblclick", "keydown"]) document.addEventListener(action, () => {
    at[action] = performance.now(); }, true);
})();""".replace("SEEN", json.dumps(SEEN, ensure_ascii=False), 1)

OLD_LEARNERS_LAB = {  # learners_lab/ before the lab's start-up was cut (the warm kernels already on)
    "jupyter_server_config.json": {"ServerApp": {"jpserver_extensions": {
        "nbgrader.server_extensions.formgrader": False, "nbgrader.server_extensions.course_list": False,
        "matsuri.warm_kernels": True}}},
    "labconfig/page_config.json": {"disabledExtensions": {
        "@jupyter/nbgrader:formgrader": True, "@jupyter/nbgrader:create-assignment": True,
        "@jupyter/nbgrader:course-list": True}},
    "labconfig/default_setting_overrides.json": {
        "@jupyterlab/translation-extension:plugin": {"locale": "ja_JP"},
        "@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}},
}


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


def old_learners_lab(folder: Path) -> Path:
    for name, data in OLD_LEARNERS_LAB.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(data, indent=1))
    return folder


def one_round(home: Path, warehouse: Path, mode: str, browser, tmp: Path) -> dict[str, float]:
    port, token = free_port(), secrets.token_hex(8)
    learners = old_learners_lab(tmp / "old-learners-lab") if mode == "old_lab" else lab.LEARNERS_CONFIG
    saved = {k: os.environ.pop(k) for k in ("JUPYTER_CONFIG_PATH", "MATSURI_LANG") if k in os.environ}
    try:
        with mock.patch.object(lab, "LEARNERS_CONFIG", learners):  # what `matsuri lab` starts, with these settings
            env = lab.lab_env(token, home)
    finally:
        os.environ.update(saved)
    env |= {"MATSURI_WAREHOUSE": str(warehouse), "PLOOMBER_STATS_ENABLED": "false",
            "JUPYTER_RUNTIME_DIR": str(tmp / f"runtime-{port}"),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp / f"layouts-{port}"),  # no saved layout: a first open
            "MATSURI_WARM_KERNELS": "off" if mode == "cold" else "on"}
    shutil.rmtree(home / "sql-101" / LESSON / ".ipynb_checkpoints", ignore_errors=True)  # nor a checkpoint
    log = tmp / f"lab-{port}.log"
    out = {"load_1min": os.getloadavg()[0]}
    with servers.running("matsuri lab", lab.lab_command(home, port),
                         f"http://127.0.0.1:{port}/api/status?token={token}", env=env, cwd=home, log=log,
                         grace=30):
        deadline = time.monotonic() + 60
        while mode != "cold" and "kernels are forked warm" not in log.read_text():  # a learner is slower
            assert time.monotonic() < deadline, "the zygote did not start"
            time.sleep(0.1)
        page = clocked_page(browser)  # a new browser context each time: nothing cached
        try:
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            url = f"http://127.0.0.1:{port}/lab/tree/sql-101/{LESSON}/{LESSON}.ipynb?token={token}"
            page.goto(url, timeout=120_000)
            page.get_by_text(IDLE).wait_for(timeout=120_000)
            out["link_open_to_kernel_idle_s"] = seen(page, "idle")
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            out["page_main_thread_busy_s"] = metrics["TaskDuration"]
            setup = page.locator(".jp-CodeCell").filter(has_text="from matsuri.checks import start").first
            setup.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            setup.locator(".jp-OutputArea").get_by_text(f"sql-101 · {LESSON}").wait_for(timeout=120_000)
            out["browser_setup_cell_s"] = seen(page, "ready", since="keydown")
            page.goto(url, timeout=120_000)  # again, as after a reload: scripts cached, layout saved,
            page.get_by_text(IDLE).wait_for(timeout=120_000)  # the lesson's kernel already running
            out["reopen_to_kernel_idle_s"] = seen(page, "idle")
        finally:
            page.close()
        forget_the_visit(port, token, home, tmp / f"layouts-{port}")
        out |= open_from_the_lab(browser, port, token)
        out |= api_round(port, token, tmp / f"runtime-{port}", f"sql-101/{LESSON}")
    return out


def clocked_page(browser):
    page = browser.new_page()
    page.add_init_script(CLOCK)
    return page


def seen(page, name: str, since: str | None = None) -> float:
    """Seconds from the page's start (or the last `since` action) until `name` first showed."""
    at = page.evaluate("window.__at")
    return (at[name] - (at[since] if since else 0)) / 1000


def forget_the_visit(port: int, token: str, home: Path, layouts: Path) -> None:
    """Back to a first visit: no kernel for the lesson, no checkpoint, no saved layout."""
    api = f"http://127.0.0.1:{port}/api"
    for session in requests.get(f"{api}/sessions?token={token}", timeout=60).json():
        requests.delete(f"{api}/sessions/{session['id']}?token={token}", timeout=60)
    shutil.rmtree(home / "sql-101" / LESSON / ".ipynb_checkpoints", ignore_errors=True)
    shutil.rmtree(layouts, ignore_errors=True)


def open_from_the_lab(browser, port: int, token: str) -> dict[str, float]:
    """What a learner does: open their lab (its address, as the hub or `matsuri lab` gives it),
    walk to the lesson in the file browser and double-click it."""
    page = clocked_page(browser)
    try:
        page.goto(f"http://127.0.0.1:{port}/lab?token={token}", timeout=120_000)
        folder = page.locator(".jp-DirListing-item", has_text="sql-101")
        folder.wait_for(timeout=120_000)
        out = {"lab_shows_files_s": seen(page, "files")}
        folder.dblclick()
        page.locator(".jp-DirListing-item", has_text=LESSON).first.dblclick()
        lesson = page.locator(".jp-DirListing-item", has_text=f"{LESSON}.ipynb")
        lesson.wait_for(timeout=120_000)
        page.wait_for_timeout(500)  # the learner reads the name before the double-click
        lesson.dblclick()
        page.get_by_text(IDLE).wait_for(timeout=120_000)
        out["open_to_kernel_idle_s"] = seen(page, "idle", since="dblclick")
        return out
    finally:
        page.close()


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


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> int:
    from playwright.sync_api import sync_playwright

    rounds = int(os.environ.get("MATSURI_BENCH_ROUNDS", "5"))
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    loads = [uptime()]
    print(loads[0], flush=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        tmp = Path(tmp)
        warehouse = build("small", 42, out_dir=tmp / "small", progress=False).warehouse
        home = workspace(tmp, warehouse)
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            for i in range(rounds):
                for mode in (MODES if i % 2 == 0 else MODES[::-1]):
                    result = one_round(home, warehouse, mode, browser, tmp)
                    runs[mode].append(result)
                    print(f"  round {i + 1} {mode}: " + ", ".join(f"{k} {v:.2f}" for k, v in result.items()), flush=True)
                loads.append(uptime())
        finally:
            browser.close()
    print(loads[-1])
    summary = {mode: {key: median([r[key] for r in results]) for key in results[0]} for mode, results in runs.items()}
    for other in ("cold", "old_lab"):  # the median of each round's ratio: the load drifts between rounds
        summary[f"{other}_over_new"] = {key: median([o[key] / n[key] for o, n in zip(runs[other], runs["new"], strict=True)])
                                        for key in summary["new"] if key != "load_1min"}
    for key in summary["new"]:
        if key != "load_1min":
            print(f"{key}: new {summary['new'][key]:.2f} s, old lab {summary['old_lab'][key]:.2f} s "
                  f"({summary['old_lab_over_new'][key]:.2f}× in the same round), cold kernels "
                  f"{summary['cold'][key]:.2f} s ({summary['cold_over_new'][key]:.2f}×)")
    print(f"median load (1 min) during the rounds: {median([r['load_1min'] for rs in runs.values() for r in rs]):.1f}")
    print(f"results: {save('learner_kernels', {'rounds': rounds, 'uptime': loads, 'median': summary, 'runs': runs})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
