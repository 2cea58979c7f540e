"""Write a theme's prediction files exactly as the hackathon scores them, and refuse anything else.

The rules come from the theme's spec (`templates/<id>/theme.toml`: file names, columns, k); the
checks are those `hackathon submit` runs (`Theme.read_file`), on the written file, against the
holdout of the warehouse this notebook reads. So a file these functions write is one `hackathon submit`
accepts, and a file they refuse comes with the message the submission would have got. Files are
written beside the target and renamed into place: a refused or failed write leaves the previous
submission as it was.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from matsuri import theme_spec
from matsuri.errors import InvalidSubmission, OutOfSpace, UsageError
from matsuri.theme_spec import PredictionFile

MAX_BYTES = 2**30  # the event's own limit applies at submit; here only the format is checked


def write_probabilities(theme: str, folder: str | Path, ids: Iterable, probabilities: Iterable[float],
                        con=None) -> Path:
    """The theme's probability file: one probability in [0, 1] for every row of its holdout table."""
    return _write_per_id(theme, "probability", folder, ids, probabilities, con)


def write_values(theme: str, folder: str | Path, ids: Iterable, values: Iterable[float], con=None) -> Path:
    """A regression theme's file: one number for every row of its holdout table."""
    return _write_per_id(theme, "value", folder, ids, values, con)


def write_rankings(theme: str, folder: str | Path, rankings: pd.DataFrame, con=None) -> Path:
    """The theme's ranking file: for every holdout id, up to k items ranked 1, 2, 3, … (the id,
    item and rank columns, as the spec names them)."""
    spec, file = _file(theme, "ranking")
    missing = [c for c in file.columns if c not in rankings.columns]
    if missing:
        raise UsageError(f"The rankings have no column {', '.join(missing)}; {theme} needs the "
                         f"columns {', '.join(file.columns)}.")
    frame = rankings[list(file.columns)].sort_values([spec.id_column, "rank"])
    return _write_checked(spec, file, frame, folder, con)


def write_keywords(theme: str, folder: str | Path, keywords: Iterable[str]) -> Path:
    """The theme's keyword file: your words, strongest first. Blanks and repeats are dropped and
    only the first k (from the spec) are kept."""
    spec, file = _file(theme, "keywords")
    words = [w for w in dict.fromkeys(str(w).strip() for w in keywords) if w][:file.k]
    if not words:
        raise UsageError(f"No keywords to write: pass at least one word (up to {file.k}, strongest first).")
    frame = pd.DataFrame({"rank": np.arange(1, len(words) + 1), "keyword": words})
    return _write_checked(spec, file, frame, folder, con=None)


def _file(theme: str, kind: str) -> tuple[theme_spec.ThemeSpec, PredictionFile]:
    spec = theme_spec.get(theme)
    found = [f for f in spec.files if f.kind == kind]
    if not found:
        kinds = ", ".join(f"{f.name} ({f.kind})" for f in spec.files)
        raise UsageError(f"The theme {theme} has no {kind} file; it takes {kinds}.")
    return spec, found[0]


def _write_per_id(theme: str, kind: str, folder, ids, values, con) -> Path:
    spec, file = _file(theme, kind)
    ids, values = np.asarray(list(ids)), np.asarray(list(values), dtype=float)
    if len(ids) != len(values):
        raise UsageError(f"There are {len(ids)} ids but {len(values)} {file.columns[1]} values; "
                         "give one value per id.")
    frame = pd.DataFrame({spec.id_column: ids, file.columns[1]: values}).sort_values(spec.id_column)
    return _write_checked(spec, file, frame, folder, con)


def _write_checked(spec, file: PredictionFile, frame: pd.DataFrame, folder, con) -> Path:
    target = Path(folder) / file.name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{file.name}.", dir=target.parent))
    except OSError as error:
        raise _write_error(target, error) from None
    try:
        written = scratch / file.name  # the same name, so messages name the file teams submit
        try:
            frame.to_csv(written, index=False, float_format="%.6g")
        except OSError as error:
            raise _write_error(target, error) from None
        _check(spec, file, written, con)
        os.replace(written, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _check(spec, file: PredictionFile, path: Path, con) -> None:
    """The checks `hackathon submit` runs, against the holdout of this notebook's warehouse."""
    from matsuri.hackathon.themes import AnswerKey, Theme
    from matsuri.warehouse import query

    theme = Theme(spec)
    if file.kind == "keywords":
        key = AnswerKey(np.empty(0, np.int64), None)
    else:
        own = con is None
        con = query.connect() if own else con
        try:
            key = theme.holdout(con)
        finally:
            if own:
                con.close()
    try:
        theme.read_file(path, file, key, MAX_BYTES)
    except InvalidSubmission as refusal:
        raise InvalidSubmission(f"Nothing was written, because the hackathon would refuse this "
                                f"file: {refusal}") from None


def _write_error(path: Path, error: OSError) -> Exception:
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return OutOfSpace(f"The disk is full: {path} could not be written. Free some space and run again.")
    return UsageError(f"Could not write {path}: {error.strerror}. Check the output folder.")
