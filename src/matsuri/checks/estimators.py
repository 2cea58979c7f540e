"""A fitted model as an answer (`q5_answer = model`): judged by its predictions, never its insides.

In the learner's kernel, the check scores the model on the lesson's validation rows (which the
learner has) and says where it stands against the baseline. While grading, the check cell saves
the model with skops (a format that loads data, never code: anything but scikit-learn, numpy and
scipy types is refused) and the grader scores it on rows the learner never saw, against labels
the kernel never sees, with credit in tiers between the baseline and the reference model:

    below the lowest tier: 0 · tier 1: 1/3 · tier 2: 2/3 · tier 3: full marks

The tiers are fixed when the key is built: the metric of a constant prediction (the baseline)
and of the lesson's reference model, on the same rows; tier k lies at TIERS[k] of the way from
the one to the other. A model fitted on other rows than the lesson's training rows (the
validation rows too: leakage) is caught by the row count its scaler or encoder saw.
"""

from __future__ import annotations

import os
from pathlib import Path

TIERS = (0.1, 0.6, 0.9)          # of the way from the baseline to the reference model
BASELINE = {"roc_auc": 0.5, "pr_auc": None}   # what a constant prediction scores
MAX_BYTES = 50_000_000           # one saved model


def is_estimator(value) -> bool:
    return hasattr(value, "fit") and (hasattr(value, "predict_proba") or hasattr(value, "predict"))


def fitted(model) -> bool:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except (NotFittedError, TypeError):
        return False
    return True


def rows_seen(model) -> int | None:
    """How many rows the model's first scaler or encoder was fitted on, if it has one."""
    import numpy as np

    steps = getattr(model, "steps", None) or [(None, model)]
    for _, step in steps:
        parts = [step, *[t for _, t, _ in getattr(step, "transformers_", [])]]
        for part in parts:
            part = getattr(part, "steps", [(None, part)])[0][1] if hasattr(part, "steps") else part
            seen = getattr(part, "n_samples_seen_", None)
            if seen is not None:
                return int(np.max(seen))
    return None


def predict(model, features):
    """Scores for the positive class (a classifier) or values (a regressor)."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba(features)[:, 1]
    return model.predict(features)


def score(model, features, truth, metric: str) -> float:
    from matsuri.metrics import METRICS

    return float(METRICS[metric].compute(truth, predict(model, features)))


def tiers(metric: str, reference: float) -> list[float]:
    """The scores at which a model earns 1/3, 2/3 and all of the marks."""
    base = BASELINE.get(metric)
    base = 0.5 if base is None else base
    return [round(base + share * (reference - base), 4) for share in TIERS]


def credit(value: float, thresholds: list[float]) -> float:
    """The share of the marks a score earns (0, 1/3, 2/3 or 1)."""
    return sum(value >= t for t in thresholds) / len(thresholds)


def judge(model, features, truth, rules: dict, thresholds: list[float], var: str, lang: str,
          message: str) -> tuple[float, str]:
    """(share of the marks, the sentence saying so) for a model on these rows; a model that is
    not trained, saw other rows than the training rows, or cannot score them raises Incorrect."""
    from matsuri.checks.messages import render
    from matsuri.checks.outcomes import Incorrect

    if not fitted(model):
        raise Incorrect("model_not_fitted", lang, var=var)
    seen = rows_seen(model)
    if seen is not None and seen != rules["train_rows"]:
        raise Incorrect("model_leak", lang, var=var, seen=seen, want=rules["train_rows"])
    try:
        value = score(model, features, truth, rules["metric"])
    except Exception as error:  # wrong columns, wrong types: the model's own words
        raise Incorrect("model_columns", lang, var=var, detail=str(error).splitlines()[0][:200]) from None
    share = credit(value, thresholds)
    base = BASELINE.get(rules["metric"])
    shown = {0: "0", 1 / 3: "1/3", 2 / 3: "2/3", 1: "1"}.get(share, f"{share:.2f}")
    return share, render(message, lang, metric=rules["metric"], value=value,
                         base=0.5 if base is None else base, top=thresholds[-1], share=shown)


def save(var: str, model, folder: Path | None = None) -> Path:
    import skops.io as sio

    folder = Path(folder or Path.cwd() / ".matsuri-answers")
    folder.mkdir(exist_ok=True)
    target, partial = folder / f"{var}.skops", folder / f".{var}.skops.partial"
    sio.dump(model, partial)
    os.replace(partial, target)
    return target


def load(folder: Path, var: str):
    """The model a grading kernel saved, or None (nothing saved, unreadable, or holding types
    that are not plain scikit-learn, numpy or scipy: those could run code when loaded)."""
    import skops.io as sio

    from matsuri.sandbox.intake import OPEN_FILE

    try:
        fd = os.open(Path(folder) / f"{var}.skops", OPEN_FILE)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if info.st_mode & 0o170000 != 0o100000 or info.st_size > MAX_BYTES:
            return None
        data = f.read(MAX_BYTES + 1)
    try:
        untrusted = sio.get_untrusted_types(data=data)
        if not all(_plain_class(name) for name in untrusted):
            return None
        return sio.loads(data, trusted=untrusted)
    except Exception:
        return None


def _plain_class(dotted: str) -> bool:
    """A class of scikit-learn, numpy or scipy, and not one that calls a function it was given
    (FunctionTransformer): functions are never trusted."""
    import importlib
    import inspect

    module, _, name = dotted.rpartition(".")
    if not module.startswith(("sklearn.", "numpy", "scipy.")):
        return False
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    return inspect.isclass(found) and "FunctionTransformer" not in name
