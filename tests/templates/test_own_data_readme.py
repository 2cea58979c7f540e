"""Does each template README's "Your own data" page say what the template really does: the data
contract exactly as the spec renders it, in both languages, and a worked example (a company whose
tables have other names, one in another schema, one kept as a Parquet file) whose `params.yaml`,
papermill command and `matsuri data check` command work as written?

The example is read from the README's fenced code blocks, never retyped here: the company it
describes is built from the tiny warehouse by following its `params.yaml`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from conftest import BIN, run_matsuri
from matsuri import theme_spec
from matsuri.templates.contract import markdown
from matsuri.theme_spec import all_themes, template_dir

from .test_readme_languages import readme

THEMES = list(all_themes())
PAGE = {"日本語": "### 自社のデータで", "English": "### Your own data"}
BLOCK = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
UNREADABLE = "'%d/%m/%Y %H:%M'"  # how a date column arrives when an export formats it for people


def page(theme: str, half: str = "English") -> str:
    """The own-data section of one half of the README (up to the next `### ` heading)."""
    text = readme(theme)[half]
    start = text.find(PAGE[half] + "\n")
    assert start >= 0, f"{theme}/README.md: no `{PAGE[half]}` section in the {half} half"
    end = text.find("\n### ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def example(theme: str) -> dict:
    """The worked example's params.yaml (text and values) and its commands, from the README."""
    blocks = BLOCK.findall(page(theme))
    params = [body for lang, body in blocks if lang == "yaml"]
    assert len(params) == 1, "one ```yaml block: the params.yaml of the example"
    commands = [line.strip() for lang, body in blocks if lang in ("bash", "sh", "shell")
                for line in body.splitlines() if line.strip()]
    found = {
        "papermill": [c for c in commands if c.startswith("papermill ") and "-f params.yaml" in c],
        "one line": [c for c in commands if c.startswith("papermill ") and " -y " in c],
        "check": [c for c in commands if c.startswith("matsuri data check ")],
    }
    assert all(len(c) == 1 for c in found.values()), f"one command of each kind: {found}"
    return {"yaml": params[0], "params": yaml.safe_load(params[0]),
            **{kind: shlex.split(c[0]) for kind, c in found.items()}}


def company(original: Path, folder: Path, theme: str, params: dict) -> Path:
    """The company the example describes, made from the original warehouse: each table the
    contract names renamed (table_names) with its columns renamed (column_names), moved to its
    schema, or written to the file `files` names and dropped from the warehouse."""
    folder.mkdir(parents=True, exist_ok=True)
    warehouse = folder / params["warehouse"]
    shutil.copy(original, warehouse)
    table_names, column_names = params.get("table_names") or {}, params.get("column_names") or {}
    files = params.get("files") or {}
    with duckdb.connect(str(warehouse)) as con:
        for ours, contract in theme_spec.get(theme).data.items():
            renames = [f'"{c}" AS "{column_names[f"{ours}.{c}"]}"' for c in contract.column_names
                       if f"{ours}.{c}" in column_names]
            rename = f"RENAME ({', '.join(renames)})" if renames else ""
            select = f'SELECT * {rename} FROM "{ours}"'
            if ours in files:
                path = folder / files[ours]
                path.parent.mkdir(parents=True, exist_ok=True)
                kind = "PARQUET" if path.suffix == ".parquet" else "CSV, HEADER"
                con.execute(f"COPY ({select}) TO '{path}' (FORMAT {kind})")
            else:
                schema, _, name = table_names.get(ours, f"their_{ours}").rpartition(".")
                if schema:
                    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                con.execute(f'CREATE TABLE "{schema or "main"}"."{name}" AS {select}')
            con.execute(f'DROP TABLE "{ours}"')
            if ours not in files and ours not in table_names:  # same name as ours, columns renamed
                con.execute(f'ALTER TABLE "their_{ours}" RENAME TO "{ours}"')
    return warehouse


def unreadable_date(warehouse: Path, theme: str, params: dict) -> str:
    """Turn the first date column of the example's table in another schema into text no reader
    takes for a date; returns it as the check names it: "theirs.column (our table.column)"."""
    table_names, column_names = params["table_names"], params.get("column_names") or {}
    ours = next(t for t, name in table_names.items() if "." in name and t not in (params.get("files") or {}))
    column = next(c.name for c in theme_spec.get(theme).data[ours].columns if c.type == "timestamp")
    theirs = column_names.get(f"{ours}.{column}", column)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f'CREATE OR REPLACE TABLE {table_names[ours]} AS SELECT * REPLACE '
                    f'(strftime("{theirs}", {UNREADABLE}) AS "{theirs}") FROM {table_names[ours]}')
    return f"{table_names[ours]}.{theirs} (our {ours}.{column})"


