"""The model builder at `small`: one run (load the query, validate against the baseline, learn from
every row, write the prediction file) per theme and model, beside the obvious alternative measured
in the same run, the theme's starter notebook through papermill. Also each default recipe's score
on the hidden holdout, against the baseline's, scored as the hackathon scores.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_templates import holdout_metrics, papermill_run  # noqa: E402
from common import median, save  # noqa: E402

from matsuri.builder import run  # noqa: E402
from matsuri.builder.recipe import Recipe  # noqa: E402
from matsuri.templates.tables import open_warehouse  # noqa: E402
from matsuri.theme_spec import all_themes, template_dir  # noqa: E402
from matsuri.warehouse.build import build  # noqa: E402

ROUNDS = 3
MODELS = ("logistic", "boosting")


def one_run(con, recipe: Recipe, out: Path) -> float:
    start = time.perf_counter()
    data = run.load(con, recipe)
    run.validate(data)
    run.write(data, out, con)
    return time.perf_counter() - start


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-builder-"))
    company = build("small", 7, out_dir=work / "company", progress=False)
    con = open_warehouse(str(company.warehouse))
    results = {}
    for theme, spec in all_themes().items():
        if spec.builder is None:
            continue
        recipe = Recipe.start(theme)
        kinds = run.load(con, recipe).candidates
        recipe.features = {name: kinds[name] for name in recipe.features}
        entry = {}
        for model in MODELS:
            recipe.model = model
            walls = [one_run(con, recipe, work / theme / model) for _ in range(ROUNDS)]
            entry[model] = {"median_s": median(walls), "walls": walls}
        recipe.model = "baseline"
        run.write(run.load(con, recipe), work / theme / "baseline", con)
        starter = [papermill_run(template_dir(theme) / "starter.ipynb", work / theme / f"starter-{i}",
                                 warehouse=str(company.warehouse), output_dir=str(work / theme / "starter-sub"),
                                 baseline_dir="") for i in range(ROUNDS)]
        entry["starter_median_s"] = median(starter)
        results[theme] = entry
    con.close()  # the scorer opens the warehouse its own way
    for theme, entry in results.items():
        entry["holdout"] = {model: holdout_metrics(theme, company, work / theme / model, work / theme / "baseline")
                            for model in MODELS}
        print(f"{theme}: builder logistic {entry['logistic']['median_s']:.1f} s, boosting "
              f"{entry['boosting']['median_s']:.1f} s; starter through papermill {entry['starter_median_s']:.1f} s "
              f"(ratio {entry['starter_median_s'] / entry['logistic']['median_s']:.1f}x); holdout "
              f"{ {m: {k: (round(b, 4), round(v, 4)) for k, (b, v) in entry['holdout'][m].items()} for m in MODELS} }",
              flush=True)
    print(f"results: {save('builder', results)}")


if __name__ == "__main__":
    main()
