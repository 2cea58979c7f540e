"""Build the `large` company several times: median wall time and peak memory (targets: < 60 s, < 4 GiB).

The obvious alternative to a vectorised generator is a row-by-row Python loop; we time both on the
same work (the events of the `small` company, about 1 M rows) in the same run and quote the ratio.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import gib, median, run_measured, save  # noqa: E402

from matsuri.warehouse import people, timeline  # noqa: E402
from matsuri.warehouse.scales import get_scale  # noqa: E402

RUNS = 3


def build_large_runs() -> tuple[list[float], list[int]]:
    matsuri = str(Path(sys.executable).parent / "matsuri")
    walls, peaks = [], []
    for i in range(RUNS):
        with tempfile.TemporaryDirectory() as out:
            wall, peak = run_measured([matsuri, "data", "build", "--scale", "large", "--out", out],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(wall)
        peaks.append(peak)
        print(f"  large build {i + 1}/{RUNS}: {wall:.1f} s, peak {gib(peak)}", flush=True)
    return walls, peaks


def events_row_by_row(users: people.Users, total: int, rng: np.random.Generator) -> int:
    """What a hand-written generator does: one Python iteration per event."""
    import random

    random.seed(0)
    spans = (users.end_us - users.signup_us).tolist()
    starts = users.signup_us.tolist()
    weights = (users.activity * (users.end_us - users.signup_us)).tolist()
    owners = random.choices(range(len(starts)), weights=weights, k=total)
    rows = []
    for u in owners:
        at = starts[u] + int(random.random() ** 1.6 * spans[u])
        hour = random.choices(range(24), weights=timeline.HOUR_ACTIVITY)[0]
        rows.append((u + 1, at - at % timeline.US_PER_DAY + hour * timeline.US_PER_HOUR,
                     random.choice(people.EVENT_TYPES)))
    return len(rows)


def events_comparison() -> dict:
    scale = get_scale("small")
    users = people.make_users(np.random.default_rng(1), scale)
    vec, loop = [], []
    for _ in range(RUNS):
        t = time.perf_counter()
        n = len(people.make_events(np.random.default_rng(2), scale, users))
        vec.append(time.perf_counter() - t)
        t = time.perf_counter()
        events_row_by_row(users, n, np.random.default_rng(2))
        loop.append(time.perf_counter() - t)
    return {"rows": n, "vectorised_s": median(vec), "row_by_row_s": median(loop),
            "speedup": median(loop) / median(vec)}


def main() -> None:
    print(f"Building `large` {RUNS} times (about 1 M users, 20 M events)…", flush=True)
    walls, peaks = build_large_runs()
    events = events_comparison()
    result = {
        "large_build_wall_s_median": median(walls), "large_build_peak_bytes_median": median(peaks),
        "runs": RUNS, "walls": walls, "peaks": peaks, "events_generation": events,
    }
    save("warehouse", result)
    print(f"large build: median {median(walls):.1f} s (target < 60 s), "
          f"peak memory median {gib(median(peaks))} (target < 4 GiB)")
    print(f"events of `small` ({events['rows']:,} rows): vectorised {events['vectorised_s']:.2f} s, "
          f"row-by-row Python {events['row_by_row_s']:.2f} s → {events['speedup']:.0f}× faster")


if __name__ == "__main__":
    main()
