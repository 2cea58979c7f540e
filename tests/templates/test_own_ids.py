"""Do the starters run unchanged on a company whose ids are text ('D00013353', 'U-00000123'), and
does the hackathon accept and score what they write? Does a holdout that cannot be predicted (ids
listed twice, no rows) stop before any training, with a plain message naming the table?

Variant warehouses are built from `tiny` by rewriting tables with DuckDB; each starter runs once
per variant (module-scoped)."""

from __future__ import annotations

import builtins
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import nbformat
import numpy as np
import pandas as pd
import pytest
from papermill.exceptions import PapermillExecutionError

from matsuri.errors import InvalidSubmission, UsageError
from matsuri.hackathon import scoring
from matsuri.hackathon.themes import get_theme
from matsuri.theme_spec import all_themes

from .conftest import ROOT, run_starter

THEMES = list(all_themes())
HOLDOUT = {t.id: (t.holdout_table, t.id_column) for t in all_themes().values()}

# every id column of the warehouse and of the organiser's labels store -> its text prefix
PREFIX = {"delivery_id": "D", "push_id": "P", "user_id": "U-", "call_id": "C", "account_id": "A",
          "rep_id": "R", "order_id": "O", "product_id": "SKU", "event_id": "E", "next_product_id": "SKU"}


@dataclass
class Company:
    warehouse: Path
    labels: Path


def rewrite(database: Path, statements) -> None:
    with duckdb.connect(str(database)) as con:
        for sql in statements(con):
            con.execute(sql)


def text_ids(con) -> list[str]:
    """Every id column as text: 'D' || lpad(id, 8, '0'), so the ids sort as the numbers did."""
    columns = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                          "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()
    by_table: dict[str, list[str]] = {}
    for table, column in columns:
        if column in PREFIX:
            by_table.setdefault(table, []).append(column)
    return [f'CREATE OR REPLACE TABLE "{table}" AS SELECT * REPLACE ('
            + ", ".join(f"'{PREFIX[c]}' || lpad({c}::VARCHAR, 8, '0') AS {c}" for c in cols)
            + f') FROM "{table}"' for table, cols in by_table.items()]


