"""Do the charts draw Japanese with a real CJK font (no missing-glyph boxes)?"""

from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
from matplotlib import font_manager, rcParams  # noqa: E402

from matsuri.templates import charts  # noqa: E402


def test_word_chart_renders_japanese_without_missing_glyphs():
    effects = pd.Series({"社内・稟議・回す": 1.1, "見積もり": 0.9, "実・もう・他社・決める": -1.4})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, (ax,) = charts.figure()
        charts.word_effects(ax, effects)
        charts.send_hours(fig.add_subplot(2, 1, 2), pd.Series(0.1, index=range(24)), 20, 0.12)
        fig.savefig(io.BytesIO(), format="png")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
    family = rcParams["font.family"][0]
    path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    assert family in {"IPAexGothic", "Noto Sans CJK JP"} and path
