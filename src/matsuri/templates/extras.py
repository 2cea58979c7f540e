"""Columns a participant adds to a starter's SQL: found, checked, encoded and explained.

Whatever the load query returns beyond the columns a theme reads by name is an extra feature:
typed by `matsuri.templates.columns` (number, category, text, time) and appended to the theme's
model (each theme's `make_model(..., extra=...)`), so a column added in SQL needs no Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from matsuri.errors import UsageError
from matsuri.templates import columns, japanese

HOW = {  # how the model reads each kind, for learners (Japanese, English)
    "number": ("欠損は中央値で埋め、尺度をそろえる", "missing values become the median, then scaled"),
    "category": ("値ごとに 1 列（まれな値はまとめる）", "one column per value, rare values pooled"),
    "text": ("日本語の単語に分け、TF-IDF で重み付け", "Japanese words, weighted by TF-IDF"),
    "time": ("時・曜日・月に分ける", "its hour, weekday and month"),
}


def found(frame, known: Iterable[str], needed: Iterable[str] = (), taken: Iterable[str] = ()) -> dict[str, str]:
    """{column: kind} of the columns the query returns beyond `known`; refuses, in plain words, a
    query that lost a `needed` column, an added column named like a feature the theme computes
    (`taken`), and one the model cannot learn from (columns.check)."""
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise UsageError(f"The query no longer returns {', '.join(missing)}: the model reads these columns "
                         "by name. Put them back in the SELECT, and add your own columns beside them.")
    chosen = columns.extra(frame, known)
    clash = [c for c in chosen if c in set(taken)]
    if clash:
        raise UsageError(f"'{clash[0]}' is already the name of a feature the model computes. Give your "
                         f"column another name in the SQL, for example … AS my_{clash[0]}.")
    columns.check(frame, chosen)
    return chosen


def encoder(chosen: Mapping[str, str], dense: bool = False):
    """columns.encoder for the added columns. Text is split by `japanese.words` itself: the cached
    default tokenizer cannot be loaded back by skops, and the hand-off keeps models with skops."""
    return columns.encoder(chosen, tokenizer=japanese.words, dense=dense)


def explain(chosen: Mapping[str, str], how: Mapping[str, tuple[str, str]] = HOW) -> str:
    """What a starter prints after its SQL cell: each added column and how the model reads it
    (`how`: per kind, in Japanese and English, when a theme's model reads them otherwise)."""
    if not chosen:
        return ("追加の列はありません。SQL の SELECT に列を足すと、モデルはその列も使います。\n"
                "No extra columns: add a column to the SELECT above and the model uses it too.")
    width = max(map(len, chosen))
    lines = ["モデルが使う追加の列 / extra columns used by the model:"]
    for column, kind in chosen.items():
        names, (ja, en) = columns.KIND_NAMES[kind], how[kind]
        lines.append(f"  {column:<{width}}  {names['ja']} / {names['en']}: {ja} / {en}")
    return "\n".join(lines)


def names_out(fitted) -> list[tuple[str, str | None]]:
    """(name, added column or None) for each output of a fitted ColumnTransformer whose last part
    may be `encoder`'s: e.g. ("plan_premium", None), ("age_band_30s", "age_band").
    (columns.encoder's FunctionTransformer steps cannot name their outputs themselves.)"""
    out: list[tuple[str, str | None]] = []
    for name, part, inputs in fitted.transformers_:
        width = fitted.output_indices_[name]
        if width.stop == width.start:
            continue
        if not hasattr(part, "transformers_"):
            out += [(str(n), None) for n in part.get_feature_names_out(inputs)]
            continue
        for column, steps, _ in part.transformers_:
            inner = part.output_indices_[column]
            first, last = (steps[0], steps[-1]) if hasattr(steps, "steps") else (steps, steps)
            if hasattr(last, "categories_"):     # a category: its encoder names "plan_premium"
                names = [str(n) for n in last.get_feature_names_out()]
            elif hasattr(last, "vocabulary_"):   # text: one output per word
                names = [f"{column}:{w}" for w in last.get_feature_names_out()]
            elif getattr(first, "func", None) is columns._time_parts:
                names = [f"{column}_{p}" for p in ("hour", "weekday", "month")]
            elif inner.stop - inner.start == 1:  # a number
                names = [column]
            else:                                # text summarised for a dense model
                names = [f"{column}_{i}" for i in range(inner.stop - inner.start)]
            out += [(n, column) for n in names]
    return out
