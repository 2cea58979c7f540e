"""What a component needs installed: the packages its code imports, pinned to the versions of the
environment that trained the model (a model file loads reliably only with the same scikit-learn)."""

from __future__ import annotations

import importlib.metadata as metadata
import re

from packaging.requirements import Requirement

# What the component imports: the theme code and its model, the service, the batch job
NEEDS = ("duckdb", "numpy", "pandas", "pyarrow", "scikit-learn", "scipy", "skops", "fugashi",
         "unidic-lite", "typer", "rich", "tqdm", "fastapi", "uvicorn", "papermill", "ipykernel")


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(names: tuple[str, ...] = NEEDS) -> list[str]:
    """`name==version` for these distributions and everything they require (extras left out),
    as installed here, sorted."""
    found: dict[str, str] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        key = _key(name)
        if key in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement for another platform or Python
        found[key] = f"{dist.metadata['Name']}=={dist.version}"
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return sorted(found.values(), key=str.lower)
