"""Plots that show Japanese text: pick a CJK font explicitly instead of trusting the default."""

from __future__ import annotations

from functools import cache

FALLBACK_FAMILIES = ["Noto Sans CJK JP", "IPAexGothic"]


@cache
def use_japanese_font() -> str:
    """Make matplotlib draw Japanese (IPAex from matplotlib-fontja, else Noto CJK); returns the family."""
    from matplotlib import font_manager, rcParams

    try:
        import matplotlib_fontja  # noqa: F401  (registers IPAexGothic and selects it)
    except ImportError:
        pass
    available = {f.name for f in font_manager.fontManager.ttflist}
    family = next((f for f in ["IPAexGothic", *FALLBACK_FAMILIES] if f in available), None)
    if family is None:
        raise RuntimeError("No Japanese font found: run scripts/setup.sh (installs fonts-noto-cjk).")
    rcParams["font.family"] = family
    rcParams["axes.unicode_minus"] = False
    return family
