"""ml-101: what building its keys costs, and how quickly a learner's check answers.

1. Reference runs at `small`: each lesson's source notebook run once (what `course release` and
   `course grade` do to build keys): seconds per lesson, kernel start included.
2. Check latency in the learner's kernel, median of --rounds (20), on the same build:
   - a trained model (lesson 09's churn model): the validation rows queried, the model scored,
     the tier found (`estimators.judge`, as `q3.check()` does);
   - a number (lesson 01's first answer), as the baseline: `compare_answer` on one value.

Usage: python benchmarks/bench_ml101.py [--rounds N]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from common import median, save  # noqa: E402

from matsuri.checks import estimators, python_answers  # noqa: E402
from matsuri.grading import course as courses  # noqa: E402
from matsuri.grading import key_builder  # noqa: E402
from matsuri.grading.python_reference import _answers  # noqa: E402
from matsuri.warehouse.build import build  # noqa: E402
from matsuri.warehouse.query import connect  # noqa: E402

console = Console()


def reference_seconds(course, warehouse: Path) -> dict[str, float]:
    seconds = {}
    for lesson in course.lessons:
        names = tuple(e.answer for e in lesson.exercises if e.kind == "python")
        started = time.perf_counter()
        _answers(lesson.id, lesson.notebook, names, warehouse, 600)  # never cached: one cold kernel each
        seconds[lesson.id] = time.perf_counter() - started
    return seconds


def check_latency(course, warehouse: Path, labels: Path, rounds: int) -> dict[str, float]:
    import os

    os.environ["MATSURI_LABELS"] = str(labels)
    model_lesson = next(lesson for lesson in course.lessons if any(e.estimator for e in lesson.exercises))
    number_lesson = course.lessons[0]
    with connect(warehouse) as con:
        keys = {lesson.id: key_builder.build(course, lesson, con, for_learners=True, answers=answers)
                for lesson, answers in ((model_lesson, _reference(model_lesson, warehouse)),
                                        (number_lesson, _reference(number_lesson, warehouse)))}
        exercise = next(e for e in keys[model_lesson.id].key.exercises if e.estimator)
        model = _reference(model_lesson, warehouse)[exercise.answer]
        rules = exercise.estimator
        model_times = []
        for _ in range(rounds):
            started = time.perf_counter()
            rows = con.sql(rules["validation"]).df()
            estimators.judge(model, rows.drop(columns=[rules["label"]]), rows[rules["label"]], rules,
                             rules["tiers_validation"], exercise.answer, "ja", "model_score")
            model_times.append(time.perf_counter() - started)
    value_key = keys[number_lesson.id].key.exercises[0]
    value = _reference(number_lesson, warehouse)[value_key.answer]
    value_times = []
    for _ in range(rounds):
        started = time.perf_counter()
        python_answers.compare_answer(value_key, value, "ja")
        value_times.append(time.perf_counter() - started)
    return {f"model ({model_lesson.id} {exercise.name})": median(model_times),
            f"number ({number_lesson.id} {value_key.name})": median(value_times)}


def _reference(lesson, warehouse: Path) -> dict:
    from matsuri.grading.python_reference import reference_answers

    return reference_answers(lesson, warehouse)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="matsuri-bench-ml101-"))
    try:
        built = build("small", 42, out_dir=tmp / "company", progress=False)
        course = courses.load("ml-101")
        seconds = reference_seconds(course, built.warehouse)
        latency = check_latency(course, built.warehouse, built.labels, args.rounds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table = Table("lesson", "reference run at small, s", title="building ml-101's keys")
    for lesson, value in seconds.items():
        table.add_row(lesson, f"{value:.1f}")
    console.print(table)
    for what, value in latency.items():
        console.print(f"check of a {what}: median {value * 1000:.1f} ms over {args.rounds} rounds")
    model, number = latency.values()
    console.print(f"model check / number check: {model / number:.0f}×")
    save("ml101", {"reference_seconds": seconds, "check_median_seconds": latency})


if __name__ == "__main__":
    main()
