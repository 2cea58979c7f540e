"""Can a participant who knows a little SQL change what a starter's model learns from by editing
its SQL cell? Is the cell the library's own query, does a column added to it reach the model
(typed, and kept for the hand-off), and does the unchanged query give exactly the predictions of
the library's own path?"""

from __future__ import annotations

import importlib
import io
import json

import nbformat
import numpy as np
import pandas as pd
import papermill
import pytest

from matsuri.errors import UsageError
from matsuri.handoff import capture, component
from matsuri.templates import extras
from matsuri.templates.tables import open_warehouse, read
from matsuri.theme_spec import all_themes, template_dir
from support.sql_starters import ADDED, add_column, sql_cell

from .conftest import run_starter
from .test_theme_starters import assert_valid_submission

THEMES = list(all_themes())
LIBRARY = {t.id: importlib.import_module(t.library) for t in all_themes().values()}


@pytest.mark.parametrize("theme", THEMES)
def test_is_the_sql_cell_the_librarys_query(theme):
    """One source: the cell shows LOAD_SQL as it is (edit both together), and the next cell keeps
    the query that ran for the hand-off."""
    library = LIBRARY[theme]
    nb = nbformat.read(template_dir(theme) / "starter.ipynb", as_version=4)
    cell = sql_cell(nb)
    header, _, body = cell.source.partition("\n")
    assert body == library.LOAD_SQL.rstrip("\n"), (
        f"templates/{theme}/starter.ipynb: its SQL cell differs from {library.__name__}.LOAD_SQL; "
        "make them the same text")
    var = header.split()[1]
    assert header == f"%%sql {var} <<"
    after = nb.cells[nb.cells.index(cell) + 1].source
    assert f'{library.HANDOFF["query"]} = sqlcell.query("{var}")' in after
    assert f'{library.HANDOFF["extra"]} = ' in after and "extra_columns" in after


@pytest.mark.parametrize("theme", THEMES)
def test_does_each_library_know_what_its_query_returns(theme, tiny_company):
    library = LIBRARY[theme]
    with open_warehouse(str(tiny_company.warehouse), library.NEEDS) as con:
        rows = read(con, library.LOAD_SQL)
    assert list(rows.columns) == library.COLUMNS
    assert library.extra_columns(rows) == {}


def test_are_unusable_added_columns_refused_in_plain_words():
    rows = pd.DataFrame({"user_id": range(60), "plan": ["free", "premium"] * 30, "one": 1,
                         "fall": 0.5, "age_band": ["20s", "30s", "40s"] * 20})
    assert extras.found(rows.drop(columns=["one", "fall"]), ["user_id", "plan"]) == {"age_band": "category"}
    with pytest.raises(UsageError, match="no longer returns plan"):
        extras.found(rows.drop(columns="plan"), ["user_id", "plan"], needed=["user_id", "plan"])
    with pytest.raises(UsageError, match="'fall' is already the name of a feature"):
        extras.found(rows.drop(columns="one"), ["user_id", "plan"], taken=["fall"])
    with pytest.raises(UsageError, match="same value"):
        extras.found(rows.drop(columns="fall"), ["user_id", "plan"])
    said = extras.explain({"age_band": "category", "tenure": "number"})
    assert "extra columns used by the model" in said and "age_band" in said and "カテゴリ / category" in said


