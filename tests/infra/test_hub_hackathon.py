"""On the one-VM JupyterHub, do teams hand in from their own servers and get scored by the runner
the hub starts, without reading each other's entries or submitting for another team?

A real hub with real accounts (two teams of one person), the hackathon's runner as a hub service,
`matsuri hackathon submit` typed in each participant's own kernel.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from infra_hub import HubUser, run_code

from conftest import free_port
from matsuri.infra import participants, settings
from matsuri.infra.hub import launch
from matsuri.infra.hub.provisioner import HubProvisioner
from support.hackathon_kit import (
    DEFAULTS,
    SETTINGS,
    WRITE_PUSH_PREDICTIONS,
    add_team,
    notebook,
    push_predictions,
)

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def festival_hub(public_company, sandbox_user):
    from infra_hub import cleanup_accounts

    from matsuri.hackathon.event import init_event
    from matsuri.hackathon.service import prepare_boxes

    event_id = f"h{secrets.token_hex(3)}"
    root = Path(tempfile.mkdtemp(prefix=f"matsuri-hub-{event_id}-"))
    root.chmod(0o755)
    names = {"ann": f"{event_id}-ann", "cat": f"{event_id}-cat"}
    csv = "username,email,role,team\n" + "".join(
        f"{n},{k}@example.com,learner,{'red' if k == 'ann' else 'blue'}\n" for k, n in names.items())
    people = participants.parse(csv.splitlines())
    ports = {k: free_port() for k in ("port", "hub_port", "proxy_api_port", "formgrader_port", "gallery_port")}
    config = settings.from_dict({
        "event": {"id": event_id, "course": "tiny"},
        "jupyterhub": {"state_dir": str(root / "state"), "ip": "127.0.0.1", **ports,
                       "warehouse": str(public_company.warehouse), "holdout": str(public_company.labels),
                       "gallery_command": ["python", str(Path(__file__).parent / "gallery_standin.py"),
                                           "{port}", "{base_url}"]}})
    hackathon = root / "hackathon"
    hackathon.mkdir()
    (hackathon / "event.toml").write_text(SETTINGS.format(**DEFAULTS | {"run_as": sandbox_user}), encoding="utf-8")
    saved = os.environ.get("MATSURI_EVENT")
    os.environ["MATSURI_EVENT"] = str(hackathon)  # the event the hub's runner and servers use
    hub_cm = None
    try:
        report = HubProvisioner(config, people).apply(progress=False)
        assert not report.failed, [(o.action.name, o.message) for o in report.failed]
        event, _ = init_event(hackathon)
        add_team(event, "red", "push-open-rate", members=[names["ann"]])
        add_team(event, "blue", "push-open-rate", members=[names["cat"]])
        assert prepare_boxes(event) == []
        hub_cm = launch.running(config, root / "hub.log", timeout=180)
        hub_cm.__enter__()
        base = f"http://127.0.0.1:{ports['port']}"
        password = (root / "state" / "secrets" / "shared-password").read_text().strip()
        board = hackathon / "public" / "board.json"
        deadline = time.monotonic() + 90
        while not (board.exists() and json.loads(board.read_text())["runner"]["alive"]):
            assert time.monotonic() < deadline, (root / "hub.log").read_text()[-3000:]
            time.sleep(0.5)
        yield {"event": event, "base": base, "password": password, "names": names, "root": root}
    finally:
        if hub_cm is not None:
            hub_cm.__exit__(None, None, None)
        HubProvisioner(config, []).destroy(progress=False)
        cleanup_accounts(event_id)
        if saved is None:
            os.environ.pop("MATSURI_EVENT", None)
        else:
            os.environ["MATSURI_EVENT"] = saved
        from matsuri.hackathon.dropbox import team_group

        for team in ("red", "blue"):
            subprocess.run(["groupdel", team_group(team, hackathon)], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def put(user: HubUser, name: str, content: str) -> None:
    answer = user.api.put(f"{user.base}/user/{user.name}/api/contents/{name}", timeout=60,
                          json={"type": "file", "format": "text", "content": content})
    assert answer.ok, answer.text


SUBMIT = """
import subprocess
done = subprocess.run(["matsuri", "hackathon", "submit", {path!r}, *{extra!r}], capture_output=True, text=True)
print(done.returncode, done.stdout, done.stderr)
"""


def test_two_teams_submit_from_their_own_servers_and_the_hubs_runner_scores_both(festival_hub, public_company, tmp_path):
    hub = festival_hub
    ann, cat = (HubUser(hub["base"], hub["names"][k], hub["password"]) for k in ("ann", "cat"))
    for user in (ann, cat):
        user.ensure_running()
    nb = notebook(tmp_path / "mine.ipynb", WRITE_PUSH_PREDICTIONS)
    put(ann, "mine.ipynb", nbformat.writes(nbformat.read(nb, as_version=4)))
    put(cat, "predictions.csv", push_predictions(public_company).to_csv(index=False))

    with ThreadPoolExecutor(2) as pool:  # at the same moment
        outputs = dict(zip(("red", "blue"), pool.map(
            lambda pair: run_code(pair[0], SUBMIT.format(path=pair[1], extra=[])),
            [(ann, "mine.ipynb"), (cat, "predictions.csv")]), strict=True))
    for team, printed in outputs.items():
        assert printed.startswith("0 ") and re.search(r"scored\. Public score: roc_auc 0\.\d{4}", printed), printed
        with hub["event"].connect() as con:
            rows = con.execute("SELECT status, kind, submitted_by FROM submissions WHERE team = ?", (team,)).fetchall()
        assert [tuple(r) for r in rows] == [("scored", "notebook" if team == "red" else "file",
                                             hub["names"]["ann" if team == "red" else "cat"])]

    peek = run_code(ann, f"""
import os
for path in {[str(hub["event"].root / "dropbox" / "blue"), str(hub["event"].root / "state")]!r}:
    try:
        os.listdir(path); print("read", path)
    except PermissionError:
        print("refused", path)
""")
    assert peek.count("refused") == 2 and "read" not in peek
    other = run_code(ann, SUBMIT.format(path="mine.ipynb", extra=["--team", "blue"]))
    assert other.startswith("2 ") and "You are not a member of team 'blue'" in other
