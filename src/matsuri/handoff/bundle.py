"""`matsuri handoff TEAM --out DIR`: a scored submission → a component folder (see the package doc).

The team's notebook is run once more, in the runner's sandbox, with one cell added that keeps its
model and baseline (capture.py). Both are then judged here, on the organiser's side, exactly as the
hackathon scores submissions (the event's scoring job on the holdout), so the model card's figures
are the component's own, not a copy of the leaderboard.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd

from matsuri import __version__, theme_spec
from matsuri.errors import NotFound, UsageError
from matsuri.hackathon import records, runner, scoring, submissions
from matsuri.hackathon.event import Event
from matsuri.hackathon.records import Submission
from matsuri.hackathon.teams import get_team
from matsuri.handoff import capture, component, files

MAX_MODEL_BYTES = 512 * 2**20
CHECKED_ROWS = 500  # rows on which the service's inputs must give the notebook's own predictions


@dataclass
class Pack:
    folder: Path
    spec: dict
    seconds: float


def choose(event: Event, team: str, submission_id: int | None) -> Submission:
    """The submission asked for, else the one the team selected, else its best scored notebook."""
    if submission_id is not None:
        chosen = records.get_submission(event, submission_id)
        if chosen.team != team:
            raise UsageError(f"Submission {submission_id} belongs to team '{chosen.team}', not '{team}'.")
    else:
        with event.connect() as con:
            row = con.execute("SELECT submission_id FROM selections WHERE team = ?", (team,)).fetchone()
        candidates = [s for s in records.list_submissions(event, team)
                      if s.status == "scored" and s.kind == "notebook"]
        picked = [s for s in candidates if row and s.id == row[0]]
        if not picked and candidates:
            spec = theme_spec.get(candidates[0].theme)
            sign = 1 if next(m for m in spec.metrics if m.name == spec.leaderboard).higher_is_better else -1
            picked = [max(candidates, key=lambda s: sign * s.public.get(spec.leaderboard, -np.inf * sign))]
        if not picked:
            raise NotFound(f"Team '{team}' has no scored notebook submission to hand off. A component "
                           "is made from a notebook (it holds the model); submit one first.")
        chosen = picked[0]
    if chosen.status != "scored" or chosen.kind != "notebook":
        raise UsageError(f"Submission {chosen.id} is a {chosen.kind} that ended {chosen.status}; only a "
                         "scored notebook can be handed off (its notebook holds the model).")
    return chosen


def make(event: Event, team: str, out: Path, submission_id: int | None = None, model: str = "",
         baseline: str = "", warehouse: Path | None = None, labels: Path | None = None,
         sandbox: bool = True, force: bool = False) -> Pack:
    started = dt.datetime.now(dt.UTC)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file; give --out a folder to write the component into.")
    if out.exists() and any(out.iterdir()) and not force:
        raise UsageError(f"{out} is not empty; choose a new folder, or pass --force to replace it.")
    chosen = choose(event, team, submission_id)
    spec = theme_spec.get(chosen.theme)
    library = __import__(spec.library, fromlist=["HANDOFF"])
    job = submissions.scoring_job(event, chosen.theme, Path(), warehouse, labels)
    source = next((event.submission_dir(chosen.id) / "source").glob("*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="matsuri-handoff-") as tmp:
        tmp = Path(tmp)
        kept = rerun(event, chosen, source, tmp, job, model, baseline, sandbox)
        described = describe(event, chosen, spec, library, kept, job, tmp)
        if out.exists():
            shutil.rmtree(out)
        files.write(out, described, source, kept, spec, job.warehouse)
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    return Pack(out, described, seconds)


def rerun(event: Event, chosen: Submission, source: Path, tmp: Path, job, model: str,
          baseline: str, sandbox: bool) -> Path:
    """The notebook run again with the capture cell; returns the folder of the files it left."""
    nb = nbformat.read(source, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(capture.cell(chosen.theme, model, baseline)))
    copy = tmp / "run" / source.name
    copy.parent.mkdir()
    nbformat.write(nb, copy)
    kept = tmp / "kept"
    user = ""
    if sandbox:
        user = submissions.require_sandbox(event, get_team(event, chosen.team).slot, job)
    run = runner.NotebookJob(copy, copy.parent, kept, event.settings, job.warehouse, user,
                             max(job.max_bytes, MAX_MODEL_BYTES), chosen.team, chosen.id,
                             extra_outputs=capture.FILES)
    runner.backend(event.settings.backend if sandbox else "trusted").run(run)
    if not (kept / component.MODEL_FILE).is_file():
        raise UsageError(f"The notebook of submission {chosen.id} ran, but its model was not kept; "
                         f"the run's log is {copy.parent / 'log.txt'}.")
    return kept


def describe(event: Event, chosen: Submission, spec, library, kept: Path, job, tmp: Path) -> dict:
    """component.json: what the component takes and returns, what it learned from, how it scores."""
    from matsuri.checks.key_file import warehouse_build
    from matsuri.templates.tables import open_warehouse

    handoff = library.HANDOFF
    captured = json.loads((kept / capture.CAPTURED).read_text(encoding="utf-8"))
    model = component.load_model(kept / component.MODEL_FILE)
    # the team's own load query (its SQL cell; run read-only, without file access) and the columns
    # it added: a request carries those too
    used = captured.get("data", {})
    query = used.get("query") or None
    con = open_warehouse(str(job.warehouse), library.NEEDS)
    try:
        rows = library.serving_rows(con, query)
        kind = next(f.kind for f in spec.files if f.required)
        base = {"library": spec.library, "id": spec.id_column, "kind": kind, "query": query}
        names = [*handoff["inputs"], *(c for c in used.get("extra", {})
                                       if c in rows.columns and c not in handoff["inputs"])]
        needs_inputs(library, base, model, rows, names, captured["model"]["features_in"], con)
        # every id to predict, with its row (a ranking's customer may have no row: no order yet)
        holdout = pd.DataFrame({spec.id_column: theme_holdout(con, spec)}).merge(rows, how="left")
        metrics = {"where": {"ja": "ホールドアウト（非公開部分）", "en": "the holdout (private part)"},
                   "model": scoring.score_folder(_scoring(job, kept))["private"], "baselines": []}
        if (kept / component.BASELINE_FILE).is_file():
            folder = tmp / "baseline"
            folder.mkdir()
            baseline = component.load_model(kept / component.BASELINE_FILE)
            write_predictions(folder, spec, component.predict(library, base, baseline, holdout, con))
            metrics["baselines"].append({"name": handoff["baseline_name"], "kind": handoff["baseline_kind"],
                                         "scores": scoring.score_folder(_scoring(job, folder))["private"]})
        inputs = component.describe_inputs(rows, names)
        label, time = handoff["label"], handoff["time"]
        learned = rows[rows[label].notna()] if label else rows
        build = warehouse_build(con)
    finally:
        con.close()
    team = get_team(event, chosen.team)
    stamp = dict(part.split(" ", 1) for part in build.split(" · ")[1:]) if build else {}
    return {
        "format": component.FORMAT, "theme": spec.id, "title": spec.title, "description": spec.description,
        "library": spec.library, "team": team.team, "team_name": team.display_name, "owner": team.team,
        "submission": chosen.id, "submitted_at": chosen.submitted_at,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "kit_version": __version__,
        "kind": base["kind"], "id": spec.id_column, "label": label, "time": time,
        "inputs": inputs,
        "query": query, "extra": {c: k for c, k in used.get("extra", {}).items() if c in names},
        "examples": component.examples(rows, inputs),
        "features": features(model, names),
        "model": {"class": captured["model"]["class"], "summary": captured["model"]["summary"],
                  "variable": captured["model"]["variable"], "file": component.MODEL_FILE},
        "trained_on": {"warehouse": Path(job.warehouse).name, "build": stamp.get("build", ""),
                       "scale": stamp.get("scale", ""), "seed": int(stamp["seed"]) if "seed" in stamp else None,
                       "rows": int(len(learned)),
                       "from": _day(learned[time].min()), "to": _day(learned[time].max())},
        "label_rate": float(learned[label].astype(float).mean()) if label else None,
        "metrics": metrics,
        "retrain": f"matsuri handoff {chosen.team} --submission {chosen.id} --out <folder>",
    }


def features(model, inputs: list[str]) -> list[str]:
    """What the model weighs, after its own preparation when its steps can name it, else the
    inputs it was given."""
    try:
        return [str(n) for n in model[:-1].get_feature_names_out()]
    except Exception:  # a step that cannot name its output (a FunctionTransformer), or no pipeline
        return [c for c in getattr(model, "feature_names_in_", inputs) if c in inputs] or list(inputs)


def _day(value) -> str:
    return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _scoring(job, folder: Path):
    return scoring.ScoringJob(folder, job.theme, job.public_share, job.seed, job.max_bytes,
                              job.warehouse, job.labels)


def theme_holdout(con, spec) -> np.ndarray:
    return con.execute(f"SELECT {spec.id_column} FROM {spec.holdout_table}").fetchnumpy()[spec.id_column]


def write_predictions(folder: Path, spec, table: pd.DataFrame) -> None:
    main = next(f for f in spec.files if f.required)
    table[list(main.columns)].to_csv(folder / main.name, index=False)


def needs_inputs(library, base: dict, model, rows: pd.DataFrame, inputs: list[str],
                 features_in: list[str], con) -> None:
    """Refuse a model the service could not serve: one reading a column the theme's rows lack, or
    one whose predictions change when only the service's inputs are given."""
    prepared = library.prepare(rows.head(1)) if hasattr(library, "prepare") else rows
    missing = sorted(set(features_in) - set(prepared.columns))
    if missing:
        raise UsageError(
            f"The model reads column(s) {', '.join(missing)}, which the theme's standard rows "
            f"({library.__name__}.serving_rows, with the query the notebook kept) do not have. Keep "
            f"the notebook's query in `{library.HANDOFF.get('query', 'load_sql')}` (as the starter "
            "does), or train on the standard rows.")
    if hasattr(library, "serve"):
        return
    sample = rows.head(CHECKED_ROWS)
    full = component.predict(library, base, model, sample, con)["probability"].to_numpy()
    given = component.predict(library, base, model, sample[inputs], con)["probability"].to_numpy()
    if not np.allclose(full, given, rtol=0, atol=1e-12):
        unused = sorted(set(features_in) - set(inputs))
        raise UsageError(
            "The model's predictions change when it is given only the service's inputs "
            f"({', '.join(inputs)}): it also reads some of {', '.join(unused)}. Add what it needs to "
            f"{library.__name__}.HANDOFF['inputs'].")
