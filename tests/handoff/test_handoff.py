"""Does a scored submission become a component that stands on its own: a real uvicorn server
answering /predict with exactly what its batch job (papermill) writes for the same rows, plain
422s for bad requests, a model card, KPI sheet and A/B plan, and units systemd accepts?

One event, two teams (a probability theme and a ranking theme), each submitting its starter
through the sandboxed runner; `matsuri handoff` runs each notebook again and packs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import httpx
import pandas as pd
import pytest

from conftest import free_port, run_matsuri
from matsuri import paths
from matsuri.errors import NotFound, UsageError
from matsuri.hackathon.submissions import submit
from matsuri.hackathon.teams import add_team, new_workspace
from matsuri.handoff import batch, bundle, component
from support.hackathon_fixtures import event_for_module

PERIOD = ("2026-01-01", "2026-02-01")  # a month of the tiny company's data


@pytest.fixture(scope="module")
def festival(tmp_path_factory, public_company, sandbox_user):
    folder = tmp_path_factory.mktemp("handoff-event")
    with event_for_module(folder, public_company, sandbox_user, timeout=600) as event:
        scored = {}
        for team, theme in (("alpha", "push-open-rate"), ("beta", "product-ordering")):
            add_team(event, team, [team.title()])
            workspace = new_workspace(event, team, theme, paths.project_root() / "templates").workspace
            scored[team] = submit(event, team, workspace / "starter.ipynb")
            assert scored[team].status == "scored", scored[team].message
        packs = {team: bundle.make(event, team, folder / f"pack-{team}") for team in scored}
        yield {"event": event, "packs": packs, "scored": scored, "company": public_company}


def standalone_env(pack: Path, company, **extra) -> dict:
    """The pack's own code first on the path (vendor/), as its Dockerfile sets it."""
    return dict(os.environ, PYTHONPATH=str(pack / "vendor"), MATSURI_TEMPLATES=str(pack / "vendor" / "templates"),
                MATSURI_COMPONENT=str(pack), MATSURI_WAREHOUSE=str(company.warehouse), **extra)


@pytest.fixture(scope="module")
def server(festival):
    """The push component served by uvicorn on 127.0.0.1, from the pack folder, as documented."""
    from matsuri import servers

    pack = festival["packs"]["alpha"].folder
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "matsuri.handoff.service:from_environment",
               "--host", "127.0.0.1", "--port", str(port)]
    env = standalone_env(pack, festival["company"], MATSURI_MAX_ROWS="50")
    with servers.running("component", command, f"http://127.0.0.1:{port}/health", env=env, cwd=pack,
                         log=pack.parent / "uvicorn-alpha.log", timeout=120):
        yield f"http://127.0.0.1:{port}"


def run_batch(pack: Path, company, out: Path) -> pd.DataFrame:
    """batch.ipynb under papermill, with the pack's own code, into a DuckDB file of its own."""
    command = [sys.executable, "-m", "papermill", str(pack / "batch.ipynb"), str(out / "run.ipynb"),
               "-p", "start", PERIOD[0], "-p", "end", PERIOD[1], "-p", "output", str(out / "scores.duckdb"),
               "-p", "output_table", "push_scores", "-p", "component", str(pack)]
    subprocess.run(command, check=True, capture_output=True, env=standalone_env(pack, company), cwd=out,
                   timeout=300)
    with duckdb.connect(str(out / "scores.duckdb"), read_only=True) as con:
        return con.execute("SELECT * FROM push_scores").df()


def period_rows(pack: Path, company) -> pd.DataFrame:
    from matsuri.templates.tables import open_warehouse

    comp = component.load(pack)
    with open_warehouse(str(company.warehouse), comp.library.NEEDS) as con:
        return batch.rows_between(comp, con, *batch.period(*PERIOD))


