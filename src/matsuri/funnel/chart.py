"""The funnel chart: one pair of bars per stage (everyone, non-engineers), as shares of those
registered, so the two groups compare at a glance; its words in one language (`texts.TEXT`)."""

from __future__ import annotations

import io

from matsuri.funnel.compute import STAGES, Funnel
from matsuri.funnel.texts import TEXT
from matsuri.language import say

EVERYONE, OTHERS = "#30638e", "#d1495b"


def funnel_chart(funnel: Funnel, lang: str = "ja") -> bytes:
    """PNG bytes; drawn on a matplotlib Figure (no pyplot state), fine inside a Voila kernel."""
    import numpy as np
    from matplotlib.figure import Figure

    from matsuri.plotting import use_japanese_font

    use_japanese_font()
    fig = Figure(figsize=(8.2, 5.2), dpi=110, layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(STAGES))[::-1].astype(float)
    height = 0.38
    groups = (("all", say(TEXT, "everyone", lang), EVERYONE, height / 2),
              (False, say(TEXT, "non_engineers", lang), OTHERS, -height / 2))
    for engineer, name, colour, offset in groups:
        total = funnel.count("registered", engineer)
        counts = [funnel.count(stage.id, engineer) for stage in STAGES]
        shares = [100 * c / total if total else 0 for c in counts]
        ax.barh(y + offset, shares, height, color=colour, label=f"{name}: {say(TEXT, 'people', lang, count=total)}")
        for row, count, share in zip(y, counts, shares, strict=True):
            ax.text(share + 1, row + offset, say(TEXT, "bar_label", lang, count=count, share=share), va="center", fontsize=8)
    ax.set_yticks(y, [stage.ja if lang == "ja" else stage.en for stage in STAGES], fontsize=9)
    ax.set_xlim(0, 118)
    ax.set_xlabel(say(TEXT, "share_axis", lang))
    ax.set_title(say(TEXT, "funnel", lang), loc="left", fontsize=12)
    fig.legend(loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
