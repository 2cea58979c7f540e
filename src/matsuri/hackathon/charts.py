"""Charts for the gallery and the awards report: PNG bytes, Japanese text drawn with a CJK font,
every word from `TEXT` in the language asked for (`lang`, ja or en).

Figures are built with `matplotlib.figure.Figure` (no pyplot state), so a Voila kernel or the
report can draw them without a display and without touching global figure managers.
"""

from __future__ import annotations

import base64
import io

from matsuri.language import say

COLOURS = ["#d1495b", "#edae49", "#00798c", "#30638e", "#003d5b", "#66a182", "#8d96a3"]

TEXT: dict[str, dict[str, str]] = {
    "no_submission": {"ja": "まだ採点された提出がありません", "en": "No scored submission yet"},
    "no_marks": {"ja": "審査の採点はまだありません", "en": "No judges' marks yet"},
    "average_mark": {"ja": "平均点", "en": "Average mark"},
    "leaderboard_part": {"ja": "リーダーボード", "en": "Leaderboard"},
    "judges_part": {"ja": "審査員", "en": "Judges"},
    "total": {"ja": "総合点（0〜1）", "en": "Total (0 to 1)"},
}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    from matsuri.plotting import use_japanese_font

    use_japanese_font()
    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def leaderboard_chart(boards: dict[str, list], metrics: dict[str, str], title: str = "",
                      lang: str = "ja") -> bytes:
    """One panel per theme: teams' scores as horizontal bars, best at the top, each value shown
    as the theme's spec formats it. A theme nobody entered says so, with no axis."""
    from matsuri.theme_spec import all_themes, shown

    specs = all_themes()
    themes = [t for t in boards]
    rows = max([len(boards[t]) for t in themes] + [1])
    fig = _figure(7.5, 1.2 + 0.42 * rows * max(len(themes), 1))
    axes = fig.subplots(max(len(themes), 1), 1, squeeze=False)[:, 0]
    for ax, theme, colour in zip(axes, themes, COLOURS, strict=False):
        entries = boards[theme]
        names = [e.display_name for e in entries][::-1]
        scores = [e.score for e in entries][::-1]
        ax.barh(names, scores, color=colour)
        for y, value in enumerate(scores):
            ax.text(value, y, " " + shown(theme, metrics[theme], value), va="center", fontsize=9)
        label = specs[theme].title[lang] if theme in specs else theme
        ax.set_title(f"{label} · {theme} ({metrics[theme]})", loc="left", fontsize=11)
        if not entries:
            ax.text(0.5, 0.5, say(TEXT, "no_submission", lang), ha="center",
                    va="center", transform=ax.transAxes)
            ax.set_axis_off()
        ax.margins(x=0.18)
        ax.spines[["top", "right"]].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=13)
    return _png(fig)


def judges_chart(standings: list, criteria: list, lang: str = "ja") -> bytes:
    """Average judges' mark per criterion for every team, grouped bars."""
    import numpy as np

    teams = [s for s in standings if s.marks.by_criterion]
    fig = _figure(7.5, 1.5 + 0.5 * max(len(teams), 1))
    ax = fig.subplots()
    if not teams:
        ax.text(0.5, 0.5, say(TEXT, "no_marks", lang), ha="center", va="center")
        ax.set_axis_off()
        return _png(fig)
    height = 0.8 / len(criteria)
    y = np.arange(len(teams))[::-1]
    for i, (criterion, colour) in enumerate(zip(criteria, COLOURS, strict=False)):
        values = [s.marks.by_criterion.get(criterion.id, 0.0) for s in teams]
        ax.barh(y + (i - (len(criteria) - 1) / 2) * height, values, height, label=criterion.label(lang), color=colour)
    ax.set_yticks(y, [s.display_name for s in teams])
    ax.set_xlabel(say(TEXT, "average_mark", lang))
    fig.legend(loc="outside lower center", ncol=min(len(criteria), 4), fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def final_chart(standings: list, metric_weight: float, rubric_weight: float, lang: str = "ja") -> bytes:
    """The final ranking as stacked bars: the metric share and the judges' share of each total."""
    fig = _figure(7.5, 1.5 + 0.45 * max(len(standings), 1))
    ax = fig.subplots()
    names = [f"{s.place}. {s.display_name}" for s in standings][::-1]
    metric = [metric_weight * s.metric_part for s in standings][::-1]
    marks = [rubric_weight * s.rubric_part for s in standings][::-1]
    ax.barh(names, metric, color=COLOURS[2], label=say(TEXT, "leaderboard_part", lang))
    ax.barh(names, marks, left=metric, color=COLOURS[1], label=say(TEXT, "judges_part", lang))
    ax.set_xlim(0, 1.05)
    ax.set_xlabel(say(TEXT, "total", lang))
    ax.legend(loc="lower right", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)