def library_predictions(theme: str, warehouse) -> pd.DataFrame:
    """What the starter predicted before its SQL cell existed: LOAD_SQL read in Python, the
    library's model as it was (no extra columns), trained on every labelled row."""
    library = LIBRARY[theme]
    with open_warehouse(str(warehouse), library.NEEDS) as con:
        rows = read(con, library.LOAD_SQL)
        if theme == "product-ordering":
            holdout = read(con, library.USERS_SQL)
            model = library.WhatComesNext().fit(rows)
            return model.recommend(holdout["user_id"], library.history_before(rows, holdout))[
                ["user_id", "product_id", "rank"]]
    if theme == "push-open-rate":
        rows = library.with_history(rows)
    if theme == "call-keywords":
        rows["words"] = library.tokenize_all(rows["transcript"], progress=False)
    known, unknown = library.labelled(rows), library.to_predict(rows)
    model = library.make_model().fit(known, known[library.HANDOFF["label"]])
    id_column = all_themes()[theme].id_column
    table = pd.DataFrame({id_column: unknown[id_column].to_numpy(), "probability": model.predict_proba(unknown)[:, 1]})
    return pd.read_csv(io.StringIO(table.to_csv(index=False, float_format="%.6g")))  # as predictions.csv has them


@pytest.mark.parametrize("theme", THEMES)
def test_does_the_unchanged_sql_cell_predict_what_the_library_did(theme, tiny_starter, tiny_company):
    written = tiny_starter(theme).read()
    expected = library_predictions(theme, tiny_company.warehouse)
    keys = list(expected.columns[:2] if theme == "product-ordering" else expected.columns[:1])
    pd.testing.assert_frame_equal(written.sort_values(keys, ignore_index=True),
                                  expected.sort_values(keys, ignore_index=True), check_dtype=False,
                                  rtol=0, atol=0)


@pytest.mark.parametrize("theme", THEMES)
def test_does_a_column_added_in_sql_reach_the_model(theme, tiny_company, tmp_path):
    """The participant adds one column to the SELECT and runs the notebook: it finishes, says how
    it reads the column, the trained model holds it, and the hand-off keeps the query."""
    _, column, kind = ADDED[theme]
    notebook = add_column(template_dir(theme) / "starter.ipynb", tmp_path / "edited.ipynb", theme,
                          keep_model=True)
    run = run_starter(theme, tiny_company.warehouse, tmp_path / "run", notebook=notebook)
    assert_valid_submission(run.submission, theme, tiny_company.warehouse)
    text = run.text()
    assert "extra columns used by the model" in text and column in text
    kept = json.loads((run.submission / capture.CAPTURED).read_text(encoding="utf-8"))["data"]
    assert kept["extra"] == {column: kind} and column in kept["query"]
    model = component.load_model(run.submission / component.MODEL_FILE)  # as the hand-off loads it
    if theme == "product-ordering":
        assert model.extra == {column: kind}
        assert model.signal_next_["signal"].str.startswith(f"{column} = ").any()
        return
    columns = next(step for _, step in model.steps if hasattr(step, "transformers_"))
    added = [(name, inputs) for name, step, inputs in columns.transformers_ if hasattr(step, "transformers_")]
    assert [inputs for _, inputs in added] == [[column]], "the added column has a part of its own"
    assert any(source == column for _, source in extras.names_out(columns))
    weights = model[-1].coef_[0][columns.output_indices_[added[0][0]]]
    assert np.abs(weights).sum() > 0, "the model gave the column a weight"


def test_does_a_failing_sql_cell_say_what_the_database_said(tiny_company, tmp_path):
    """Under papermill, as in a notebook: the database's words, not jupysql's traceback."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from matsuri.templates import push, sqlcell\n"
            "from matsuri.templates.tables import open_warehouse\n"
            f"sqlcell.connect(open_warehouse({str(tiny_company.warehouse)!r}, push.NEEDS))"),
        nbformat.v4.new_code_cell("%%sql rows <<\nSELECT delivery_id, opened FROM push_deliveries"),
    ]
    nbformat.write(nb, tmp_path / "bad.ipynb")
    with pytest.raises(papermill.PapermillExecutionError) as failed:
        papermill.execute_notebook(str(tmp_path / "bad.ipynb"), str(tmp_path / "out.ipynb"),
                                   kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    assert failed.value.ename == "UsageError"
    assert 'Referenced column "opened" not found' in failed.value.evalue
    assert "site-packages" not in "".join(failed.value.traceback), "no frame of jupysql's is shown"
