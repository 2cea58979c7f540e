"""Helpers for benchmarks: medians, peak memory of a child process, JSON results."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def run_measured(cmd: list[str], **kwargs) -> tuple[float, int]:
    """Wall seconds and peak resident memory (bytes) of one child process run to completion."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, **kwargs)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = status
    if status != 0:
        raise RuntimeError(f"{cmd} failed with status {status}")
    return time.perf_counter() - start, usage.ru_maxrss * 1024


def median(values: list[float]) -> float:
    return statistics.median(values)


def save(name: str, data: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    return path


def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB"
