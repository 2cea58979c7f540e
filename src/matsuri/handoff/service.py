"""The component's scoring service: FastAPI, started with uvicorn.

    POST /predict   {"rows": [{...}, ...]} → {"predictions": [...]}: one or many rows, each
                    checked against the inputs of component.json (422 with a plain message per
                    problem); at most `max_rows` rows a request
    GET  /health    the component loaded, what it serves
    GET  /docs      the OpenAPI page, with an example row

`uvicorn --factory matsuri.handoff.service:from_environment` serves the folder in
$MATSURI_COMPONENT (default: the current one), as the pack's Dockerfile does.
"""

# no `from __future__ import annotations`: FastAPI reads the request model built inside create_app
import contextlib
import datetime as dt
import os
import threading
from pathlib import Path
from typing import Annotated

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model

from matsuri.handoff import component

MAX_ROWS = 1000
PYTHON_TYPES = {"integer": int, "number": float, "boolean": bool, "string": str, "datetime": dt.datetime}
WORDS = {"integer": "a whole number", "number": "a number", "boolean": "true or false",
         "string": "text", "datetime": "a date and time like 2026-03-01T09:00:00"}


def row_model(inputs: list[dict]) -> type[BaseModel]:
    """One request row: exactly the component's inputs, strictly typed (no "3" for 3)."""
    fields = {}
    for item in inputs:
        kind = PYTHON_TYPES[item["type"]]
        strict = item["type"] != "datetime"  # JSON has no date type: an ISO string is the date
        optional = item["nullable"]
        typ = (kind | None) if optional else kind
        fields[item["name"]] = (Annotated[typ, Field(strict=strict)], None if optional else ...)
    return create_model("Row", __config__=ConfigDict(extra="forbid"), **fields)


def example(inputs: list[dict], rows: list[dict]) -> dict:
    return {"rows": rows[:1] or [{i["name"]: None for i in inputs}]}


def plain(error: dict, kinds: dict[str, str]) -> str:
    """A pydantic error as a sentence naming the row and field."""
    where = [str(p) for p in error.get("loc", ()) if p != "body"]
    if where[:1] == ["rows"] and len(where) >= 2:
        field = where[2] if len(where) > 2 else ""
        place = f"Row {int(where[1]) + 1}" + (f", field '{field}'" if field else "")
    else:
        place, field = "The request", ""
    kind = error.get("type", "")
    if kind == "missing":
        return f"{place}: missing; every row needs it ({WORDS.get(kinds.get(field, ''), 'a value')})."
    if kind == "extra_forbidden":
        return f"{place}: not an input of this component; the inputs are {', '.join(kinds)}."
    if kind == "too_long":
        return (f"{place}: {error.get('ctx', {}).get('actual_length', 'too many')} rows; send at most "
                f"{error.get('ctx', {}).get('max_length')} rows a request.")
    if kind == "too_short":
        return f"{place}: no rows; send at least one."
    if field in kinds:
        return f"{place}: {error.get('input')!r} is not {WORDS[kinds[field]]}."
    return f"{place}: {error.get('msg', 'not understood')}."


def create_app(folder: str | Path, warehouse: str | None = None, max_rows: int = MAX_ROWS) -> FastAPI:
    comp = component.load(Path(folder))
    spec, kinds = comp.spec, {i["name"]: i["type"] for i in comp.inputs}
    Row = row_model(comp.inputs)
    Body = create_model("PredictRequest", __config__=ConfigDict(extra="forbid"),
                        rows=(Annotated[list[Row], Field(min_length=1, max_length=max_rows)], ...))
    Body.model_config["json_schema_extra"] = {"examples": [example(comp.inputs, spec.get("examples", []))]}
    needs_data = hasattr(comp.library, "serve")  # a ranking reads what each customer bought so far
    data = _open(comp, warehouse) if needs_data else None
    lock = threading.Lock()  # one DuckDB connection, one query at a time
    title = spec["title"].get("en", spec["theme"])

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if data is not None:  # DuckDB keeps a file open while any connection to it lives
            data.close()

    app = FastAPI(lifespan=lifespan, title=f"{title} — team {spec['team_name']}",
                  description=f"{spec['description'].get('en', '')}\n\nModel: {spec['model']['summary']} "
                              f"(submission {spec['submission']}).", version=str(spec["submission"]))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [plain(e, kinds) for e in exc.errors()]
        return JSONResponse(status_code=422, content={"message": " ".join(problems[:5]),
                                                      "problems": problems})

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "theme": spec["theme"], "team": spec["team"],
                "submission": spec["submission"], "model": spec["model"]["summary"],
                "inputs": list(kinds), "max_rows": max_rows}

    @app.post("/predict")
    def predict(body: Body) -> dict:  # type: ignore[valid-type]
        rows = pd.DataFrame([r.model_dump() for r in body.rows], columns=list(kinds))
        for name, kind in kinds.items():
            if kind == "datetime":
                rows[name] = pd.to_datetime(rows[name])
        if data is not None:
            with lock:
                table = component.predict(comp.library, spec, comp.model, rows, data)
        else:
            table = component.predict(comp.library, spec, comp.model, rows)
        return {"predictions": component.records(table), "submission": spec["submission"]}

    return app


def _open(comp: component.Component, warehouse: str | None):
    from matsuri.templates.tables import open_warehouse

    return open_warehouse(warehouse or None, comp.library.NEEDS)


def from_environment() -> FastAPI:
    """The app for `uvicorn --factory`: the folder in $MATSURI_COMPONENT, else the current one."""
    return create_app(os.environ.get("MATSURI_COMPONENT", "."),
                      max_rows=int(os.environ.get("MATSURI_MAX_ROWS", MAX_ROWS)))
