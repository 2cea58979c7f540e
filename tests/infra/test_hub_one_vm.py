"""Does the one-VM JupyterHub give each participant a private server, run nbgrader under the right
names, let only judges into the gallery, and cull idle servers?

One real JupyterHub (with configurable-http-proxy from npm) per module, on free 127.0.0.1 ports,
with real system accounts that the kit creates and the last test removes.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
import requests
from infra_hub import HubUser, cleanup_accounts
from nbformat.v4 import new_code_cell, new_notebook

from conftest import free_port, run_matsuri
from matsuri.infra import participants, settings
from matsuri.infra.hub import accounts, launch
from matsuri.infra.hub.provisioner import HubProvisioner

pytestmark = [pytest.mark.slow]
CULL_SECONDS = 45


@dataclass
class Hub:
    settings: settings.Settings
    people: list
    base: str
    password: str
    holdout: Path
    log: Path
    names: dict
    started: dict

    def user(self, key: str) -> HubUser:
        return HubUser(self.base, self.names[key], self.password)


def tiny_assignment(folder: Path) -> None:
    """A one-question nbgrader assignment: a solution region and a hidden-free test cell."""
    meta = {"grade": False, "solution": True, "locked": False, "task": False, "grade_id": "answer",
            "schema_version": 3}
    test = {"grade": True, "solution": False, "locked": True, "task": False, "grade_id": "check",
            "points": 1, "schema_version": 3}
    nb = new_notebook(cells=[
        new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                      metadata={"nbgrader": meta}),
        new_code_cell("assert double(21) == 42", metadata={"nbgrader": test})])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "hw1.ipynb")


@pytest.fixture(scope="module")
def hub():
    event = f"t{secrets.token_hex(3)}"
    # Not under pytest's own temporary folder: a concurrent pytest run chmods its root to 0700,
    # which clears the ACL grants that let participants' accounts pass through.
    root = Path(tempfile.mkdtemp(prefix=f"matsuri-hub-{event}-"))
    root.chmod(0o755)
    names = {k: f"{event}-{k}" for k in ("ann", "ben", "cat", "dan", "ivy", "jo")}
    roles = {"ivy": "instructor", "jo": "judge"}
    csv = "username,email,role,team,language\n" + "".join(
        f"{n},{k}@example.com,{roles.get(k, 'learner')},{'red' if k in ('ann', 'ben') else ''},"
        f"{'en' if k == 'ben' else ''}\n" for k, n in names.items())  # ben reads English
    people = participants.parse(csv.splitlines())
    holdout = root / "organiser" / "labels.duckdb"
    holdout.parent.mkdir()
    holdout.write_text("planted labels")
    holdout.chmod(0o644)
    ports = {k: free_port() for k in ("port", "hub_port", "proxy_api_port", "formgrader_port", "gallery_port")}
    config = settings.from_dict({
        "event": {"id": event, "course": "tiny"},
        "jupyterhub": {"state_dir": str(root / "state"), "ip": "127.0.0.1", **ports,
                       "cull_idle_minutes": CULL_SECONDS / 60, "cull_every_minutes": 5 / 60,
                       "activity_interval_seconds": 5, "holdout": str(holdout),
                       "warehouse": str(root / "no-warehouse.duckdb"),
                       # A stand-in for the Voila gallery (a page and a websocket), behind the real gate.
                       "gallery_command": ["python", str(Path(__file__).parent / "gallery_standin.py"),
                                           "{port}", "{base_url}"]}})
    log = root / "hub.log"
    hub_cm = None
    try:
        report = HubProvisioner(config, people).apply(progress=False)
        assert not report.failed, [(o.action.name, o.message) for o in report.failed]
        again = HubProvisioner(config, people).plan()
        assert [a.describe() for a in again.actions if a.kind != "exists"] == []  # idempotent
        hub_cm = launch.running(config, log, timeout=180)  # slow when the machine is busy
        hub_cm.__enter__()
        base = f"http://127.0.0.1:{ports['port']}"
        password = (root / "state" / "secrets" / "shared-password").read_text().strip()
        state = Hub(config, people, base, password, holdout, log, names, {})
        dan = state.user("dan")
        dan.start()  # left alone from now on: the culler should stop it
        state.started["dan"] = time.monotonic()
        yield state
    finally:
        if hub_cm is not None:
            hub_cm.__exit__(None, None, None)
        HubProvisioner(config, []).destroy(progress=False)
        cleanup_accounts(event)
        shutil.rmtree(root, ignore_errors=True)


def test_three_learners_servers_spawn_through_the_api_and_run_as_the_learners(hub):
    learners = [hub.user(k) for k in ("ann", "ben", "cat")]
    for learner in learners:
        learner.start()
    for learner in learners:
        learner.wait_ready()
        assert learner.get(f"/user/{learner.name}/api/status").status_code == 200
        owners = subprocess.run(["ps", "-ww", "-o", "user:32=,args=", "-u", learner.name],
                                capture_output=True, text=True).stdout
        assert "jupyterhub-singleuser" in owners  # the server runs as the learner, not root
    ann = learners[0]
    lab = ann.get(f"/user/{ann.name}/lab").text  # the grading tools are hidden from learners
    page = json.loads(lab.split('id="jupyter-config-data" type="application/json">')[1].split("</script>")[0])
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= set(page["disabledExtensions"])
    assert "@jupyter/nbgrader:assignment-list" not in page["disabledExtensions"]
    assert ann.get(f"/user/{ann.name}/formgrader").status_code == 404
    assert ann.get(f"/user/{ann.name}/assignments", params={"course_id": "tiny"}).status_code == 200
    ps = subprocess.run(["ps", "-ww", "-eo", "user:32=,args="], capture_output=True, text=True).stdout
    singleusers = [line.split()[0] for line in ps.splitlines() if "jupyterhub-singleuser" in line]
    assert "root" not in singleusers
    # ben reads English (participants.csv): his lab and his checks' feedback; ann gets the course's
    ann_env, ben_env = server_environment(hub.names["ann"]), server_environment(hub.names["ben"])
    assert ben_env["MATSURI_LANG"] == "en" and ann_env.get("MATSURI_LANG", "") == ""
    english = Path(hub.settings.jupyterhub.state_dir) / "jupyter-config-en"
    assert ben_env["JUPYTER_CONFIG_PATH"].split(":")[0] == str(english)
    assert str(english) not in ann_env["JUPYTER_CONFIG_PATH"]
    plugin = "lab/api/settings/@jupyterlab/translation-extension:plugin"
    locale = [learner.get(f"/user/{learner.name}/{plugin}").json()["schema"]["properties"]["locale"]["default"]
              for learner in learners[:2]]
    assert locale == ["ja_JP", "en"]  # ann, ben


def server_environment(user: str) -> dict[str, str]:
    """The environment of `user`'s jupyterhub-singleuser process (read as root)."""
    pid = subprocess.run(["pgrep", "-u", user, "-f", "jupyterhub-singleuser"], capture_output=True,
                         text=True).stdout.split()[0]
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(p.decode().split("=", 1) for p in pairs if b"=" in p)