def test_the_pack_holds_everything_a_data_team_needs(festival):
    pack = festival["packs"]["alpha"]
    folder, spec = pack.folder, pack.spec
    for name in ("README.md", "component.json", "model.skops", "baseline.skops", "notebook.ipynb",
                 "batch.ipynb", "requirements.txt", "Dockerfile", "matsuri-batch.service",
                 "matsuri-batch.timer", "cron.txt", "model-card.md", "model-card.html", "ab-plan.md",
                 "kpi/kpi.csv", "kpi/kpi.png", "vendor/matsuri/handoff/service.py",
                 "vendor/templates/push-open-rate/theme.toml"):
        assert (folder / name).is_file(), name
    assert spec["submission"] == festival["scored"]["alpha"].id and spec["kind"] == "probability"
    assert [i["name"] for i in spec["inputs"]][:2] == ["delivery_id", "send_hour"]
    assert {i["type"] for i in spec["inputs"]} >= {"integer", "string", "boolean"}
    # the model is the notebook's: the card's figures match the submission's leaderboard score
    assert spec["metrics"]["model"]["roc_auc"] == pytest.approx(festival["scored"]["alpha"].private["roc_auc"])
    baseline = spec["metrics"]["baselines"][0]
    assert baseline["kind"] == "naive" and 0.5 < baseline["scores"]["roc_auc"] < 1
    import sklearn

    pins = (folder / "requirements.txt").read_text()
    assert f"scikit-learn=={sklearn.__version__}" in pins and "fastapi==" in pins and "uvicorn==" in pins
    assert f"FROM python:{sys.version_info.major}.{sys.version_info.minor}-slim" in (folder / "Dockerfile").read_text()
    card = (folder / "model-card.html").read_text(encoding="utf-8")
    assert "ROC AUC" in card or "roc_auc" in card
    assert "Team" in card or "チーム" in card


def test_the_service_answers_exactly_what_the_batch_job_writes(festival, server, tmp_path):
    pack, company = festival["packs"]["alpha"].folder, festival["company"]
    written = run_batch(pack, company, tmp_path)
    rows = period_rows(pack, company)
    assert len(written) == len(rows) > 50
    names = [i["name"] for i in component.load(pack).inputs]
    got = []
    with httpx.Client(base_url=server, timeout=60) as client:
        for start in range(0, len(rows), 50):  # the server was started with at most 50 rows a request
            chunk = json.loads(rows[names].iloc[start:start + 50].to_json(orient="records"))
            answer = client.post("/predict", json={"rows": chunk})
            assert answer.status_code == 200, answer.text
            got.extend(answer.json()["predictions"])
        health = client.get("/health").json()
        docs = client.get("/openapi.json").json()
    served = pd.DataFrame(got).sort_values("delivery_id", ignore_index=True)
    batched = written.sort_values("delivery_id", ignore_index=True)
    assert served["delivery_id"].tolist() == batched["delivery_id"].tolist()
    assert (served["probability"].to_numpy() == batched["probability"].to_numpy()).all()
    assert health["status"] == "ok" and health["submission"] == festival["scored"]["alpha"].id
    assert "/predict" in docs["paths"]


@pytest.mark.parametrize(("change", "words"), [
    (lambda row: row.pop("send_hour"), ["Row 1, field 'send_hour'", "missing"]),
    (lambda row: row.update(send_hour="nine"), ["Row 1, field 'send_hour'", "'nine' is not a whole number"]),
    (lambda row: row.update(colour="red"), ["'colour'", "not an input"]),
])
def test_a_bad_row_gets_422_with_a_plain_message(festival, server, change, words):
    row = dict(component.load(festival["packs"]["alpha"].folder).spec["examples"][0])
    change(row)
    answer = httpx.post(f"{server}/predict", json={"rows": [row]}, timeout=30)
    assert answer.status_code == 422
    message = answer.json()["message"]
    assert all(w in message for w in words), message


def test_too_many_rows_in_one_request_are_refused(festival, server):
    row = component.load(festival["packs"]["alpha"].folder).spec["examples"][0]
    answer = httpx.post(f"{server}/predict", json={"rows": [row] * 51}, timeout=30)
    assert answer.status_code == 422
    assert "51 rows; send at most 50 rows a request" in answer.json()["message"]


