"""A handed-off component: its description, its model, and the one way it predicts.

The scoring service and the batch job both call `predict`, so an answer over HTTP and a row of
the batch table are the same numbers for the same rows.
"""

from __future__ import annotations

import importlib
import inspect
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matsuri.errors import UsageError

FORMAT = 1
DESCRIPTION = "component.json"
MODEL_FILE, BASELINE_FILE = "model.skops", "baseline.skops"
# JSON types of request fields, from the pandas dtypes of the theme's rows
TYPES = {"b": "boolean", "i": "integer", "u": "integer", "f": "number", "M": "datetime"}


@dataclass
class Component:
    folder: Path
    spec: dict
    model: object

    @property
    def library(self):
        return importlib.import_module(self.spec["library"])

    @property
    def inputs(self) -> list[dict]:
        return self.spec["inputs"]


def json_type(series: pd.Series) -> str:
    return TYPES.get(series.dtype.kind, "string")


def describe_inputs(rows: pd.DataFrame, names: list[str]) -> list[dict]:
    """Each input column with its type, and whether the theme's own rows ever leave it empty."""
    return [{"name": n, "type": json_type(rows[n]), "nullable": bool(rows[n].isna().any())} for n in names]


ARRAY_HELPERS = {"asarray", "asanyarray"}  # what scikit-learn keeps a reference to for array input


def records(table: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts with Python numbers (full precision, as the batch table has them)."""
    return [{k: v.item() if hasattr(v, "item") else v for k, v in row.items()}
            for row in table.to_dict(orient="records")]


def examples(rows: pd.DataFrame, inputs: list[dict], count: int = 3) -> list[dict]:
    """A few rows of the theme's own data as a request carries them (for /docs, README, card)."""
    shown = rows[[i["name"] for i in inputs]].head(count).copy()
    for item in inputs:
        if item["type"] == "datetime":
            shown[item["name"]] = shown[item["name"]].map(lambda t: t.isoformat())
    return records(shown)


def trusted(dotted: str) -> bool:
    """What a model file may name: classes of scikit-learn, numpy and scipy, scikit-learn's own
    functions and numpy's array conversions, and the kit's theme code (shipped in vendor/).
    Anything else (a class defined in a notebook, numpy.load) is refused."""
    module, _, name = dotted.rpartition(".")
    if module.startswith("matsuri.templates"):
        return True
    if not module.startswith(("sklearn.", "numpy", "scipy.", "builtins")):
        return False
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    return inspect.isclass(found) or module.startswith("sklearn.") or name in ARRAY_HELPERS


def load_model(path: Path):
    import skops.io as sio

    data = Path(path).read_bytes()
    untrusted = sio.get_untrusted_types(data=data)
    refused = sorted(t for t in untrusted if not trusted(t))
    if refused:
        raise UsageError(f"{path} names types that could run code when loaded ({', '.join(refused)}); "
                         "only scikit-learn, numpy, scipy and the kit's theme code are loaded.")
    return sio.loads(data, trusted=untrusted)


def load(folder: Path) -> Component:
    folder = Path(folder)
    path = folder / DESCRIPTION
    if not path.is_file():
        raise UsageError(f"{folder} holds no {DESCRIPTION}: point at a folder `matsuri handoff` wrote.")
    spec = json.loads(path.read_text(encoding="utf-8"))
    if spec.get("format") != FORMAT:
        raise UsageError(f"{path} is format {spec.get('format')}; this kit reads format {FORMAT}.")
    return Component(folder, spec, load_model(folder / MODEL_FILE))


def predict(library, spec: dict, model, rows: pd.DataFrame, con=None) -> pd.DataFrame:
    """Predictions for these rows: (id, probability) for a probability theme, else the library's own
    `serve` (a ranking: id, item, rank). Columns the model saw in training but a request does not
    carry (the label, times used only to build history) are given as empty."""
    if hasattr(library, "prepare"):
        rows = library.prepare(rows)
    if hasattr(library, "serve"):  # read with the team's own load query, when it kept one
        return library.serve(model, rows, con, spec.get("query")).reset_index(drop=True)
    seen = getattr(model, "feature_names_in_", None)
    features = rows.reindex(columns=list(seen)) if seen is not None else rows
    p = np.asarray(model.predict_proba(features))[:, 1]
    return pd.DataFrame({spec["id"]: rows[spec["id"]].to_numpy(), "probability": p})