def test_a_learner_is_refused_on_another_learners_server_and_cannot_read_their_files(hub):
    ann, ben = hub.user("ann"), hub.user("ben")
    ann.ensure_running()
    ben.ensure_running()
    note = {"type": "file", "format": "text", "content": "ben's private answer"}
    assert ben.api.put(f"{hub.base}/user/{ben.name}/api/contents/notes.txt", json=note, timeout=30).ok
    assert ann.get(f"/user/{ben.name}/api/contents/notes.txt").status_code == 403
    assert ann.get(f"/user/{ann.name}/api/contents/notes.txt").status_code == 404
    for path in (f"/home/{ben.name}/notes.txt", str(hub.holdout)):
        read = subprocess.run(["runuser", "-u", ann.name, "--", "cat", path], capture_output=True, text=True)
        assert read.returncode != 0 and "Permission denied" in read.stderr, path
    assert (Path(f"/home/{ben.name}/notes.txt").read_text()) == "ben's private answer"


def test_the_grader_account_cannot_log_in_with_the_shared_password(hub):
    """The grader is in the hub's database (a formgrader group member), not a participant."""
    web = requests.Session()
    web.get(f"{hub.base}/hub/login", timeout=10)
    answer = web.post(f"{hub.base}/hub/login?next=", allow_redirects=False, timeout=30,
                      data={"username": hub.settings.event.id + "-grader", "password": hub.password,
                            "_xsrf": web.cookies.get("_xsrf", "")})
    assert answer.status_code != 302


