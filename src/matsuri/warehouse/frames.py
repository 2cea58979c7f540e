"""Small helpers that keep the generators vectorised: categorical columns from codes, sigmoid."""

from __future__ import annotations

import numpy as np
import pandas as pd


def categorical(categories: list[str], codes: np.ndarray) -> pd.Categorical:
    """A string column stored as codes: fast to build and to hand to DuckDB."""
    return pd.Categorical.from_codes(codes.astype(np.int32), categories=categories)


def combine(first: list[str], second: list[str], sep: str = "") -> list[str]:
    """Every first+sep+second, in code order a * len(second) + b."""
    return [f"{a}{sep}{b}" for a in first for b in second]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def zipf_weights(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Long-tailed popularity over n items, in random order, summing to 1."""
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    weights = rng.permutation(weights)
    return weights / weights.sum()
