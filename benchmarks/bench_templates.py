"""Hackathon templates: starter wall time at `small`, each metric against its baseline on the hidden
holdout, and Voila's time to the first rendered widget of each demo.

Measured beside the obvious alternatives, in the same run: an empty notebook through papermill (the
fixed cost of a fresh kernel, which every starter pays) and a one-widget notebook in Voila (Voila's
own floor), so the templates' own cost is visible. Starters run on several `small` companies (one
per seed): wall times are medians over all runs, metrics are reported per seed.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import duckdb
import nbformat

sys.path.insert(0, str(Path(__file__).parent))
from common import median, save  # noqa: E402

from matsuri.templates.voila import serve  # noqa: E402
from matsuri.theme_spec import all_themes, template_dir  # noqa: E402
from matsuri.warehouse.build import build  # noqa: E402

THEMES = list(all_themes())  # every theme folder of templates/

SEEDS = [7, 11, 23]
VOILA_ROUNDS = 3
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DEMO_RESULT = ".matsuri-result h2, .matsuri-recommended table"  # a demo's first result on screen
FIRST_WIDGET = {"floor": ".matsuri-floor"}  # the floor: an empty Voila page


def papermill_run(notebook: Path, out: Path, **parameters) -> float:
    import papermill

    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    papermill.execute_notebook(str(notebook), str(out / "executed.ipynb"), parameters=parameters,
                               kernel_name="python3", cwd=str(out), progress_bar=False)
    return time.perf_counter() - start


def holdout_metrics(theme: str, company, model_dir: Path, base_dir: Path) -> dict[str, tuple[float, float]]:
    """metric -> (baseline, model) on the whole hidden holdout, scored as the hackathon scores."""
    import numpy as np

    from matsuri.hackathon.themes import get_theme

    scorer = get_theme(theme)
    with duckdb.connect(str(company.warehouse), read_only=True) as w, \
            duckdb.connect(str(company.labels), read_only=True) as lab:
        key = scorer.load_key(w, lab)
    everyone = np.ones(len(key.ids), dtype=bool)
    base, model = (scorer.score(scorer.read(d, key, 200_000_000), key, everyone)
                   for d in (base_dir, model_dir))
    return {name: (base[name], model[name]) for name in base}


def starters(work: Path, companies: dict[int, object]) -> dict:
    empty = work / "empty.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, empty)
    floor = [papermill_run(empty, work / f"empty-{i}") for i in range(len(SEEDS))]
    results = {"empty_notebook_s": median(floor)}
    for theme in THEMES:
        walls, metrics = [], {}
        for seed, company in companies.items():
            out = work / theme / str(seed)
            walls.append(papermill_run(template_dir(theme) / "starter.ipynb", out, warehouse=str(company.warehouse),
                                       output_dir=str(out / "submission"), baseline_dir=str(out / "baseline")))
            metrics[seed] = holdout_metrics(theme, company, out / "submission", out / "baseline")
            print(f"  {theme} seed {seed}: {walls[-1]:.1f} s  {metrics[seed]}", flush=True)
        results[theme] = {"wall_s": walls, "median_s": median(walls), "holdout": metrics}
    return results


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_widget(browser, url: str, selector: str) -> float:
    """Seconds from asking for the page to seeing the demo's first result."""
    context = browser.new_context()
    try:
        page = context.new_page()
        start = time.perf_counter()
        page.goto(url, timeout=180_000)
        page.wait_for_selector(selector, timeout=180_000)
        return time.perf_counter() - start
    finally:
        context.close()


def demos(work: Path, company) -> dict:
    """Per demo: the first view on a fresh server (learns, then remembers), a later view (what
    most judges get), and a later view with the cache switched off (learning at every view)."""
    from playwright.sync_api import sync_playwright

    floor = work / "voila" / "floor" / "demo.ipynb"
    floor.parent.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import ipywidgets as w\nready = w.HTML('<h2>ready</h2>')\nready.add_class('matsuri-floor')\nready")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, floor)
    results = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name in ["floor", *THEMES]:
                notebook = floor if name == "floor" else template_dir(name) / "demo.ipynb"
                times: dict[str, list[float]] = {"cold": [], "page_view": [], "page_view_no_cache": []}
                for round_ in range(VOILA_ROUNDS):
                    for cache in ("on", "off"):
                        env = {"MATSURI_WAREHOUSE": str(company.warehouse),
                               "MATSURI_CACHE": str(work / f"cache-{name}-{round_}") if cache == "on" else "/dev/null/off"}
                        launched = time.perf_counter()
                        with serve(notebook, free_port(), env=env, log=work / f"voila-{name}.log") as served:
                            first = time.perf_counter() - launched + first_widget(browser, served.url, FIRST_WIDGET.get(name, DEMO_RESULT))
                            later = first_widget(browser, served.url, FIRST_WIDGET.get(name, DEMO_RESULT))
                        if cache == "on":
                            times["cold"].append(first)
                            times["page_view"].append(later)
                        else:
                            times["page_view_no_cache"].append(later)
                results[name] = {k: {"runs_s": v, "median_s": median(v)} for k, v in times.items()}
                print(f"  voila {name}: " + ", ".join(f"{k} {median(v):.1f} s" for k, v in times.items()), flush=True)
        finally:
            browser.close()
    return results


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-templates-") as tmp:
        work = Path(tmp)
        companies = {}
        for seed in SEEDS:
            companies[seed] = build("small", seed, out_dir=work / f"small-{seed}", progress=False)
        print(f"Starters at small ({len(SEEDS)} companies, seeds {SEEDS}):", flush=True)
        result = {"starters": starters(work, companies)}
        print("Voila demos at small (first rendered widget):", flush=True)
        result["voila"] = demos(work, companies[SEEDS[0]])
    report(result)
    print(f"\nSaved {save('templates', result)}")


def report(result: dict) -> None:
    s = result["starters"]
    print(f"\nEmpty notebook through papermill (fixed cost): {s['empty_notebook_s']:.1f} s")
    for theme in THEMES:
        r = s[theme]
        print(f"\n{theme}: starter median {r['median_s']:.1f} s "
              f"({r['median_s'] / s['empty_notebook_s']:.1f}x an empty notebook)")
        for seed, metrics in r["holdout"].items():
            parts = [f"{m} {b:.3f} -> {v:.3f}" for m, (b, v) in metrics.items()]
            print(f"  seed {seed}: baseline -> ML: " + "; ".join(parts))
    v = result["voila"]
    floor = v["floor"]["page_view"]["median_s"]
    print(f"\nVoila, one-widget notebook: cold {v['floor']['cold']['median_s']:.1f} s, page view {floor:.1f} s")
    for theme in THEMES:
        r = {k: x["median_s"] for k, x in v[theme].items()}
        print(f"  {theme}: cold {r['cold']:.1f} s; later page view {r['page_view']:.1f} s "
              f"({r['page_view'] / floor:.1f}x the one-widget page), without the cache "
              f"{r['page_view_no_cache']:.1f} s ({r['page_view_no_cache'] / r['page_view']:.1f}x slower)")


if __name__ == "__main__":
    main()