def variant(company, folder: Path, warehouse_sql=None, labels_sql=None) -> Company:
    """A copy of the company (warehouse and organiser labels), each rewritten by its statements."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = Company(folder / "company.duckdb", folder / "labels.duckdb")
    shutil.copy(company.warehouse, copy.warehouse)
    shutil.copy(company.labels, copy.labels)
    if warehouse_sql:
        rewrite(copy.warehouse, warehouse_sql)
    if labels_sql:
        rewrite(copy.labels, labels_sql)
    return copy


def as_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """A text-id prediction file with its ids mapped back to the original numbers."""
    return frame.assign(**{c: frame[c].map(lambda v: int(re.sub(r"^\D+", "", v)))
                           for c in frame.columns if c in PREFIX})


def sorted_rows(frame: pd.DataFrame, theme: str) -> pd.DataFrame:
    keys = ["user_id", "rank"] if theme == "product-ordering" else [HOLDOUT[theme][1]]
    return frame.sort_values(keys, ignore_index=True)


# --- Text ids in every id column, the labels store too ------------------------------------------

@pytest.fixture(scope="module")
def text_company(tiny_company, tmp_path_factory) -> Company:
    return variant(tiny_company, tmp_path_factory.mktemp("text-ids"), text_ids, text_ids)


@pytest.fixture(scope="module")
def text_run(text_company, tmp_path_factory):
    """Each starter run once on the text-id company, shared by the tests that read it."""
    runs = {}

    def get(theme: str):
        if theme not in runs:
            runs[theme] = run_starter(theme, text_company.warehouse, tmp_path_factory.mktemp(f"text-{theme}"))
        return runs[theme]

    return get


@pytest.mark.parametrize("theme", THEMES)
def test_text_ids_give_the_same_predictions_as_numbers(theme, text_run, tiny_starter):
    """Does each starter predict exactly what it predicts on the original, ids kept as text?"""
    run, original = text_run(theme), tiny_starter(theme)
    for baseline in (False, True):
        written = pd.read_csv((run.baseline if baseline else run.submission) / "predictions.csv", dtype=str)
        first = written.columns[0]
        assert written[first].str.match(r"^\D+\d{8}$").all(), "ids are written as the warehouse has them"
        expected = original.read(baseline=baseline)
        numbers = as_numbers(written).astype(expected.dtypes.to_dict())
        pd.testing.assert_frame_equal(sorted_rows(numbers, theme), sorted_rows(expected, theme))
    if theme == "call-keywords":
        assert run.read("keywords.csv").equals(original.read("keywords.csv"))


def full_scores(folder: Path, theme: str, company) -> dict[str, float]:
    """Every metric on every holdout row (the public/private split differs with the ids' type)."""
    key = scoring.answer_key(theme, company.warehouse, company.labels)
    found = get_theme(theme)
    return found.score(found.read(folder, key, 50_000_000), key, np.ones(len(key.ids), dtype=bool))


@pytest.mark.parametrize("theme", THEMES)
def test_the_hackathon_accepts_and_scores_text_ids_as_it_scores_numbers(theme, text_run, text_company,
                                                                        tiny_starter, tiny_company):
    """Does the runner's own reader take the text ids, and give the scores the numbers get?"""
    run, original = text_run(theme), tiny_starter(theme)
    for folder, before in ((run.submission, original.submission), (run.baseline, original.baseline)):
        job = scoring.ScoringJob(folder, theme, public_share=0.5, seed=1, max_bytes=50_000_000,
                                 warehouse=text_company.warehouse, labels=text_company.labels)
        scores = scoring.score_folder(job)
        assert all(np.isfinite(v) for part in scores.values() for v in part.values()), scores
        assert full_scores(folder, theme, text_company) == pytest.approx(full_scores(before, theme, tiny_company))


def test_text_ids_are_still_checked_one_by_one(text_run, text_company, tmp_path):
    """A wrong, a missing or a repeated text id is refused, and so is a number where text ids are."""
    theme = "push-open-rate"
    key = scoring.answer_key(theme, text_company.warehouse, text_company.labels)
    assert key.ids.dtype == object and key.ids[0].startswith("D")
    file = get_theme(theme).spec.files[0]
    good = pd.read_csv(text_run(theme).submission / "predictions.csv", dtype={"delivery_id": str})

    def refusal(frame: pd.DataFrame) -> str:
        frame.to_csv(tmp_path / "predictions.csv", index=False)
        with pytest.raises(InvalidSubmission) as refused:
            get_theme(theme).read_file(tmp_path / "predictions.csv", file, key, 50_000_000)
        return str(refused.value)

    stranger = good.copy()
    stranger.loc[0, "delivery_id"] = "D99999999"
    assert "not in holdout_push_deliveries" in refusal(stranger) and "D99999999" in refusal(stranger)
    assert "missing 1 of the" in refusal(good.iloc[1:])
    assert "more than once" in refusal(pd.concat([good, good.iloc[:1]]))
    blank = good.copy()
    blank.loc[3, "delivery_id"] = ""
    assert "line 5: delivery_id is empty" in refusal(blank)
    numbers = good.assign(delivery_id=good["delivery_id"].str[1:].astype(int))
    assert "not in holdout_push_deliveries" in refusal(numbers)


def test_integer_ids_still_refuse_text(tiny_company, tiny_starter, tmp_path):
    """Where the holdout's ids are numbers, a text id is still 'not a whole number'."""
    theme = "churn"
    key = scoring.answer_key(theme, tiny_company.warehouse, tiny_company.labels)
    assert key.ids.dtype == np.int64
    written = tiny_starter(theme).read()
    written.astype({"user_id": str}).assign(user_id=lambda f: "U-" + f["user_id"]).to_csv(
        tmp_path / "predictions.csv", index=False)
    with pytest.raises(InvalidSubmission, match="user_id is 'U-.*', which is not a whole number"):
        get_theme(theme).read_file(tmp_path / "predictions.csv", get_theme(theme).spec.files[0], key, 50_000_000)


def test_the_public_split_of_text_ids_is_stable_and_about_the_share():
    ids = np.array([f"U-{i:06d}" for i in range(20_000)], dtype=object)
    mask = scoring.public_mask(ids, "churn", 3, 0.3)
    assert abs(mask.mean() - 0.3) < 0.02
    shuffled = np.random.default_rng(0).permutation(len(ids))
    assert np.array_equal(scoring.public_mask(ids[shuffled], "churn", 3, 0.3), mask[shuffled])
    assert not np.array_equal(scoring.public_mask(ids, "churn", 4, 0.3), mask)


# --- A holdout that cannot be predicted stops before training, naming its table ------------------

def duplicated_holdout(con) -> list[str]:
    """Three ids of each theme's holdout listed twice (as a careless export would)."""
    return [f"INSERT INTO {table} SELECT * FROM {table} ORDER BY {column} LIMIT 3"
            for table, column in HOLDOUT.values()]


def empty_holdout(con) -> list[str]:
    return [f"DELETE FROM {table}" for table, _ in HOLDOUT.values()]


@pytest.fixture(scope="module")
def broken_companies(tiny_company, tmp_path_factory) -> dict[str, Company]:
    return {"duplicate": variant(tiny_company, tmp_path_factory.mktemp("duplicate-holdout"), duplicated_holdout),
            "empty": variant(tiny_company, tmp_path_factory.mktemp("empty-holdout"), empty_holdout)}


def first_training_cell(notebook: Path) -> int:
    cells = nbformat.read(notebook, as_version=4).cells
    return next(i for i, c in enumerate(cells) if c.cell_type == "code" and ".fit(" in c.source)


@pytest.mark.parametrize("problem, said", [("duplicate", r"duplicate|more than once|twice"),
                                           ("empty", r"empty|no rows")])
@pytest.mark.parametrize("theme", THEMES)
def test_a_broken_holdout_stops_before_training_naming_its_table(theme, problem, said, broken_companies,
                                                                  tmp_path, monkeypatch):
    monkeypatch.setenv("MATSURI_LANG", "en")  # the message in the English words asserted below
    table = HOLDOUT[theme][0]
    with pytest.raises(PapermillExecutionError) as stopped:
        run_starter(theme, broken_companies[problem].warehouse, tmp_path)
    error = stopped.value
    assert table in error.evalue and re.search(said, error.evalue), error.evalue
    assert not hasattr(builtins, error.ename), f"a raw {error.ename} instead of the kit's message: {error.evalue}"
    assert "write one row per" not in error.evalue and "0 sample(s)" not in error.evalue
    assert error.cell_index < first_training_cell(tmp_path / "starter.ipynb"), "stopped before any training"
    assert not (tmp_path / "submission" / "predictions.csv").exists()


@pytest.mark.parametrize("problem", ["duplicate", "empty"])
def test_the_scorer_blames_the_holdout_table_not_the_submission(problem, broken_companies):
    """The organiser scoring against a broken holdout hears about the data, not the team's file."""
    company = broken_companies[problem]
    with pytest.raises(UsageError, match="The holdout table holdout_churn_users (has 3 duplicate|is empty)"):
        scoring.answer_key("churn", company.warehouse, company.labels)


@pytest.mark.parametrize("edit, said", [
    ("FROM holdout_push_deliveries WHERE false", "The load query returned no rows of the holdout table"),
    ("FROM holdout_push_deliveries, (VALUES (1), (2)) twice(n)", "the load query repeats them"),
])
def test_a_query_that_loses_or_repeats_the_holdout_stops_before_training(edit, said, tiny_company, tmp_path,
                                                                        monkeypatch):
    """The participant's SQL (not the table) loses or repeats the rows to predict: the push library
    says so, naming the holdout table, before the baselines train."""
    monkeypatch.setenv("MATSURI_LANG", "en")  # the message in the English words asserted below
    notebook = nbformat.read(ROOT / "templates" / "push-open-rate" / "starter.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if c.source.startswith("%%sql"))
    assert cell.source.count("FROM holdout_push_deliveries\n") == 1
    cell.source = cell.source.replace("FROM holdout_push_deliveries\n", edit + "\n")
    edited = tmp_path / "edited.ipynb"
    nbformat.write(notebook, edited)
    with pytest.raises(PapermillExecutionError) as stopped:
        run_starter("push-open-rate", tiny_company.warehouse, tmp_path / "run", notebook=edited)
    error = stopped.value
    assert error.ename == "UsageError" and said in error.evalue and "holdout_push_deliveries" in error.evalue
    assert error.cell_index < first_training_cell(tmp_path / "run" / "starter.ipynb")


def test_labels_of_another_id_type_than_the_holdout_are_refused(text_company, tiny_company, tmp_path):
    """Scores pair labels and predictions by id: an organiser store left with the old number ids is
    named, rather than scored silently wrong."""
    with pytest.raises(UsageError, match=r"The organiser labels \(SELECT delivery_id, opened FROM push_open_labels\) "
                                         r"do not list the same ids as the holdout table holdout_push_deliveries: "
                                         r"4,764 labels \(whole-number ids\) for 4,764 holdout rows \(text ids\)"):
        scoring.answer_key("push-open-rate", text_company.warehouse, tiny_company.labels)


@pytest.mark.parametrize("theme", THEMES)
def test_every_demo_runs_on_text_ids(theme, text_company, tmp_path, monkeypatch):
    """The judges' demos pick a call, a customer or a push by its id: text ids work as numbers do."""
    import papermill

    monkeypatch.setenv("MATSURI_WAREHOUSE", str(text_company.warehouse))
    monkeypatch.setenv("MATSURI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MATSURI_LANG", "en")
    executed = tmp_path / "demo.ipynb"
    papermill.execute_notebook(str(ROOT / "templates" / theme / "demo.ipynb"), str(executed),
                               kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    outputs = [o for c in nbformat.read(executed, 4).cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
