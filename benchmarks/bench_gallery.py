"""The judges' gallery: time to first rendered widget on every page (cold and preheated), memory per judge.

An event with one team per theme, each workspace copied from templates/<theme>/ (the real demos),
served by `matsuri.gallery.server.serve` exactly as `matsuri gallery serve` does, demo kernels
forked in their teams' sandboxes as the teams' accounts. Debian chromium (Playwright) opens every page
(index, rubric, funnel and each demo) VIEWS times, each time in two browsers:

- a new browser (nothing cached): what the first page a judge opens costs;
- the judge's browser, which has opened a gallery page before (Voila's scripts cached): every later page.

And in three servers:
- cold: Voila without preheated kernels, so every page view gets a kernel and runs its notebook;
- cold, started (demos only): the same, each demo kernel started from nothing in a sandbox of its
  own, as before they were forked from their team's warm process (MATSURI_WARM_KERNELS=off);
- preheated: `--preheat_kernel` with a pool of one kernel per notebook, each view waiting until the
  pool has been refilled (the best case a judge meets after the first visitor).

Issue 18's targets: first widget < 1.5 s preheated and < 5 s cold.

Memory: the proportional set size (PSS) of each kernel process while a page is open, so shared
libraries are counted once, and for forked demo kernels what they hold alone (USS: the libraries
are their team's zygote's, paid once per team); the judges that fit in 24 GiB follow from the
kernels a judge keeps open (index + rubric + the demo being looked at; closed tabs shut their
kernels down).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import gib, median, save  # noqa: E402

from matsuri.theme_spec import all_themes  # noqa: E402

SCALE = os.environ.get("MATSURI_BENCH_SCALE", "small")
VIEWS = int(os.environ.get("MATSURI_BENCH_VIEWS", 3))
THEMES = list(all_themes())  # every theme folder of templates/
ZYGOTE = ["-m", "matsuri.grading.forkserver"]  # a zygote's command line, and its forks'
RAM = 24 * 2**30
RESERVE = 2 * 2**30  # the operating system and the Voila server's own headroom
SETTINGS = """
[event]
name = "bench"
starts = 2020-01-01
ends = 2099-12-31
[themes.push-open-rate]
[themes.call-keywords]
[themes.product-ordering]
[themes.churn]
[rubric]
[[rubric.criteria]]
id = "impact"
[submissions]
run_as = "mbench-team"
[gallery]
pool_size = 1
"""


def festival(root: Path):
    """The event, one team per theme from templates/<theme>/, in a folder others may pass through,
    its demo accounts let through the folders above Python and the kit; returns (event, accounts)."""
    from matsuri.hackathon.event import init_event
    from matsuri.hackathon.teams import add_team, new_workspace
    from matsuri.sandbox import identities
    from matsuri.warehouse.build import build

    root.chmod(0o711)  # the demos' sandboxes read the warehouse in it as the teams' accounts
    built = build(SCALE, 42, out_dir=root / "company", progress=False)
    os.environ["MATSURI_WAREHOUSE"] = str(built.warehouse)
    os.environ["MATSURI_LABELS"] = str(built.labels)
    (root / "event").mkdir()
    (root / "event" / "event.toml").write_text(SETTINGS, encoding="utf-8")
    event, _ = init_event(root / "event")
    for theme in THEMES:
        add_team(event, theme, [f"member of {theme}"])
        new_workspace(event, theme, theme)
    accounts = identities.ensure_pool(event.settings.run_as, event.settings.identities)
    identities.let_through(identities.pool(event.settings.run_as, event.settings.identities))
    return event, accounts


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def leave(page) -> None:
    """Leave the page as a judge would (Voila's unload beacon shuts its kernel down), then close."""
    page.goto("about:blank")
    page.close()


def first_widget(browser, url: str) -> float:
    """Seconds from navigation to the first visible widget on a new page of `browser` (a Browser:
    a new context, nothing cached; a BrowserContext: the judge's, scripts cached)."""
    page = browser.new_page()
    try:
        start = time.perf_counter()
        page.goto(url, timeout=300_000)  # a cold page is sent once its notebook has run
        page.wait_for_selector(".jupyter-widgets", state="visible", timeout=180_000)
        return time.perf_counter() - start
    finally:
        leave(page)


def kernel_processes() -> list[tuple[object, str]]:
    """(process, kind) of every live kernel of the gallery this process serves: "app" (Voila's own
    kernels), "demo" (forked by its team's zygote, or started in a sandbox of its own) and "zygote"
    (a team's warm process, `gallery/warm_demos.py`)."""
    import psutil

    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            command = proc.cmdline()
            if "ipykernel_launcher" in " ".join(command):
                found.append((proc, "app" if proc.uids().real == os.getuid() else "demo"))
            elif command[1:3] == ZYGOTE:  # Python itself, not its sandbox's launchers
                found.append((proc, "demo" if proc.parent().cmdline()[1:3] == ZYGOTE else "zygote"))
        except psutil.Error:  # ended (or a zombie) meanwhile
            continue
    return found


def kernel_memory() -> dict[str, list[tuple[int, int]]]:
    """(PSS, USS) in bytes of every kernel by kind (see `kernel_processes`). PSS counts the pages
    a forked kernel shares with its zygote in part; USS is what it holds alone."""
    import psutil

    kernels: dict[str, list[tuple[int, int]]] = {"app": [], "demo": [], "zygote": []}
    for proc, kind in kernel_processes():
        try:
            info = proc.memory_full_info()
            if info.pss:  # (a sandbox's launcher carries the kernel's command line but holds no memory of its own)
                kernels[kind].append((info.pss, info.uss))
        except psutil.Error:
            pass
    return kernels


def pools_filled(log: Path) -> int:
    return len(re.findall(r"Kernel pool of .* is filled", log.read_text()))


def wait_for_pools(log: Path, count: int, timeout: float = 600) -> None:
    """Wait until Voila has reported `count` filled pools in all (the initial fills, then refills)
    and every kernel has finished running its notebook (Voila reports a pool as filled when its
    kernel starts, before the notebook has run in it)."""
    import psutil

    deadline = time.monotonic() + timeout
    while pools_filled(log) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the preheated pools did not fill in time")
        time.sleep(0.5)
    quiet = 0
    while quiet < 3 and time.monotonic() < deadline:  # three quiet seconds in a row
        kernels = [proc for proc, _ in kernel_processes()]
        try:
            for kernel in kernels:
                kernel.cpu_percent(None)  # starts the measurement
        except psutil.Error:
            continue
        time.sleep(1)
        try:
            busy = sum(kernel.cpu_percent(None) for kernel in kernels)
        except psutil.Error:
            busy = 100.0
        quiet = quiet + 1 if busy < 5 else 0


def main() -> int:
    from playwright.sync_api import sync_playwright

    from matsuri import warm_kernels
    from matsuri.gallery.server import serve
    from matsuri.sandbox import identities

    root = Path(tempfile.mkdtemp(prefix="matsuri-bench-gallery-"))
    accounts = []
    try:
        event, accounts = festival(root)
        results: dict = {"scale": SCALE, "cold": {}, "cold, started": {}, "preheated": {}}
        demos = [f"demos/{t}/demo.ipynb" for t in THEMES]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            pages = ["index.ipynb", "rubric.ipynb", "funnel.ipynb", *[f"demos/{t}/demo.ipynb" for t in THEMES]]
            for mode in ("cold", "cold, started", "preheated"):
                log = root / f"voila-{mode.replace(', ', '-')}.log"
                # "cold, started": demo kernels started from nothing, as before they were forked
                os.environ[warm_kernels.ENV] = "off" if mode == "cold, started" else "on"
                with open(log, "w") as out, serve(event, free_port(), preheat=mode == "preheated", log=out) as running:
                    judge = browser.new_context()
                    first_widget(judge, running.page("index.ipynb"))  # the judge has been here before
                    filled = len(pages) + (mode == "preheated")  # every page gets a pool; index refilled
                    for name in demos if mode == "cold, started" else pages:
                        times: dict[str, list[float]] = {"new": [], "judge": []}
                        for _ in range(VIEWS):
                            for kind, where in (("new", browser), ("judge", judge)):
                                if mode == "preheated":
                                    wait_for_pools(log, filled)  # the pool is full again
                                    filled += 1  # taking its kernel makes Voila refill it
                                times[kind].append(first_widget(where, running.page(name)))
                        results[mode][name] = {kind: median(t) for kind, t in times.items()}
                        print(f"{mode:9s} {name:34s} first widget after {median(times['new']):4.1f} s in a new "
                              f"browser ({', '.join(f'{t:.1f}' for t in times['new'])}), "
                              f"{median(times['judge']):4.1f} s in the judge's "
                              f"({', '.join(f'{t:.1f}' for t in times['judge'])})", flush=True)
                    judge.close()
                    if mode == "cold":
                        open_pages = []
                        for name in ("index.ipynb", "rubric.ipynb", *[f"demos/{t}/demo.ipynb" for t in THEMES]):
                            page = browser.new_page()
                            page.goto(running.page(name), timeout=300_000)
                            page.wait_for_selector(".jupyter-widgets", state="visible", timeout=180_000)
                            open_pages.append(page)
                        time.sleep(3)
                        import psutil

                        kernels = kernel_memory()
                        server = psutil.Process(running.process.pid).memory_full_info().pss
                        for page in open_pages:
                            leave(page)
                        results["memory"] = kernels | {"server": server}
            browser.close()
        memory = results["memory"]
        mb = lambda pairs, i: ", ".join(f"{p[i] / 2**20:.0f}" for p in pairs)  # noqa: E731
        zygote = median([pss for pss, _ in memory["zygote"]]) if memory["zygote"] else 0
        # An open demo costs what its kernel holds alone when it is forked (the libraries are its
        # zygote's, paid once per team), its whole PSS when it started on its own.
        demo = median([uss if zygote else pss for pss, uss in memory["demo"]])
        app = median([pss for pss, _ in memory["app"]])
        judge = 2 * app + demo  # index + rubric + the demo being looked at
        room = RAM - RESERVE - memory["server"] - len(THEMES) * zygote
        judges, worst = int(room // judge), int(room // (2 * app + len(THEMES) * demo))
        print(f"kernel memory while open (PSS / USS, MB): demos {mb(memory['demo'], 0)} / {mb(memory['demo'], 1)}; "
              f"teams' zygotes {mb(memory['zygote'], 0)} / {mb(memory['zygote'], 1)}; index and rubric "
              f"{mb(memory['app'], 0)}; Voila server {memory['server'] / 2**20:.0f} MB")
        print(f"memory per open demo ≈ {demo / 2**20:.0f} MB (+ {zygote / 2**20:.0f} MB per team for its zygote); "
              f"per judge (index + rubric + one demo) ≈ {gib(judge)}")
        print(f"judges that fit in 24 GiB (2 GiB kept for the system): {judges} "
              f"({worst} if each keeps all {len(THEMES)} demos open)")
        for teams in (len(THEMES), 30):  # preheating keeps one warm kernel per notebook all the time
            pools = 2 * app + teams * (demo + zygote)
            print(f"  preheated with {teams} teams: warm pools and zygotes hold {gib(pools)}, leaving room for "
                  f"{int((room + len(THEMES) * zygote - pools) // judge)} judges")
        for name in pages:
            cold, warm = results["cold"][name]["judge"], results["preheated"][name]["judge"]
            print(f"  {name}: judge's browser cold {cold:.1f} s, preheated {warm:.1f} s -> {cold / warm:.1f}x faster")
        for name in demos:
            forked, started = results["cold"][name]["judge"], results["cold, started"][name]["judge"]
            print(f"  {name}: cold, judge's browser: kernel forked {forked:.1f} s, started {started:.1f} s -> "
                  f"{started / forked:.2f}x")
        results |= {"demo_bytes": demo, "zygote_bytes": zygote, "judge_bytes": judge, "judges_in_24_gib": judges}
        save("gallery", results)
        return 0
    finally:
        for account in accounts:
            identities.remove(account)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
