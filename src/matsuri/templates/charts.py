"""The charts the templates and demos draw; every one selects a Japanese font first.

Their axis words come from `TEXT` in the page's language (`lang`; default `matsuri.language.configured()`:
MATSURI_LANG, else Japanese); titles are parameters, so a caller can pass its own."""

from __future__ import annotations

import numpy as np
import pandas as pd

from matsuri.language import configured, say
from matsuri.plotting import use_japanese_font

BASELINE_COLOUR, MODEL_COLOUR = "#9a9a9a", "#2f6fb0"
GOOD, BAD = "#2e8b57", "#c0392b"

TEXT: dict[str, dict[str, str]] = {
    "roc_title": {"ja": "ROC曲線（検証データ）", "en": "ROC curve (validation data)"},
    "fpr": {"ja": "偽陽性率", "en": "False positive rate"},
    "tpr": {"ja": "真陽性率", "en": "True positive rate"},
    "actual": {"ja": "実績", "en": "Actual"},
    "rate": {"ja": "割合", "en": "Rate"},
    "no_data_hour": {"ja": "データなし（この時刻の過去の通知なし）", "en": "No data (no past pushes at this hour)"},
    "average_so_far": {"ja": "これまでの平均 {average:.1%}", "en": "Average so far {average:.1%}"},
    "send_hours_title": {"ja": "送信時刻ごとの予測開封率", "en": "Predicted open rate by send hour"},
    "send_hour": {"ja": "送信時刻（時）", "en": "Send hour"},
    "open_rate": {"ja": "開封率（%）", "en": "Open rate (%)"},
    "word_effects_title": {"ja": "受注につながる言葉・失注につながる言葉", "en": "Words that win and words that lose"},
    "log_odds": {"ja": "受注のオッズへの効果（対数オッズ）", "en": "Effect on the odds of winning (log-odds)"},
    "risk_title": {"ja": "離脱リスクの分布", "en": "How churn risk spreads"},
    "all_users": {"ja": "全ユーザー（{count:,} 人）", "en": "All users ({count:,})"},
    "this_segment": {"ja": "この層（{count:,} 人）", "en": "This segment ({count:,})"},
    "predicted_risk": {"ja": "予測した離脱リスク（%）", "en": "Predicted churn risk (%)"},
    "share_of_users": {"ja": "ユーザーの割合", "en": "Share of users"},
    "reasons_title": {"ja": "リスクを上げている主な理由", "en": "Main reasons raising the risk"},
    "users": {"ja": "人数", "en": "Users"},
}


def _say(key: str, lang: str | None, **fields) -> str:
    return say(TEXT, key, lang or configured(), **fields)


def figure(ncols: int = 1, width: float = 6.0, height: float = 4.0):
    """A matplotlib figure whose text (titles, labels, words) renders Japanese correctly."""
    import matplotlib.pyplot as plt

    use_japanese_font()
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False, layout="constrained")
    return fig, list(axes[0])


