"""Scoring on the organiser-only labels: a deterministic public/private split, cached answer keys.

The split hashes each holdout id (a text id through blake2b first) with the event's split seed
(splitmix64, pure numpy), so it does not depend on row order, file order, library versions or the
machine: the same settings always give the same public and private rows. Scoring is a pure function of (predictions, labels,
settings), so scoring a submission again gives the same numbers (idempotent).
"""

from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from matsuri.errors import NotFound
from matsuri.hackathon.themes import AnswerKey, get_theme

PARTS = ("public", "private")


def _splitmix64(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _numbers(ids: np.ndarray) -> np.ndarray:
    """Whole-number ids as they are; text ids ('D00013353') as the first 8 bytes of their blake2b
    digest, so a text id lands on the same side of the split on every machine, too."""
    if ids.dtype.kind in "iu":
        return ids.astype(np.uint64)
    digests = b"".join(hashlib.blake2b(str(i).encode(), digest_size=8).digest() for i in ids)
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


def public_mask(ids: np.ndarray, theme: str, seed: int, share: float) -> np.ndarray:
    """True for the ids on the public leaderboard; the same ids for the same (theme, seed, share).
    Ids are whole numbers or text, as the holdout's are."""
    salt = int.from_bytes(hashlib.blake2b(f"{theme}:{seed}".encode(), digest_size=8).digest(), "little")
    hashed = _splitmix64(_numbers(ids) ^ np.uint64(salt))
    return (hashed % np.uint64(1_000_000)) < np.uint64(round(share * 1_000_000))


@cache
def _key(theme_id: str, warehouse: str, labels: str, stamp: tuple) -> AnswerKey:
    import duckdb

    with duckdb.connect(warehouse, read_only=True) as w, duckdb.connect(labels, read_only=True) as lab:
        return get_theme(theme_id).load_key(w, lab)


def answer_key(theme_id: str, warehouse: Path, labels: Path) -> AnswerKey:
    """The theme's ids and labels, loaded once per process (reloaded if either file changes)."""
    for path, what in ((warehouse, "warehouse"), (labels, "organiser labels store")):
        if not Path(path).is_file():
            raise NotFound(
                f"The {what} {path} does not exist. Build it with `matsuri data build` (or point "
                "MATSURI_WAREHOUSE / MATSURI_LABELS at it) before scoring."
            )
    stamp = tuple(os.stat(p).st_mtime_ns for p in (warehouse, labels))
    return _key(theme_id, str(warehouse), str(labels), stamp)


@dataclass(frozen=True)
class ScoringJob:
    folder: Path            # holds predictions.csv (and keywords.csv)
    theme: str
    public_share: float
    seed: int
    max_bytes: int
    warehouse: Path
    labels: Path


def _parts(key: AnswerKey, job: ScoringJob) -> dict[str, np.ndarray]:
    """The public and private rows, the same for every file of the theme: made once per process."""
    split = ("public", job.seed, job.public_share)
    if split not in key.extra:
        public = public_mask(key.ids, job.theme, job.seed, job.public_share)
        key.extra[split] = {"public": public, "private": ~public}
    return key.extra[split]


def score_folder(job: ScoringJob) -> dict[str, dict[str, float]]:
    """Check the folder's files, then score the public and private parts: {part: {metric: value}}."""
    theme = get_theme(job.theme)
    key = answer_key(job.theme, job.warehouse, job.labels)
    tables = theme.read(Path(job.folder), key, job.max_bytes)
    return theme.score_parts(tables, key, _parts(key, job))


def _safe(job: ScoringJob):
    from matsuri.hackathon.predictions import InvalidSubmission

    try:
        return score_folder(job)
    except InvalidSubmission as error:
        return error


def _warm(jobs: list[ScoringJob]) -> None:
    """Load here what every worker needs (libraries, answer keys, splits), so that workers forked
    from this process start with it instead of each loading it again."""
    import pyarrow.csv  # noqa: F401  (the prediction files' reader)

    import matsuri.hackathon.predictions  # noqa: F401
    import matsuri.metrics  # noqa: F401

    for job in {(j.theme, j.warehouse, j.labels, j.seed, j.public_share): j for j in jobs}.values():
        _parts(answer_key(job.theme, job.warehouse, job.labels), job)


def score_many(jobs: list[ScoringJob], workers: int = 2, progress: bool = True) -> list:
    """Score many folders in parallel; each result is a score dict or the InvalidSubmission it raised."""
    import multiprocessing

    from tqdm.auto import tqdm

    if workers <= 1 or len(jobs) < 4:
        return [_safe(j) for j in tqdm(jobs, desc="Scoring", unit="file", disable=not progress)]
    _warm(jobs)
    fork = multiprocessing.get_context("fork") if sys.platform == "linux" else None
    with ProcessPoolExecutor(max_workers=workers, mp_context=fork) as pool:
        chunk = max(1, len(jobs) // (workers * 8))
        return list(tqdm(pool.map(_safe, jobs, chunksize=chunk), total=len(jobs), desc="Scoring",
                         unit="file", disable=not progress))
