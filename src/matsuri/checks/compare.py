"""Compare a learner's table with an exercise key, most basic difference first.

The order matters for the learner: a wrong column name makes every later comparison noise, so
columns come first, then the number of rows, then values per column, then rows, then ordering.
"""

from __future__ import annotations

from collections import Counter

from matsuri.checks.fingerprint import column_names, fingerprint
from matsuri.checks.key_file import ExerciseKey
from matsuri.checks.messages import listing, render
from matsuri.checks.outcomes import Incorrect, NotAttempted


def as_table(value: object, var: str, lang: str):
    """The learner's answer as a pandas DataFrame (jupysql may also hand back its ResultSet)."""
    if value is None:
        raise NotAttempted("not_attempted", lang, var=var)
    if hasattr(value, "columns") and hasattr(value, "iloc"):
        return value
    if hasattr(value, "DataFrame") and hasattr(value, "keys"):
        return value.DataFrame()
    if isinstance(value, str):
        kind = render("kind_text", lang)
    elif isinstance(value, (int, float)):
        kind = render("kind_number", lang)
    else:
        kind = render("kind_other", lang, type=type(value).__name__)
    raise Incorrect("not_a_table", lang, var=var, kind=kind)


def compare(key: ExerciseKey, frame, lang: str, follow: list[str] | None = None) -> None:
    """Return quietly if `frame` matches the key; otherwise raise Incorrect saying how it differs."""
    names = column_names(frame)

    def differ(message: str, **fields) -> Incorrect:
        return Incorrect(message, lang, follow, **fields)

    duplicates = sorted(n for n, count in Counter(names).items() if count > 1)
    if duplicates:
        raise differ("duplicate_columns", cols=listing(duplicates))
    missing = [c for c in key.columns if c not in names]
    extra = [c for c in names if c not in key.columns]
    if missing or extra:
        parts = []
        if missing:
            parts.append(render("missing_columns", lang, cols=listing(missing)))
        if extra:
            parts.append(render("extra_columns", lang, cols=listing(extra)))
        parts.append(render("columns_hint", lang))
        raise Incorrect("missing_columns" if missing else "extra_columns", lang, follow,
                        text=" ".join(parts))
    if len(frame) != key.rows:
        raise differ("row_count", got=len(frame), want=key.rows)
    got = fingerprint(frame, key.columns, key.order_by, key.places, key.salt)
    wrong = [c for c in key.columns if got.column_hashes[c] != key.column_hashes[c]]
    if wrong:
        raise differ("column_values", cols=listing(wrong))
    if got.row_hash != key.row_hash:
        raise differ("rows_mixed")
    if key.order_by and got.order_hash != key.order_hash:
        raise differ("order", cols=listing(key.order_by))