def test_a_ranking_component_serves_what_its_batch_writes(festival, tmp_path):
    """product-ordering reads each customer's history from the warehouse at request time."""
    from fastapi.testclient import TestClient

    from matsuri.handoff.service import create_app

    pack, company = festival["packs"]["beta"].folder, festival["company"]
    result = batch.run(pack, *PERIOD, output=tmp_path / "scores.duckdb", table="ranked",
                       warehouse=str(company.warehouse))
    with duckdb.connect(str(result.output), read_only=True) as con:
        written = con.execute("SELECT user_id, product_id, rank FROM ranked").df()
    users = sorted(written["user_id"].unique())[:20]
    with TestClient(create_app(pack, str(company.warehouse))) as client:
        answer = client.post("/predict", json={"rows": [{"user_id": int(u)} for u in users]})
    assert answer.status_code == 200, answer.text
    duckdb.connect(str(company.warehouse), read_only=True).close()  # the stopped app let go of it
    served = pd.DataFrame(answer.json()["predictions"]).sort_values(["user_id", "rank"], ignore_index=True)
    expected = written[written["user_id"].isin(users)].sort_values(["user_id", "rank"], ignore_index=True)
    assert served.astype("int64").equals(expected.astype("int64"))
    assert festival["packs"]["beta"].spec["metrics"]["model"]["ndcg@10"] == pytest.approx(
        festival["scored"]["beta"].private["ndcg@10"])


def test_a_model_trained_on_a_column_added_in_sql_hands_off_and_serves(festival, tmp_path):
    """A team adds the user's age band to its starter's SQL cell: the component reads rows with the
    team's query, takes the column as an input, and answers what its batch job writes."""
    from fastapi.testclient import TestClient

    from matsuri.handoff.service import create_app
    from support.sql_starters import add_column

    event, company = festival["event"], festival["company"]
    add_team(event, "delta", ["Dee"])
    workspace = new_workspace(event, "delta", "push-open-rate", paths.project_root() / "templates").workspace
    add_column(workspace / "starter.ipynb", workspace / "starter.ipynb", "push-open-rate")
    scored = submit(event, "delta", workspace / "starter.ipynb")
    assert scored.status == "scored", scored.message
    pack = bundle.make(event, "delta", tmp_path / "pack")
    assert pack.spec["extra"] == {"age_band": "category"} and "u.age_band" in pack.spec["query"]
    assert {"name": "age_band", "type": "string", "nullable": False} in pack.spec["inputs"]
    assert pack.spec["metrics"]["model"]["roc_auc"] == pytest.approx(scored.private["roc_auc"])
    result = batch.run(pack.folder, *PERIOD, output=tmp_path / "scores.duckdb", table="scored",
                       warehouse=str(company.warehouse))
    with duckdb.connect(str(result.output), read_only=True) as con:
        written = con.execute("SELECT delivery_id, probability FROM scored").df().set_index("delivery_id")
    names = [i["name"] for i in pack.spec["inputs"]]
    rows = json.loads(period_rows(pack.folder, company)[names].head(20).to_json(orient="records"))
    other = dict(rows[0], age_band="60s+" if rows[0]["age_band"] != "60s+" else "20s")
    with TestClient(create_app(pack.folder)) as client:
        answer = client.post("/predict", json={"rows": rows})
        changed = client.post("/predict", json={"rows": [other]})
        missing = client.post("/predict", json={"rows": [{k: v for k, v in rows[0].items() if k != "age_band"}]})
    assert answer.status_code == 200, answer.text
    served = pd.DataFrame(answer.json()["predictions"])
    assert (served["probability"].to_numpy() == written.loc[served["delivery_id"], "probability"].to_numpy()).all()
    assert changed.json()["predictions"][0]["probability"] != served["probability"].iloc[0], "the model reads it"
    assert missing.status_code == 422 and "field 'age_band'" in missing.json()["message"]


def test_the_timer_and_service_units_pass_systemd_analyze(festival, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not on this machine")
    pack = festival["packs"]["alpha"].folder
    for name in ("matsuri-batch.service", "matsuri-batch.timer"):
        shutil.copyfile(pack / name, tmp_path / name)
    done = subprocess.run([analyze, "verify", str(tmp_path / "matsuri-batch.timer"),
                           str(tmp_path / "matsuri-batch.service")], capture_output=True, text=True,
                          timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "matsuri-batch" in line]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr


def test_what_cannot_be_handed_off_is_said_plainly(festival, tmp_path):
    event = festival["event"]
    add_team(event, "gamma", ["Gin"])
    with pytest.raises(NotFound, match="Team 'gamma' has no scored notebook submission"):
        bundle.make(event, "gamma", tmp_path / "pack")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="is not empty"):
        bundle.make(event, "alpha", tmp_path / "busy")
    out = run_matsuri(["handoff", "gamma", "--out", str(tmp_path / "cli"), "--event", str(event.root)],
                      exit_code=None)
    assert out.code != 0 and "has no scored notebook submission" in out.out + out.err
