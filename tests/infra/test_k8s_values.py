"""Do the Kubernetes values carry the same settings as the one-VM hub, and does each service hold
only the scopes it needs?"""

from __future__ import annotations

import json
from pathlib import PurePosixPath

import pytest
import yaml
from traitlets.config.loader import PyFileConfigLoader

from matsuri import paths
from matsuri.infra import participants, settings
from matsuri.infra.hub.layout import HubLayout

PEOPLE = """username,email,role,team
ann,ann@example.com,learner,red
ivy,ivy@example.com,instructor,
jo,jo@example.com,judge,
"""
ADMIN_SCOPES = ("admin:", "admin-ui", "tokens", "servers", "groups")  # "servers" = start/stop anyone's


@pytest.fixture
def one_vm(tmp_path, monkeypatch):
    """The one-VM hub's config as JupyterHub loads it, from the repo's settings.toml."""
    event = settings.load()
    event = event.replace("jupyterhub", state_dir=str(tmp_path))
    layout = HubLayout(event, participants.parse(PEOPLE.splitlines()))
    layout.secrets.mkdir()
    layout.password_file.write_text("a-shared-password\n")
    layout.status_token_file.write_text("a-status-token\n")
    layout.hub_json.write_text(layout.hub_json_text())
    monkeypatch.setenv("MATSURI_HUB_SETTINGS", str(layout.hub_json))
    folder = paths.project_root() / "infra" / "jupyterhub"
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(folder)).load_config()
    return event, layout, config


@pytest.fixture
def values():
    return yaml.safe_load((paths.project_root() / "infra" / "jupyterhub" / "k8s" / "values.yaml").read_text())


def test_roles_and_scopes_are_the_same_on_one_vm_and_on_kubernetes(one_vm, values):
    _, _, c = one_vm
    vm_roles = {r["name"]: r for r in c.JupyterHub.load_roles if r["name"] != "idle-culler"}
    k8s_roles = values["hub"]["loadRoles"]
    assert set(vm_roles) == set(k8s_roles)  # the chart brings its own culler role
    for name, role in vm_roles.items():
        assert sorted(role["scopes"]) == sorted(k8s_roles[name]["scopes"]), name
        for key in ("groups", "services"):
            assert sorted(role.get(key, [])) == sorted(k8s_roles[name].get(key, [])), (name, key)
    assert values["hub"]["config"]["Spawner"]["server_token_scopes"] == list(c.Spawner.server_token_scopes)


def test_groups_services_and_authenticator_match(one_vm, values):
    event, _, c = one_vm
    assert set(c.JupyterHub.load_groups) - {g for g in c.JupyterHub.load_groups if g.startswith("team-")} \
        == set(values["hub"]["loadGroups"])
    vm_services = {s["name"] for s in c.JupyterHub.services} - {"idle-culler"}
    assert vm_services == set(values["hub"]["services"])
    assert event.event.course in vm_services
    assert c.JupyterHub.authenticator_class == values["hub"]["config"]["JupyterHub"]["authenticator_class"]


def test_culling_limits_and_environment_match(one_vm, values):
    event, layout, c = one_vm
    culler = next(s for s in c.JupyterHub.services if s["name"] == "idle-culler")["command"]
    assert f"--timeout={values['cull']['timeout']}" in culler
    assert f"--cull-every={values['cull']['every']}" in culler
    single = values["singleuser"]
    assert c.Spawner.default_url == single["defaultUrl"]
    assert c.Spawner.mem_limit == single["memory"]["limit"] == "4G"
    assert c.Spawner.cpu_limit == single["cpu"]["limit"]
    for key in ("PLOOMBER_STATS_ENABLED", "MATSURI_WAREHOUSE", "JUPYTER_CONFIG_PATH", "JUPYTERHUB_ACTIVITY_INTERVAL"):
        assert key in c.Spawner.environment and key in single["extraEnv"], key
    assert single["extraEnv"]["JUPYTERHUB_ACTIVITY_INTERVAL"] == c.Spawner.environment["JUPYTERHUB_ACTIVITY_INTERVAL"]
    assert single["image"]["tag"] == event.event.kit_version


def test_each_participants_server_is_rooted_at_their_own_home(one_vm, values):
    """Never the project nor a shared folder: on one VM the account's private home, on Kubernetes
    the pod's own volume (set explicitly: an image's WORKDIR could be the kit's checkout)."""
    _, _, c = one_vm
    assert c.Spawner.notebook_dir == "~"  # JupyterHub expands it to the participant's home
    single = values["singleuser"]
    home = PurePosixPath(single["notebookDir"])
    assert home == PurePosixPath(single["storage"]["homeMountPath"]) == PurePosixPath("/home/jovyan")
    for mount in single["storage"]["extraVolumeMounts"]:  # the exchange, the warehouse
        shared = PurePosixPath(mount["mountPath"])
        assert not shared.is_relative_to(home) and not home.is_relative_to(shared), shared


def test_nbgrader_is_set_up_the_same_way(one_vm, values):
    _, layout, _ = one_vm
    k8s = values["singleuser"]["extraFiles"]["nbgrader-config"]
    vm_lines = {line for line in layout.nbgrader_global().splitlines() if line.startswith("c.") and "root" not in line}
    assert vm_lines <= set(k8s["stringData"].splitlines())
    mounts = {m["mountPath"] for m in values["singleuser"]["storage"]["extraVolumeMounts"]}
    assert "/srv/nbgrader/exchange" in mounts and "c.Exchange.root = '/srv/nbgrader/exchange'" in k8s["stringData"]
    assert k8s["mountPath"].startswith(values["singleuser"]["extraEnv"]["JUPYTER_CONFIG_PATH"])


def test_participants_servers_hide_the_grading_tools_the_same_way(one_vm, values):
    _, layout, _ = one_vm
    files = values["singleuser"]["extraFiles"]
    assert files["lab-page-config"]["data"] == json.loads(layout.lab_page_config())
    assert files["server-config"]["data"] == json.loads(layout.server_config())
    assert files["lab-page-config"]["mountPath"].endswith("labconfig/page_config.json")


def test_services_hold_only_the_scopes_they_need_and_servers_never_run_as_root(one_vm):
    _, _, c = one_vm
    for role in c.JupyterHub.load_roles:
        if role.get("services"):
            for scope in role["scopes"]:
                assert not scope.startswith(ADMIN_SCOPES), (role["name"], scope)  # could mint tokens or act as anyone
    culler = next(r for r in c.JupyterHub.load_roles if r["name"] == "idle-culler")
    assert sorted(culler["scopes"]) == ["delete:servers", "list:users", "read:servers", "read:users:activity"]
    assert c.JupyterHub.spawner_class.endswith("LocalProcessSpawner")
    assert not any("allow-root" in part or "allow_root" in part for part in c.Spawner.cmd)
    assert c.Authenticator.admin_users == set()