def test_a_learner_fetches_and_submits_and_the_instructor_collects_it_under_the_learners_name(hub):
    ivy, ann, jo = hub.user("ivy"), hub.user("ann"), hub.user("jo")
    course_dir = Path(json.loads((Path(hub.settings.jupyterhub.state_dir) / "hub.json").read_text())["course_dir"])
    tiny_assignment(course_dir / "source" / "hw1")
    grader = hub.settings.event.id + "-grader"
    subprocess.run(["chown", "-R", f"{grader}:{grader}", str(course_dir / "source")], check=True)
    formgrader = "/services/tiny/formgrader/api"
    deadline = time.monotonic() + 120
    while ivy.get(f"{formgrader}/assignments").status_code != 200:  # the service is still starting
        assert time.monotonic() < deadline, "the formgrader service did not come up"
        time.sleep(0.5)
    assert jo.get(f"{formgrader}/assignments").status_code == 403
    assert ann.get(f"{formgrader}/assignments").status_code == 403
    for step in ("assign", "release"):
        answer = ivy.post(f"{formgrader}/assignment/hw1/{step}")
        assert answer.ok and answer.json()["success"], answer.text

    ann.ensure_running()
    listed = ann.get(f"/user/{ann.name}/assignments", params={"course_id": "tiny"}).json()
    assert [a["assignment_id"] for a in listed["value"]] == ["hw1"]
    fetched = ann.post(f"/user/{ann.name}/assignments/fetch", data={"course_id": "tiny", "assignment_id": "hw1"})
    assert fetched.json()["success"]
    mine = f"/user/{ann.name}/api/contents/tiny/hw1/hw1.ipynb"
    # ben reads English: his server fetches the English copy `matsuri course release` puts beside
    # nbgrader's outbound/ (here laid by hand, as a bilingual lesson's would be); ann the course's
    state = json.loads((Path(hub.settings.jupyterhub.state_dir) / "hub.json").read_text())
    outbound = Path(state["exchange_dir"]) / "tiny" / "outbound" / "hw1"
    english = outbound.parent.parent / "outbound-by-language" / "en" / "hw1"
    shutil.copytree(outbound, english)
    (english / "read-me.txt").write_text("in English")
    for folder in (english, english.parent, english.parent.parent):
        folder.chmod(0o755)
    (english / "read-me.txt").chmod(0o644)
    ben = hub.user("ben")
    ben.ensure_running()
    assert ben.post(f"/user/{ben.name}/assignments/fetch", data={"course_id": "tiny", "assignment_id": "hw1"}).json()["success"]
    assert ben.get(f"/user/{ben.name}/api/contents/tiny/hw1/read-me.txt").json()["content"] == "in English"
    assert ann.get(f"/user/{ann.name}/api/contents/tiny/hw1/read-me.txt").status_code == 404
    notebook = ann.get(mine).json()["content"]
    assert "NotImplementedError" in "".join(notebook["cells"][0]["source"])  # the solution was removed
    notebook["cells"][0]["source"] = "def double(x):\n    return x + x"
    assert ann.api.put(hub.base + mine, json={"type": "notebook", "content": notebook}, timeout=30).ok
    submitted = ann.post(f"/user/{ann.name}/assignments/submit", data={"course_id": "tiny", "assignment_id": "hw1"})
    assert submitted.json()["success"], submitted.text

    assert ivy.post(f"{formgrader}/assignment/hw1/collect").json()["success"]
    assert (course_dir / "submitted" / ann.name / "hw1" / "hw1.ipynb").is_file()
    graded = ivy.post(f"{formgrader}/submission/hw1/{ann.name}/autograde").json()
    assert graded["success"], graded
    scores = {s["student"]: s["score"] for s in ivy.get(f"{formgrader}/submissions/hw1").json()}
    assert scores == {ann.name: 1.0}


def test_a_judge_opens_the_gallery_through_the_hub_login_and_a_learner_is_refused(hub):
    jo, ann = hub.user("jo"), hub.user("ann")
    page = jo.web.get(f"{hub.base}/services/gallery/", timeout=30)  # cookie login, OAuth redirects
    assert page.status_code == 200 and "Judges' gallery" in page.text
    assert jo.get("/services/gallery/").status_code == 200
    assert ann.web.get(f"{hub.base}/services/gallery/", timeout=30).status_code == 403
    assert ann.get("/services/gallery/").status_code == 403
    gate = f"127.0.0.1:{hub.settings.jupyterhub.gallery_port}"
    direct = requests.get(f"http://{gate}/services/gallery/", timeout=10, allow_redirects=False)
    assert direct.status_code == 302 and "/hub/api/oauth2/authorize" in direct.headers["Location"]  # no login

    async def talk(user: HubUser) -> str:
        from tornado import httpclient, websocket

        url = f"ws{hub.base.removeprefix('http')}/services/gallery/api/kernels/k1/channels"
        conn = await websocket.websocket_connect(httpclient.HTTPRequest(
            url, headers={"Authorization": f"token {user.token}"}))
        await conn.write_message("hello")
        answer = await conn.read_message()
        conn.close()
        return answer

    def run(coroutine):
        # A fresh thread has no event loop (Playwright's sync API may hold this one's).
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coroutine).result()

    assert run(talk(jo)) == "echo: hello"  # websockets (Voila's kernels) pass the gate
    with pytest.raises(Exception, match="403"):
        run(talk(ann))


