"""`make bench`: run every benchmarks/bench_*.py (or those whose name contains an argument).

Each benchmark prints its own medians and ratios and writes JSON to benchmarks/results/.
Usage: python benchmarks/run.py [warehouse grading ...]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main(filters: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    chosen = [s for s in scripts if not filters or any(f in s.stem for f in filters)]
    if not chosen:
        print(f"No benchmark matches {filters}; have: {[s.stem for s in scripts]}")
        return 2
    failed = []
    for script in chosen:
        print(f"\n=== {script.stem} ===", flush=True)
        if subprocess.run([sys.executable, str(script)]).returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
