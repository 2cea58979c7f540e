"""Python answers (`q1_answer = …`): a number, a string, a list or a DataFrame, checked as a table.

Every answer becomes a table so that one comparison serves SQL and Python alike (compare.py):
a DataFrame as it is, a Series or a list as one column `value` (in order), anything else as one
row and one column `value`. While grading, the check cell also writes the answer as data beside
the notebook (`.matsuri-answers/<var>.parquet`); the grader reads that file and decides on its
side with its private key (grading/preprocessors.py, DecideGrades). Code in the notebook can
write any table there, as it could type any answer: it cannot reach the key or the grade.
"""

from __future__ import annotations

import os
from pathlib import Path

from matsuri.checks.messages import render
from matsuri.checks.outcomes import Incorrect, NotAttempted

ANSWERS_DIR = ".matsuri-answers"
MAX_BYTES = 20_000_000       # one exported answer; a course answer is far smaller
SCALARS = (int, float, str, bool)


def as_answer_table(value: object, var: str, lang: str):
    """The learner's value as a pandas DataFrame, or a plain message saying why it cannot be."""
    import numpy as np
    import pandas as pd

    from matsuri.checks import figures

    if value is None:
        raise NotAttempted("not_assigned", lang, var=var)
    if figures.is_figure(value):
        return figures.describe(value)
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, pd.Series):
        return pd.DataFrame({"value": value.to_numpy()})
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, SCALARS):
        return pd.DataFrame({"value": [value]})
    if isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) == 1:
        return pd.DataFrame({"value": list(value)})
    raise Incorrect("not_a_value", lang, var=var, kind=render("kind_other", lang, type=type(value).__name__))


def compare_answer(key, frame, lang: str, follow: list[str] | None = None) -> None:
    """compare() of the table, with one plain sentence when the answer is a single value."""
    from matsuri.checks import figures
    from matsuri.checks.compare import compare

    if key.figure:  # a chart: its kind and labels, then what it plots
        figures.check_chart(key.figure, frame.attrs.get("figure", {}), key.answer, lang, follow)
    try:
        compare(key, frame, lang, follow)
    except Incorrect:
        if key.columns == ["value"] and key.rows == 1 and list(frame.columns) == ["value"] and len(frame) == 1:
            raise Incorrect("value_differs", lang, follow, var=key.answer, got=repr(frame["value"].iloc[0])) from None
        raise


def export(var: str, table, folder: Path | None = None) -> Path:
    """Write the answer table for the grader (Parquet: data only, nothing that runs on reading)."""
    folder = Path(folder or Path.cwd() / ANSWERS_DIR)
    folder.mkdir(exist_ok=True)
    target = folder / f"{var}.parquet"
    partial = folder / f".{var}.parquet.partial"
    (folder / f"{var}.none").unlink(missing_ok=True)
    frame = table.copy()
    frame.columns = [str(c) for c in frame.columns]
    frame.to_parquet(partial, index=False)
    os.replace(partial, target)
    return target


def export_any(var: str, value, folder: Path | None = None) -> None:
    """Whatever `var` holds, as the grader reads it: a model with skops, else a table."""
    from matsuri.checks import estimators

    if value is None:
        export_nothing(var, folder)
    elif estimators.is_estimator(value):
        estimators.save(var, value, folder)
    else:
        export(var, as_answer_table(value, var, "en"), folder)


def export_nothing(var: str, folder: Path | None = None) -> None:
    """Say "no answer yet" to the grader (the check ran, `var` was not set)."""
    folder = Path(folder or Path.cwd() / ANSWERS_DIR)
    folder.mkdir(exist_ok=True)
    (folder / f"{var}.parquet").unlink(missing_ok=True)
    (folder / f"{var}.none").touch()


UNANSWERED = "unanswered"


def read_exported(folder: Path, var: str):
    """The table a grading kernel exported for `var`, read safely by the grader; UNANSWERED if
    the check ran without an answer; None if it wrote nothing (the check cell did not run) or
    the file is not a sound answer."""
    import io

    import pandas as pd

    from matsuri.sandbox.intake import OPEN_FILE

    if os.path.lexists(Path(folder) / f"{var}.none"):
        return UNANSWERED
    path = Path(folder) / f"{var}.parquet"
    try:
        fd = os.open(path, OPEN_FILE)  # never through a link, never a device
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not (info.st_mode & 0o170000 == 0o100000) or info.st_size > MAX_BYTES:
            return None
        data = f.read(MAX_BYTES + 1)
    try:
        return pd.read_parquet(io.BytesIO(data))
    except Exception:  # a file the kernel garbled is no answer
        return None
