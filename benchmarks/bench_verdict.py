"""The verdict's bootstrap interval (`Comparison.measure`): 5,000 validation rows × 1,000 paired
resamples, for the vectorised metrics, by whole groups, and against the obvious alternative measured
in the same run: calling the metric once per resample on the rows drawn."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import median, save  # noqa: E402

from matsuri.metrics import log_loss, pr_auc, roc_auc, top_decile_lift  # noqa: E402
from matsuri.templates import bootstrap  # noqa: E402

ROWS, RESAMPLES, ROUNDS = 5000, 1000, 5


def seconds(metric, truth, baseline, model, groups=None, rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        bootstrap.gain_interval(metric, truth, baseline, model, groups=groups, resamples=RESAMPLES)
        times.append(time.perf_counter() - start)
    return median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random(ROWS) < 0.2
    baseline = rng.random(ROWS)
    model = 1 / (1 + np.exp(-((truth - 0.5) + rng.normal(0, 1, ROWS))))
    groups = rng.integers(0, 500, ROWS)
    results = {name: seconds(metric, truth, baseline, model)
               for name, metric in {"roc_auc": roc_auc, "pr_auc": pr_auc, "log_loss": log_loss}.items()}
    results["roc_auc_500_groups"] = seconds(roc_auc, truth, baseline, model, groups)
    def plain_roc_auc(labels, scores):  # the same metric, unknown to bootstrap.VECTORISED
        return roc_auc(labels, scores)

    results["roc_auc_one_resample_at_a_time"] = seconds(plain_roc_auc, truth, baseline, model, rounds=1)
    results["top_decile_lift_one_resample_at_a_time"] = seconds(top_decile_lift, truth, baseline, model, rounds=1)
    for name, value in results.items():
        print(f"{name:>40}: {value:.3f} s  ({ROWS:,} rows × {RESAMPLES:,} paired resamples, median)")
    print(f"vectorised ROC AUC is {results['roc_auc_one_resample_at_a_time'] / results['roc_auc']:.1f}× faster "
          "than one resample at a time")
    save("verdict", {"rows": ROWS, "resamples": RESAMPLES, "seconds": results})


if __name__ == "__main__":
    main()
