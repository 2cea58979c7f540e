"""Does JupyterHub itself, started with the chart's own jupyterhub_config.py and the values Helm
renders into the hub's Secret, get the one-VM hub's roles, groups and least scopes, refuse to start
without the shared password, and offer the hackathon profile only to team members and instructors?

A subprocess plays the hub pod: the ConfigMap's and Secret's files laid out as the pod mounts them
(only their folder differs: z2jh's reads under /usr/local/etc/jupyterhub/ are pointed at it), the
hub container's environment resolved from the rendered Secrets, then `JupyterHub.initialize()` with
an SQLite database (no proxy, no cluster). KubeSpawner 7.0.0 (as in the chart's hub image) then
builds the pods it would ask Kubernetes for; its client is pointed at 127.0.0.1 and never used.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from test_k8s_chart import (
    K8S,
    NAMESPACE,
    REGISTRY,
    RELEASE,
    container_env,
    event_files,
    event_settings,
    find,
    helm_binary,
    merged_values,
    need_chart,
    people,
    pod_spec,
    rendered_festival,
    rendered_hub,
    secret_data,
)
from traitlets.config.loader import PyFileConfigLoader

from matsuri import paths
from matsuri.infra.hub.layout import HubLayout

MOUNT = "/usr/local/etc/jupyterhub/"
# Who the probe spawns, with which profile, and what a fake spawner's groups are.
PLAN = {
    "spawn": [["ann", "hackathon-team"], ["bob", "hackathon-team"], ["bob", "learner"], ["ivy", "hackathon-team"]],
    "fake_groups": {"learner": ["learners", "nbgrader-sql-101"], "team": ["learners", "team-red"],
                    "instructor": ["instructors"], "nobody": []},
    "logins": ["ann", "ivy", "matsuri-2027-grader", "mallory"],
}


# ------------------------------------------------------------------ the hub pod, laid out
def hub_pod_from_helm() -> tuple[dict[str, str], dict[str, str]]:
    """Files (path under the mount -> text) and environment of the hub pod Helm renders."""
    hub_docs, festival = rendered_hub(), rendered_festival()
    config = find(hub_docs, "ConfigMap", "hub")["data"]
    secret = secret_data(find(hub_docs, "Secret", "hub"))
    files = {f"config/{key}": text for key, text in config.items()}
    files |= {f"secret/{key}": text for key, text in secret.items()}
    files |= {"jupyterhub_config.py": config["jupyterhub_config.py"], "z2jh.py": config["z2jh.py"]}
    secrets_by_name = {d["metadata"]["name"]: secret_data(d) for d in (*hub_docs, *festival) if d["kind"] == "Secret"}
    env = {}
    for name, value in container_env(pod_spec(find(hub_docs, "Deployment", "hub"))["containers"][0]).items():
        if isinstance(value, str):
            env[name] = value
        elif "secretKeyRef" in value:
            ref = value["secretKeyRef"]  # a missing Secret would keep the pod from starting
            env[name] = secrets_by_name[ref["name"]][ref["key"]]
        elif value.get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
            env[name] = NAMESPACE
    for service in (d for d in hub_docs if d["kind"] == "Service"):  # what Kubernetes injects
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        env[f"{prefix}_SERVICE_PORT"] = str(service["spec"]["ports"][0]["port"])
    return files, env


def hub_pod_without_helm() -> tuple[dict[str, str], dict[str, str]]:
    """The same pod from the chart's files and the merged values, where no Helm binary is found."""
    chart = need_chart()
    hub_values, _ = event_files()
    values = {k: v for k, v in merged_values(K8S / "values.yaml", hub_values).items() if v is not None}
    values |= {"Chart": {"Name": "jupyterhub", "Version": "4.4.0", "AppVersion": "5.5.0"},
               "Release": {"Name": RELEASE, "Namespace": NAMESPACE, "Service": "Helm"}}
    files = {f"config/{key}": key for key in ("hub", "proxy-api", "proxy-public", "singleuser",
                                              "user-scheduler", "image-pull-secret", "priority")}
    for name in ("jupyterhub_config.py", "z2jh.py"):
        files[name] = files[f"config/{name}"] = (chart / "files" / "hub" / name).read_text()
    files["secret/values.yaml"] = yaml.safe_dump(values)
    for key in [f"hub.services.{s}.apiToken" for s in values["hub"]["services"]] + [
            "hub.config.ConfigurableHTTPProxy.auth_token", "hub.config.JupyterHub.cookie_secret",
            "hub.config.CryptKeeper.keys"]:
        files[f"secret/{key}"] = secrets.token_hex(32)
    env = {"PYTHONUNBUFFERED": "1", "HELM_RELEASE_NAME": RELEASE, "POD_NAMESPACE": NAMESPACE,
           "CONFIGPROXY_AUTH_TOKEN": files["secret/hub.config.ConfigurableHTTPProxy.auth_token"],
           "MATSURI_SHARED_PASSWORD": secrets.token_urlsafe(15),
           "HUB_SERVICE_PORT": "8081", "PROXY_API_SERVICE_PORT": "8001"}
    return files, env


