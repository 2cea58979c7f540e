"""A chart as an answer: what it plots becomes a table, and its kind and labels are checked.

`q1_answer = fig` (a matplotlib Figure, or its Axes; pandas' `.plot()` returns Axes). The data a
reader sees is read back from the chart itself: a bar chart gives (label, value) per bar, a line
or scatter chart (x, y) per point (with the line's label when there are several). That table is
compared like any other answer; the chart's kind and whether its axes are labelled are checked
first, since a reader needs both.
"""

from __future__ import annotations

KINDS = {"bar": "bar", "barh": "horizontal bar", "line": "line", "scatter": "scatter"}


def is_figure(value) -> bool:
    return type(value).__module__.startswith("matplotlib.") and (
        hasattr(value, "get_axes") or hasattr(value, "get_xlabel"))


def describe(value):
    """The chart's data as a DataFrame, with its kind and labels in `frame.attrs["figure"]`."""
    import pandas as pd

    axes = [value] if hasattr(value, "get_xlabel") else list(value.get_axes())
    ax = next((a for a in axes if a.containers or a.lines or a.collections), axes[0] if axes else None)
    if ax is None:
        frame, kind = pd.DataFrame({"x": [], "y": []}), "empty"
    elif ax.containers:
        frame, kind = _bars(ax)
    elif ax.lines:
        frame, kind = _points([(line.get_label(), line.get_xydata()) for line in ax.lines]), "line"
    else:
        frame, kind = _points([(c.get_label(), c.get_offsets()) for c in ax.collections]), "scatter"
    labels = (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) if ax is not None else ("", "", "")
    frame.attrs["figure"] = {"kind": kind, "x_label": labels[0], "y_label": labels[1], "title": labels[2]}
    return frame


def _bars(ax):
    import pandas as pd

    bars = [b for container in ax.containers for b in container.patches]
    horizontal = getattr(ax.containers[0], "orientation", "vertical") == "horizontal"
    ticks = [t.get_text() for t in (ax.get_yticklabels() if horizontal else ax.get_xticklabels())]
    values = [b.get_width() if horizontal else b.get_height() for b in bars]
    if len(ticks) == len(bars) and all(ticks):
        labels = ticks
    else:  # a histogram, or bars placed by number: where each bar starts
        labels = [round(b.get_y() if horizontal else b.get_x(), 6) for b in bars]
    return pd.DataFrame({"label": labels, "value": values}), "barh" if horizontal else "bar"


def _points(series):
    import pandas as pd

    named = len(series) > 1
    parts = []
    for label, xy in series:
        part = pd.DataFrame({"x": [p[0] for p in xy], "y": [p[1] for p in xy]})
        if named:
            part.insert(0, "series", label)
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"x": [], "y": []})


def check_chart(want: dict, got: dict, var: str, lang: str, follow: list[str] | None) -> None:
    """The chart's kind first, then its axis labels (when the reference chart has them)."""
    from matsuri.checks.messages import render
    from matsuri.checks.outcomes import Incorrect

    if not got:
        raise Incorrect("not_a_figure", lang, follow, var=var)
    if got["kind"] != want["kind"]:
        name = lambda kind: render(f"chart_{kind}", lang) if kind in KINDS else kind  # noqa: E731
        raise Incorrect("figure_kind", lang, follow, var=var, got=name(got["kind"]), want=name(want["kind"]))
    missing = [axis for axis in ("x_label", "y_label") if want.get(axis) and not got.get(axis, "").strip()]
    if missing:
        raise Incorrect("figure_labels", lang, follow, var=var)
