"""The hackathon templates' shared Python: what the starter and demo notebooks import.

One module per theme (`push`, `calls`, `ordering`) holds its SQL, features, baselines and models;
`tables` opens the warehouse under the template's names, `evaluation` splits by time and states a
verdict, `submission` writes the files the hackathon scores, `charts` draws with a Japanese font,
`voila` serves a demo. The notebooks live in `templates/<theme>/`.
"""

from __future__ import annotations

from pathlib import Path

from matsuri import paths
from matsuri.errors import NotFound, UsageError

# theme id -> the module with its logic (the ids are the hackathon's theme ids)
THEMES = {"push-open-rate": "push", "call-keywords": "calls", "product-ordering": "ordering"}
TEMPLATE_FILES = ("README.md", "starter.ipynb", "demo.ipynb")


def template_dir(theme: str) -> Path:
    """The folder holding a theme's README, starter and demo notebooks."""
    if theme not in THEMES:
        raise UsageError(f"Unknown theme '{theme}'. Choose one of: {', '.join(THEMES)}.")
    folder = paths.project_root() / "templates" / theme
    missing = [name for name in TEMPLATE_FILES if not (folder / name).is_file()]
    if missing:
        raise NotFound(f"The template folder {folder} lacks {', '.join(missing)}: restore it from the repository.")
    return folder