def run_probe(folder: Path, files: dict[str, str], env: dict[str, str]) -> subprocess.CompletedProcess:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (folder / "plan.json").write_text(json.dumps(PLAN | {"tokens": {
        name.split(".")[2]: text for name, text in files.items() if name.endswith(".apiToken")}}))
    (folder / "kubeconfig").write_text(yaml.safe_dump({  # a cluster that is never contacted
        "apiVersion": "v1", "kind": "Config", "current-context": "none",
        "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "none", "user": {"token": "unused"}}],
        "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}]}))
    env = env | {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder),
                 "KUBECONFIG": str(folder / "kubeconfig")}
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_k8s_hub; test_k8s_hub.probe()"
    return subprocess.run([sys.executable, "-c", code, str(folder)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)


def probe() -> None:
    """In the subprocess: become the hub pod, initialise JupyterHub, write what it made to result.json."""
    import asyncio
    import builtins
    import types

    folder = Path(sys.argv[1])

    def moved(path):
        path = str(path)
        return str(folder / path[len(MOUNT):]) if path.startswith(MOUNT) else path

    sys.path.insert(0, str(folder))
    import z2jh  # the chart's own module, its file paths pointed at this folder

    z2jh.open = lambda path, *args, **kwargs: builtins.open(moved(path), *args, **kwargs)
    z2jh.os = types.SimpleNamespace(environ=os.environ,
                                    path=types.SimpleNamespace(exists=lambda path: os.path.exists(moved(path))))
    plan = json.loads((folder / "plan.json").read_text())
    result = asyncio.run(_initialise_hub(folder, plan))
    (folder / "result.json").write_text(json.dumps(result, default=str))
    os._exit(0)  # no teardown of clients that never connected


async def _initialise_hub(folder: Path, plan: dict) -> dict:
    from types import SimpleNamespace

    from jupyterhub import orm, scopes
    from jupyterhub.app import JupyterHub
    from jupyterhub.utils import maybe_future

    app = JupyterHub()
    await app.initialize(["-f", str(folder / "jupyterhub_config.py")])
    db = app.db
    out: dict = {
        "spawner_class": f"{app.spawner_class.__module__}.{app.spawner_class.__name__}",
        "authenticator": type(app.authenticator).__name__,
        "password_from_secret": app.authenticator.user_password == os.environ["MATSURI_SHARED_PASSWORD"],
        "allowed_users": sorted(app.authenticator.allowed_users),
        "roles": {r.name: {"scopes": sorted(r.scopes), "groups": sorted(g.name for g in r.groups),
                           "services": sorted(s.name for s in r.services)} for r in db.query(orm.Role)},
        "service_scopes": {s.name: sorted(scopes.get_scopes_for(s)) for s in db.query(orm.Service)},
        "service_urls": {name: service.url for name, service in app._service_map.items()},
        "service_commands": {name: service.command for name, service in app._service_map.items()},
        "tokens": {},
        "groups": {g.name: sorted(u.name for u in g.users) for g in db.query(orm.Group)},
    }
    password = os.environ["MATSURI_SHARED_PASSWORD"]
    out["logins"] = {}
    for name in plan["logins"]:  # the login form's check, with the right password and a wrong one
        right = await app.authenticator.get_authenticated_user(None, {"username": name, "password": password})
        wrong = await app.authenticator.get_authenticated_user(None, {"username": name, "password": "x" + password})
        out["logins"][name] = [bool(right), bool(wrong)]
    for name, token in plan["tokens"].items():
        found = orm.APIToken.find(db, token)
        out["tokens"][name] = found.service.name if found is not None and found.service else None
    profile_list = app.config.KubeSpawner.profile_list
    out["fake_profiles"] = {}
    for who, groups in plan["fake_groups"].items():
        fake = SimpleNamespace(user=SimpleNamespace(name=who, groups=[SimpleNamespace(name=g) for g in groups]))
        out["fake_profiles"][who] = [p["slug"] for p in await maybe_future(profile_list(fake))]
    out["spawns"] = []
    for name, profile in plan["spawn"]:
        user = app.users[orm.User.find(db, name)]
        spawner = user.spawner
        form = await maybe_future(spawner.get_options_form())
        spawner.user_options = {"profile": profile}
        record = {"user": name, "profile": profile, "form": form}
        try:
            await spawner.load_user_options()
        except ValueError as refused:
            record["refused"] = str(refused)
        else:
            client = spawner.api.api_client
            record["pod"] = client.sanitize_for_serialization(await spawner.get_pod_manifest())
            record["pvc"] = client.sanitize_for_serialization(spawner.get_pvc_manifest())
        out["spawns"].append(record)
        user.spawners.pop("")  # a fresh spawner for the next profile
    return out


# ------------------------------------------------------------------ tests
@pytest.fixture(scope="module")
def hub_pod():
    return hub_pod_from_helm() if helm_binary() else hub_pod_without_helm()


@pytest.fixture(scope="module")
def hub(hub_pod, tmp_path_factory):
    files, env = hub_pod
    folder = tmp_path_factory.mktemp("hub-pod")
    run = run_probe(folder, files, env)
    assert run.returncode == 0 and (folder / "result.json").is_file(), run.stderr[-3000:]
    return json.loads((folder / "result.json").read_text())


@pytest.fixture(scope="module")
def one_vm_config(tmp_path_factory):
    """The one-VM hub's config for the same participants, as JupyterHub loads it."""
    state = tmp_path_factory.mktemp("one-vm")
    event = event_settings().replace("jupyterhub", state_dir=str(state))
    layout = HubLayout(event, people())
    layout.secrets.mkdir()
    layout.password_file.write_text("a-shared-password\n")
    layout.status_token_file.write_text("a-status-token\n")
    layout.hub_json.write_text(layout.hub_json_text())
    before = os.environ.get("MATSURI_HUB_SETTINGS")
    os.environ["MATSURI_HUB_SETTINGS"] = str(layout.hub_json)
    try:
        folder = paths.project_root() / "infra" / "jupyterhub"
        return PyFileConfigLoader("jupyterhub_config.py", path=str(folder)).load_config()
    finally:
        if before is None:
            os.environ.pop("MATSURI_HUB_SETTINGS")
        else:
            os.environ["MATSURI_HUB_SETTINGS"] = before


def test_jupyterhub_gets_the_one_vm_roles_and_groups_from_the_charts_config(hub, one_vm_config):
    c = one_vm_config
    assert hub["spawner_class"] == "kubespawner.spawner.KubeSpawner"
    vm_roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    vm_roles["jupyterhub-idle-culler"] = vm_roles.pop("idle-culler")  # the chart's own culler
    for name, role in vm_roles.items():
        got = hub["roles"][name]
        assert got["scopes"] == sorted(role["scopes"]), name
        assert got["groups"] == sorted(role.get("groups", [])), name
        if name == "jupyterhub-idle-culler":
            assert got["services"] == ["jupyterhub-idle-culler"]
        else:
            assert got["services"] == sorted(role.get("services", [])), name
    assert hub["groups"] == {name: sorted(g["users"]) for name, g in c.JupyterHub.load_groups.items()}
    assert hub["allowed_users"] == sorted(c.Authenticator.allowed_users)  # participants only
    assert hub["authenticator"] == "SharedPasswordAuthenticator" and hub["password_from_secret"]


def test_only_participants_sign_in_with_the_shared_password(hub):
    """Not the grader account load_groups makes, not a stranger, and never with a wrong password."""
    assert hub["logins"] == {"ann": [True, False], "ivy": [True, False],
                             "matsuri-2027-grader": [False, False], "mallory": [False, False]}


def test_each_service_holds_only_its_scopes_and_its_token_is_the_charts(hub):
    """What JupyterHub grants each service, expanded: exactly the one-VM least scopes, no more."""
    from jupyterhub.scopes import expand_scopes

    declared = {
        "sql-101": {"list:users", "read:users:name", "read:users:groups", "read:groups"},
        "matsuri-status": {"list:users", "read:users:name", "read:users:activity", "read:servers"},
        "jupyterhub-idle-culler": {"list:users", "read:users:activity", "read:servers", "delete:servers"},
        "gallery": set(),  # the gate only checks who comes in, with its own token
    }
    assert {name: sorted(expand_scopes(scopes)) for name, scopes in declared.items()} == hub["service_scopes"]
    assert hub["tokens"] == {"sql-101": "sql-101", "gallery": "gallery", "matsuri-status": "matsuri-status"}
    assert hub["service_urls"]["sql-101"] == "http://formgrader-sql-101:8888"
    assert hub["service_urls"]["gallery"] == "http://matsuri-gallery:8000"
    assert hub["service_commands"]["sql-101"] == [] and hub["service_commands"]["gallery"] == []  # Deployments


def test_the_profile_callable_offers_the_hackathon_profile_to_team_members_and_instructors_only(hub):
    assert hub["fake_profiles"] == {"learner": ["learner"], "team": ["learner", "hackathon-team"],
                                    "instructor": ["learner", "hackathon-team"], "nobody": ["learner"]}
    spawns = {(s["user"], s["profile"]): s for s in hub["spawns"]}
    assert "Hackathon team" in spawns["ann", "hackathon-team"]["form"]      # ann is in team-red
    assert "Hackathon team" not in spawns["bob", "hackathon-team"]["form"]  # bob is in no team
    assert "No such profile: hackathon-team" in spawns["bob", "hackathon-team"]["refused"]
    assert "refused" not in spawns["ivy", "hackathon-team"]                 # instructors may
    big = spawns["ann", "hackathon-team"]["pod"]["spec"]["containers"][0]["resources"]["limits"]
    small = spawns["bob", "learner"]["pod"]["spec"]["containers"][0]["resources"]["limits"]
    assert (big["cpu"], big["memory"], small["cpu"], small["memory"]) == (2, 8 * 2**30, 1, 4 * 2**30)


def test_a_learners_pod_runs_the_registry_image_as_jovyan_at_home_with_the_shared_volumes(hub):
    record = next(s for s in hub["spawns"] if s["user"] == "bob" and s["profile"] == "learner")
    pod, pvc = record["pod"], record["pvc"]
    spec, container = pod["spec"], pod["spec"]["containers"][0]
    assert container["image"] == f"{REGISTRY}/matsuri-singleuser:{event_settings().event.kit_version}"
    assert pod["metadata"]["labels"]["hub.jupyter.org/network-access-hub"] == "true"
    assert container["securityContext"]["runAsUser"] == 1000 and spec["securityContext"]["fsGroup"] == 100
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["JUPYTERHUB_USER"] == "bob" and env["JUPYTERHUB_ROOT_DIR"] == "/home/jovyan"
    assert env["MATSURI_WAREHOUSE"] == "/srv/matsuri/warehouse/company.duckdb"
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    home = volumes[mounts["/home/jovyan"]["name"]]["persistentVolumeClaim"]["claimName"]
    assert home == pvc["metadata"]["name"] and pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"
    exchange = volumes[mounts["/srv/nbgrader/exchange"]["name"]]["persistentVolumeClaim"]
    assert exchange["claimName"] == "nbgrader-exchange"
    warehouse = mounts["/srv/matsuri/warehouse"]
    assert warehouse["readOnly"] is True
    assert volumes[warehouse["name"]]["persistentVolumeClaim"] == {"claimName": "matsuri-warehouse", "readOnly": True}
    assert "/etc/matsuri/jupyter-config/nbgrader_config.py" in mounts  # the chart's extraFiles


def test_each_participants_pod_gets_their_language_as_on_one_vm(hub, one_vm_config):
    """bob reads English (participants.csv): his pod's feedback, fetched lessons and JupyterLab
    are in English; ann gets the course's language and the Japanese lab defaults."""
    pods = {s["user"]: s["pod"] for s in hub["spawns"] if "pod" in s}
    env = {user: {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
           for user, pod in pods.items()}
    assert env["bob"]["MATSURI_LANG"] == "en" and env["ann"]["MATSURI_LANG"] == ""
    assert env["bob"]["JUPYTER_CONFIG_PATH"] == "/etc/matsuri/jupyter-config-en:/etc/matsuri/jupyter-config"
    assert env["ann"]["JUPYTER_CONFIG_PATH"] == "/etc/matsuri/jupyter-config"
    mounts = {m["mountPath"] for m in pods["bob"]["spec"]["containers"][0]["volumeMounts"]}
    assert "/etc/matsuri/jupyter-config-en/labconfig/default_setting_overrides.json" in mounts
    one_vm = one_vm_config.Spawner.environment  # the same rule on one VM
    bob, ann = (SimpleNamespace(user=SimpleNamespace(name=n)) for n in ("bob", "ann"))
    assert (one_vm["MATSURI_LANG"](bob), one_vm["MATSURI_LANG"](ann)) == ("en", "")
    assert one_vm["JUPYTER_CONFIG_PATH"](bob).split(":")[0].endswith("jupyter-config-en")


def test_the_hub_refuses_to_start_without_the_shared_password(hub_pod, tmp_path):
    files, env = hub_pod
    env = {k: v for k, v in env.items() if k != "MATSURI_SHARED_PASSWORD"}
    run = run_probe(tmp_path, files, env)
    assert run.returncode != 0 and not (tmp_path / "result.json").exists()
    assert "FATAL: no shared password" in run.stderr  # (a short one is refused by the festival chart)


def test_without_helm_the_hub_pod_is_laid_out_as_helm_lays_it_out():
    """The fallback above matches what Helm renders (checked where Helm is available)."""
    if helm_binary() is None:
        pytest.skip("no Helm binary to compare with (the hub tests used the fallback)")
    with_helm, _ = hub_pod_from_helm()
    without, _ = hub_pod_without_helm()
    assert yaml.safe_load(with_helm["secret/values.yaml"]) == yaml.safe_load(without["secret/values.yaml"])
    assert set(without) <= set(with_helm)
    for key in ("jupyterhub_config.py", "z2jh.py", "config/hub", "config/proxy-api", "config/singleuser"):
        assert with_helm[key] == without[key], key
