"""The company's calendar: one fiscal year, and vectorised draws of realistic timestamps."""

from __future__ import annotations

import numpy as np

START = np.datetime64("2025-04-01T00:00:00", "us")
END = np.datetime64("2026-04-01T00:00:00", "us")
DAYS = int((END - START) / np.timedelta64(1, "D"))
US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000

# Relative activity per weekday (Mon..Sun) and per hour of day for a health app.
WEEKDAY_ACTIVITY = np.array([1.0, 0.95, 0.95, 0.95, 1.0, 1.25, 1.3])
HOUR_ACTIVITY = np.array([
    0.3, 0.15, 0.1, 0.1, 0.15, 0.4, 1.0, 1.6, 1.5, 0.9, 0.8, 0.9,
    1.3, 1.1, 0.8, 0.8, 0.9, 1.1, 1.4, 1.6, 1.7, 1.6, 1.2, 0.7,
])


def weekday(day_index: np.ndarray) -> np.ndarray:
    """0 = Monday. The fiscal year starts on a Tuesday (2025-04-01)."""
    return (day_index + 1) % 7


def draw_hours(rng: np.random.Generator, n: int, profile: np.ndarray = HOUR_ACTIVITY) -> np.ndarray:
    return rng.choice(24, size=n, p=profile / profile.sum())


def stamp(day_index: np.ndarray, hour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Timestamps (microsecond precision, whole seconds) from day and hour, minute/second random."""
    seconds = rng.integers(0, 3600, size=len(day_index))
    us = day_index.astype(np.int64) * US_PER_DAY + hour.astype(np.int64) * US_PER_HOUR
    return START + (us + seconds * 1_000_000).astype("timedelta64[us]")


def day_of(ts: np.ndarray) -> np.ndarray:
    return ((ts - START) // np.timedelta64(1, "D")).astype(np.int64)
