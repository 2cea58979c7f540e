"""Run inside the team's kernel, after their notebook: keep its trained model and baseline.

`matsuri handoff` appends one cell calling `keep(globals(), theme, output_dir)`; the files land
beside the predictions the notebook wrote, and leave the sandbox the way those do.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

CAPTURED = "handoff-capture.json"
FILES = ("model.skops", "baseline.skops", CAPTURED)  # what the runner takes out of the run


def summary(model) -> str:
    """The model's steps in a line, e.g. "FunctionTransformer → ColumnTransformer → LogisticRegression"."""
    steps = getattr(model, "steps", None)
    if steps:
        return " → ".join(type(step).__name__ for _, step in steps)
    return type(model).__name__


def keep(namespace: dict, theme: str, folder: str | Path, model: str = "", baseline: str = "") -> Path:
    """Save the notebook's model (and baseline) with skops; say which variable was taken."""
    import skops.io as sio

    from matsuri import theme_spec

    library = __import__(theme_spec.get(theme).library, fromlist=["HANDOFF"])
    names = {"model": model or library.HANDOFF["model"], "baseline": baseline or library.HANDOFF["baseline"]}
    folder = Path(folder)
    found = {}
    for role, var in names.items():
        if var not in namespace:
            if role == "baseline":
                continue
            raise NameError(f"The notebook has no variable `{var}` holding the trained model; pass "
                            f"the right name with `matsuri handoff … --model NAME`.")
        value = namespace[var]
        partial = folder / f".{role}.skops.partial"
        sio.dump(value, partial)
        os.replace(partial, folder / f"{role}.skops")
        found[role] = {"variable": var, "class": f"{type(value).__module__}.{type(value).__qualname__}",
                       "summary": summary(value),
                       "features_in": [str(c) for c in getattr(value, "feature_names_in_", [])]}
    found["data"] = data(namespace, library.HANDOFF)
    out = folder / CAPTURED
    out.write_text(json.dumps(found, ensure_ascii=False, indent=1), encoding="utf-8")
    return out


def data(namespace: dict, handoff: dict) -> dict:
    """The load query the notebook ran (its SQL cell) and the columns it added, {column: kind}:
    what the component must read to serve the model. Empty when the notebook kept neither."""
    query = namespace.get(handoff.get("query", ""))
    extra = namespace.get(handoff.get("extra", ""))
    return {"query": query if isinstance(query, str) else "",
            "extra": {str(c): str(k) for c, k in extra.items()} if isinstance(extra, dict) else {}}


def cell(theme: str, model: str = "", baseline: str = "") -> str:
    """The source of the cell appended to the team's notebook."""
    return ("from matsuri.handoff.capture import keep\n"
            f"keep(globals(), {theme!r}, output_dir, model={model!r}, baseline={baseline!r})")