def roc_curves(ax, labels, scores: dict[str, np.ndarray], title: str = "", lang: str | None = None) -> None:
    """One ROC curve per method: further up and left is better; the diagonal is guessing."""
    from sklearn.metrics import roc_auc_score, roc_curve

    for (name, score), colour in zip(scores.items(), [BASELINE_COLOUR, MODEL_COLOUR, "#e67e22"], strict=False):
        fpr, tpr, _ = roc_curve(labels, score)
        ax.plot(fpr, tpr, color=colour, lw=2, label=f"{name} (AUC {roc_auc_score(labels, score):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="#cccccc", lw=1)
    ax.set(title=title or _say("roc_title", lang), xlabel=_say("fpr", lang), ylabel=_say("tpr", lang))
    ax.legend(loc="lower right")


def rate_by(ax, actual: pd.Series, predicted: dict[str, pd.Series], xlabel: str, title: str,
            lang: str | None = None) -> None:
    """Observed rate per group (bars) against what each method predicts (lines)."""
    ax.bar(actual.index, actual.to_numpy(), color="#dde6f0", label=_say("actual", lang))
    for (name, series), colour in zip(predicted.items(), [BASELINE_COLOUR, MODEL_COLOUR], strict=False):
        ax.plot(series.index, series.to_numpy(), marker="o", color=colour, label=name)
    if len(actual) <= 24:
        ax.set_xticks(list(actual.index))
    ax.set(title=title, xlabel=xlabel, ylabel=_say("rate", lang))
    ax.legend()


def send_hours(ax, rates: pd.Series, chosen: int, average: float, title: str = "",
               lang: str | None = None) -> None:
    """Predicted open rate per send hour: the chosen hour stands out, the best three are named,
    hours without past pushes (NaN) are grey hatched bars saying so, never a prediction."""
    best = set(rates.dropna().nlargest(3).index)
    known = rates.dropna()
    colours = [MODEL_COLOUR if h == chosen else (GOOD if h in best else "#c7d3e0") for h in known.index]
    ax.bar(known.index, known.to_numpy() * 100, color=colours)
    unknown = rates.index[rates.isna()]
    if len(unknown):
        top = max(float(known.max()) if len(known) else average, average) * 100
        ax.bar(unknown, [top] * len(unknown), color="none", edgecolor="#9e9e9e", hatch="//",
               label=_say("no_data_hour", lang))
    ax.axhline(average * 100, color=BAD, ls="--", lw=1.5, label=_say("average_so_far", lang, average=average))
    ax.set(title=title or _say("send_hours_title", lang), xlabel=_say("send_hour", lang),
           ylabel=_say("open_rate", lang), xticks=range(0, 24, 2))
    ax.legend(loc="upper left")


def word_effects(ax, effects: pd.Series, title: str = "", lang: str | None = None) -> None:
    """Horizontal bars: words that raise the win probability (green) or lower it (red)."""
    effects = effects.sort_values()
    ax.barh(range(len(effects)), effects.to_numpy(), color=[GOOD if v > 0 else BAD for v in effects])
    ax.set_yticks(range(len(effects)), effects.index)
    ax.axvline(0, color="#555555", lw=0.8)
    ax.set(title=title or _say("word_effects_title", lang), xlabel=_say("log_odds", lang))


def metric_bars(ax, table: pd.DataFrame, title: str, values: bool = True) -> None:
    """Grouped bars: one group per metric, one bar per method (columns of `table`)."""
    x = np.arange(len(table.index))
    width = 0.8 / len(table.columns)
    for i, (name, colour) in enumerate(zip(table.columns, [BASELINE_COLOUR, MODEL_COLOUR, "#e67e22"], strict=False)):
        bars = ax.bar(x + i * width, table[name].to_numpy(), width, color=colour, label=name)
        if values:
            ax.bar_label(bars, fmt="%.3f", fontsize=8)
    ax.set_xticks(x + width * (len(table.columns) - 1) / 2, table.index)
    ax.set(title=title)
    ax.legend()


def risk_spread(ax, risk: np.ndarray, everyone: np.ndarray, title: str = "", lang: str | None = None) -> None:
    """How the chosen users' churn risk spreads (bars) against all users' (outline), in %."""
    bins = np.linspace(0, 100, 21)
    ax.hist(np.asarray(everyone) * 100, bins=bins, density=True, histtype="step", lw=1.5,
            color=BASELINE_COLOUR, label=_say("all_users", lang, count=len(everyone)))
    if len(risk):
        ax.hist(np.asarray(risk) * 100, bins=bins, density=True, color=MODEL_COLOUR, alpha=0.7,
                label=_say("this_segment", lang, count=len(risk)))
    ax.set(title=title or _say("risk_title", lang), xlabel=_say("predicted_risk", lang),
           ylabel=_say("share_of_users", lang), yticks=[])
    ax.legend()


def reason_counts(ax, counts: pd.Series, title: str = "", lang: str | None = None) -> None:
    """Horizontal bars: how many of the chosen users each reason concerns (largest on top)."""
    counts = counts.sort_values()
    ax.barh(range(len(counts)), counts.to_numpy(), color=BAD)
    ax.set_yticks(range(len(counts)), counts.index)
    ax.set(title=title or _say("reasons_title", lang), xlabel=_say("users", lang))
