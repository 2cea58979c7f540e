"""Plots that show Japanese text: pick a CJK font explicitly instead of trusting the default."""

from __future__ import annotations

from functools import cache

from matsuri.errors import MissingDependency

FALLBACK_FAMILIES = ["Noto Sans CJK JP", "IPAexGothic"]


@cache
def use_japanese_font() -> str:
    """Make matplotlib draw Japanese (IPAex from matplotlib-fontja, else Noto CJK); returns the family.

    Raises MissingDependency, saying what to install, when neither is there."""
    import matplotlib
    from matplotlib import font_manager, rcParams

    try:
        import matplotlib_fontja  # noqa: F401  (registers IPAexGothic and selects it)
    except ImportError:
        pass
    available = {f.name for f in font_manager.fontManager.ttflist}
    family = next((f for f in ["IPAexGothic", *FALLBACK_FAMILIES] if f in available), None)
    if family is None:
        raise MissingDependency(
            "Charts need a Japanese font and this machine has none that matplotlib knows. Install "
            "Debian's fonts-noto-cjk (`sudo apt-get install fonts-noto-cjk`; scripts/setup.sh does "
            "it) and remove matplotlib's font cache so it looks again "
            f"(`rm -f {matplotlib.get_cachedir()}/fontlist-*.json`), or install matplotlib-fontja "
            "into matsuri's environment (`pip install matplotlib-fontja`). Then run the command again."
        )
    rcParams["font.family"] = family
    rcParams["axes.unicode_minus"] = False
    return family
