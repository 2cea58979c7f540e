"""Without a Japanese font, do charts (reached from `hackathon report` and `course progress`) stop
with a plain message saying what to install, not a traceback?"""

from __future__ import annotations

import sys

import pytest

from matsuri import plotting
from matsuri.errors import MatsuriError, MissingDependency


@pytest.fixture
def no_japanese_font(monkeypatch):
    from matplotlib import font_manager

    monkeypatch.setitem(sys.modules, "matplotlib_fontja", None)  # `import matplotlib_fontja` fails
    monkeypatch.setattr(font_manager.fontManager, "ttflist", [])
    plotting.use_japanese_font.cache_clear()
    yield
    plotting.use_japanese_font.cache_clear()


def test_without_a_japanese_font_the_error_says_what_to_install(no_japanese_font):
    with pytest.raises(MissingDependency) as caught:
        plotting.use_japanese_font()
    message = str(caught.value)
    assert isinstance(caught.value, MatsuriError)  # the CLI prints it and exits, no traceback
    assert "fonts-noto-cjk" in message and "scripts/setup.sh" in message
    assert "pip install matplotlib-fontja" in message and "fontlist-" in message