@pytest.mark.parametrize("theme", THEMES)
def test_does_the_readme_show_the_contract_exactly_as_the_spec_renders_it(theme):
    """The contract tables are generated (`matsuri data contract --theme T [--language ja]`): a
    changed contract fails here until the README is regenerated."""
    data = theme_spec.get(theme).data
    assert markdown(data, "ja") in page(theme, "日本語"), f"{theme}: paste `matsuri data contract --theme {theme} --language ja`"
    assert markdown(data, "en") in page(theme, "English"), f"{theme}: paste `matsuri data contract --theme {theme}`"


@pytest.mark.parametrize("theme", THEMES)
def test_is_the_worked_example_a_company_with_other_names(theme):
    """One table in another schema, one in a Parquet file, the warehouse named in params.yaml, and
    the `-y` one-liner the same parameters as the file."""
    shown = example(theme)
    params = shown["params"]
    assert params.get("warehouse"), "params.yaml names the warehouse (`warehouse:`)"
    assert any("." in name for name in params["table_names"].values()), "a table in another schema"
    assert any(str(f).endswith(".parquet") for f in params["files"].values()), "a table kept as a Parquet file"
    assert shown["papermill"] == ["papermill", "starter.ipynb", "out.ipynb", "-f", "params.yaml"]
    one_line = shown["one line"]
    assert one_line[:3] == ["papermill", "starter.ipynb", "out.ipynb"]
    assert yaml.safe_load(one_line[one_line.index("-y") + 1]) == params
    assert shown["check"][:5] == ["matsuri", "data", "check", "--theme", theme]
    assert shown["check"][-2:] == ["-f", "params.yaml"]


def test_does_the_worked_example_run_as_written(tiny_company, tiny_starter, tmp_path):
    """push-open-rate: the README's company, params.yaml and papermill command give the same
    predictions as the starter on the original warehouse; its `matsuri data check` command passes,
    and fails naming the table and column once a date column holds text that is no date."""
    theme = "push-open-rate"
    shown = example(theme)
    folder = tmp_path / "acme"
    warehouse = company(tiny_company.warehouse, folder, theme, shown["params"])
    (folder / "params.yaml").write_text(shown["yaml"], encoding="utf-8")
    shutil.copy(template_dir(theme) / "starter.ipynb", folder / "starter.ipynb")
    # the warehouse comes from params.yaml, not from the environment
    env = dict(os.environ, MATSURI_WAREHOUSE=str(tmp_path / "not-this.duckdb"))
    ran = subprocess.run([str(BIN / shown["papermill"][0]), *shown["papermill"][1:]], cwd=folder, env=env,
                         capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    original = tiny_starter(theme)
    names = sorted(p.name for p in original.submission.glob("*.csv"))
    assert names
    for name in names:
        pd.testing.assert_frame_equal(pd.read_csv(folder / "submission" / name), original.read(name),
                                      obj=f"{theme}: {name}")

    good = run_matsuri(shown["check"][1:], cwd=folder)
    assert f"meets the {theme} contract" in good.out
    where = unreadable_date(warehouse, theme, shown["params"])
    bad = run_matsuri(shown["check"][1:], cwd=folder, exit_code=2)
    assert f"{where} is VARCHAR" in bad.out and "the template stops" in bad.out, bad.out
    assert "would stop the template" in bad.err


def test_does_the_company_builder_follow_the_parameters(tiny_company, tmp_path):
    """The builder the example test relies on: renamed, moved and exported tables are where the
    parameters say, and the originals are gone."""
    params = {"warehouse": "w.duckdb", "table_names": {"push_notifications": "crm.campaigns"},
              "column_names": {"push_notifications.sent_at": "send_time", "holdout_push_deliveries.push_id": "campaign_id"},
              "files": {"push_deliveries": "exports/log.parquet"}}
    warehouse = company(tiny_company.warehouse, tmp_path, "push-open-rate", params)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = {f"{s}.{t}" for s, t in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables").fetchall()}
        assert {"crm.campaigns", "main.holdout_push_deliveries"} <= tables
        assert not {"main.push_notifications", "main.push_deliveries"} & tables
        assert "send_time" in [r[0] for r in con.execute("DESCRIBE crm.campaigns").fetchall()]
        assert "campaign_id" in [r[0] for r in con.execute("DESCRIBE holdout_push_deliveries").fetchall()]
        assert con.execute(f"SELECT count(*) FROM '{tmp_path}/exports/log.parquet'").fetchone()[0] > 0
    where = unreadable_date(warehouse, "push-open-rate", params)
    assert where == "crm.campaigns.send_time (our push_notifications.sent_at)"
