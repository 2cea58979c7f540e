"""Fingerprints of a query result: enough to say *how* an answer differs, not what it should be.

Each value becomes a canonical string (numbers rounded to the exercise's decimal places, so
1617 and 1617.0 agree; a midnight timestamp equals its date; NULL/NaN/NaT are one token). From
those: a hash per column (order-free), a hash of whole rows (order-free), and a hash of the sort
key columns in row order (ties may come in any order and still agree).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import math
import numbers
from dataclasses import dataclass

NULL = "\x00"
ROW_SEP = "\x1e"


def canonical(value: object, places: int) -> str:
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return NULL
    if isinstance(value, bool) or type(value).__name__ in ("bool_", "bool"):  # numpy bools too
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return f"{int(value)}.{'0' * places}" if places else str(int(value))
    if isinstance(value, (float, numbers.Real, decimal.Decimal)):
        number = float(value)
        if math.isnan(number):
            return NULL
        text = f"{round(number, places):.{places}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text
    if isinstance(value, dt.datetime):  # includes pandas.Timestamp
        if value.tzinfo is None and value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    return str(value)


def digest(items, salt: str) -> str:
    h = hashlib.sha256(salt.encode())
    for item in items:
        h.update(item.encode())
        h.update(b"\x1f")
    return h.hexdigest()[:20]


@dataclass
class Fingerprint:
    columns: list[str]
    rows: int
    column_hashes: dict[str, str]
    row_hash: str
    order_hash: str | None


def column_names(frame) -> list[str]:
    return [str(c).strip().lower() for c in frame.columns]


def fingerprint(frame, columns: list[str], order_by: list[str], places: int, salt: str) -> Fingerprint:
    """Fingerprint `frame` (a pandas DataFrame) over `columns`, which it must have (lower case)."""
    position = {name: i for i, name in enumerate(column_names(frame))}
    values = {
        name: [canonical(v, places) for v in frame.iloc[:, position[name]].tolist()]
        for name in columns
    }
    rows = [ROW_SEP.join(cells) for cells in zip(*(values[c] for c in columns), strict=True)]
    order = (
        digest((ROW_SEP.join(k) for k in zip(*(values[c] for c in order_by), strict=True)), salt)
        if order_by else None
    )
    return Fingerprint(
        columns=list(columns),
        rows=len(frame),
        column_hashes={c: digest(sorted(values[c]), f"{salt}/{c}") for c in columns},
        row_hash=digest(sorted(rows), salt),
        order_hash=order,
    )