def test_status_uses_a_read_only_token_and_lists_every_participant(hub):
    status_token = (Path(hub.settings.jupyterhub.state_dir) / "secrets" / "status-token").read_text().strip()
    who = requests.get(f"{hub.base}/hub/api/user", headers={"Authorization": f"token {status_token}"},
                       timeout=10).json()
    assert not any(s.startswith(("admin", "tokens", "delete", "servers")) for s in who["scopes"]), who["scopes"]
    refused = requests.post(f"{hub.base}/hub/api/users/{hub.names['ann']}/tokens",
                            headers={"Authorization": f"token {status_token}"}, json={}, timeout=10)
    assert refused.status_code == 403
    hub.user("ann").ensure_running()
    rows = {r.who: r for r in HubProvisioner(hub.settings, hub.people).status()}
    assert set(rows) == set(hub.names.values())
    assert rows[hub.names["ann"]].state == "running"
    assert rows[hub.names["ann"]].url.endswith(f"/user/{hub.names['ann']}/")


def test_an_idle_server_is_culled(hub):
    dan = hub.user("dan")
    deadline = hub.started["dan"] + CULL_SECONDS + 120
    while dan.server_running():
        assert time.monotonic() < deadline, "the idle server was never culled"
        time.sleep(1)
    assert time.monotonic() - hub.started["dan"] >= CULL_SECONDS  # not before it was idle long enough
    assert "idle-culler" in hub.log.read_text() and f"DELETE /hub/api/users/{dan.name}/server" in hub.log.read_text()


def test_apply_tolerates_a_taken_name_and_destroy_removes_only_the_event_accounts():
    """A separate small event (no hub needed), next to an account the event did not make."""
    event = f"t{secrets.token_hex(3)}"
    root = Path(tempfile.mkdtemp(prefix=f"matsuri-hub-{event}-"))
    foreign = f"{event}-zed"
    people = participants.parse(["username,email,role,team", f"{event}-amy,amy@example.com,learner,",
                                 f"{event}-bo,bo@example.com,judge,", f"{foreign},zed@example.com,learner,"])
    settings_file = root / "settings.toml"
    settings_file.write_text(f'[event]\nid = "{event}"\n[jupyterhub]\nstate_dir = "{root / "state"}"\n'
                             f'holdout = "{root / "none"}"\nwarehouse = "{root / "none"}"\n')
    try:
        subprocess.run(["useradd", "--create-home", foreign], check=True)
        report = HubProvisioner(settings.load(settings_file), people).apply(progress=False)
        assert [(o.action.name, "was not made by this event" in o.message) for o in report.failed] == [(foreign, True)]
        assert accounts.owner_of(f"{event}-amy") == event  # the others were made all the same
        Path(f"/home/{event}-amy/answer.sql").write_text("SELECT 1")
        run = run_matsuri(["infra", "destroy", "--target", "jupyterhub", "--settings", str(settings_file), "--yes"])
        for name in (f"{event}-amy", f"{event}-bo", f"{event}-grader", f"{event}-gallery"):
            assert accounts.owner_of(name) is None and f"removed account {name}" in run.out, name
        assert accounts.owner_of(foreign) == ""  # still there, untouched
        import tarfile

        with tarfile.open(root / "state" / "archive" / f"{event}-amy.tar.gz") as tar:
            assert f"{event}-amy/answer.sql" in tar.getnames()
        assert not accounts.group_exists(f"{event}-people")
        assert [p.name for p in (root / "state").iterdir()] == ["archive"]
        again = run_matsuri(["infra", "destroy", "--target", "jupyterhub", "--settings", str(settings_file), "--yes"])
        assert f"Nothing of event {event} to remove" in again.out
    finally:
        subprocess.run(["userdel", "--remove", foreign], capture_output=True)
        cleanup_accounts(event)
        shutil.rmtree(root, ignore_errors=True)
