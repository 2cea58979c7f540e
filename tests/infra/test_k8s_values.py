"""Do the Kubernetes values carry the same settings as the one-VM hub, does each service hold only
the scopes it needs, and does the real chart's schema (4.4.0, draft 7) accept them merged over its
defaults, as Helm validates them? (No Helm needed here: test_k8s_chart.py runs Helm itself.)"""

from __future__ import annotations

import json
from pathlib import PurePosixPath

import pytest
import yaml
from test_k8s_chart import (
    K8S,
    event_files,
    event_settings,
    event_values_module,
    load_yaml,
    merged_values,
    schema_errors,
    user_merge,
    user_values,
)
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
def values(tmp_path):
    """What the hub release gets: values.yaml, then the event's file event_values.py writes."""
    event = event_values_module().hub_values(settings.load(), participants.parse(PEOPLE.splitlines()),
                                             "registry.test.internal/fest")
    (tmp_path / "hub-values.yaml").write_text(yaml.safe_dump(event))
    return user_values(K8S / "values.yaml", tmp_path / "hub-values.yaml")


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
    assert c.JupyterHub.load_groups == values["hub"]["config"]["JupyterHub"]["load_groups"]  # teams too
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
    home = PurePosixPath(values["hub"]["config"]["Spawner"]["notebook_dir"])  # the chart has no notebookDir
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


def test_english_readers_lab_defaults_are_the_one_vms(one_vm, values):
    _, layout, _ = one_vm
    english = values["singleuser"]["extraFiles"]["lab-defaults-en"]
    assert english["data"] == json.loads(layout.english_defaults())
    assert english["mountPath"] == "/etc/matsuri/jupyter-config-en/labconfig/default_setting_overrides.json"


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


# ------------------------------------------------------------------ the chart's schema
def test_the_values_merged_over_the_chart_defaults_pass_its_schema():
    hub_values, _ = event_files()
    assert schema_errors(merged_values(K8S / "values.yaml")) == []
    assert schema_errors(merged_values(K8S / "values.yaml", hub_values)) == []


def test_the_schema_refuses_keys_the_chart_does_not_have():
    """The mistakes the issue found: hub.loadGroups, singleuser.notebookDir; and a typo'd class."""
    values = merged_values(K8S / "values.yaml")
    wrong = user_merge(values, {"hub": {"loadGroups": {"learners": {"users": []}}},
                                "singleuser": {"notebookDir": "/home/jovyan", "image": {"tag": 1}},
                                "cull": {"timeout": "an hour"}})
    errors = "\n".join(schema_errors(wrong))
    assert "/hub: Additional properties are not allowed ('loadGroups' was unexpected)" in errors
    assert "'notebookDir' was unexpected" in errors
    assert "/singleuser/image/tag: 1 is not of type 'string'" in errors
    assert "/cull/timeout" in errors
    lower = user_merge(values, {"hub": {"config": {"loadRoles": {}}}})  # a section must be a class name
    assert any(e.startswith("/hub/config") for e in schema_errors(lower))


def test_no_secret_is_written_in_the_values():
    text = (K8S / "values.yaml").read_text() + event_files()[0].read_text()
    values = user_values(K8S / "values.yaml", event_files()[0])
    assert set(values["hub"]["services"]) == {"sql-101", "gallery", "matsuri-status"}
    for name, service in values["hub"]["services"].items():
        assert not {"api_token", "apiToken"} & set(service), name  # the chart generates them
    assert "user_password" not in json.dumps(values["hub"]["config"])
    assert "MATSURI_SHARED_PASSWORD" in values["hub"]["extraEnv"]  # read from the festival's Secret
    assert not any(word in text for word in ("set-with-helm", "changeme", "password:"))


# ------------------------------------------------------------------ one event's values
def test_event_values_give_the_groups_the_one_vm_hub_gives(one_vm):
    event, _, c = one_vm
    ev = event_values_module()
    hub = ev.hub_values(event, participants.parse(PEOPLE.splitlines()), "registry.test.internal/fest")
    assert hub["hub"]["config"]["JupyterHub"]["load_groups"] == c.JupyterHub.load_groups
    assert set(hub["hub"]["config"]["Authenticator"]["allowed_users"]) == c.Authenticator.allowed_users
    assert hub["singleuser"]["image"] == {"name": "registry.test.internal/fest/matsuri-singleuser",
                                          "tag": event.event.kit_version}


def test_event_values_for_another_course_give_that_courses_service_roles_and_groups():
    hub_values, festival_values = event_files("tiny")
    merged = merged_values(K8S / "values.yaml", hub_values)
    assert schema_errors(merged) == []
    hub = merged["hub"]
    assert set(hub["services"]) == {"tiny", "gallery", "matsuri-status"}
    assert hub["services"]["tiny"]["url"] == "http://formgrader-tiny:8888"
    assert hub["loadRoles"]["grader-tiny"] == {"services": ["tiny"], "scopes": [
        "list:users", "read:users:name", "read:users:groups", "read:groups"]}
    assert hub["loadRoles"]["formgrade-tiny"]["scopes"] == ["access:services!service=tiny"]
    assert {"nbgrader-tiny", "formgrade-tiny"} <= set(hub["config"]["JupyterHub"]["load_groups"])
    assert "sql-101" not in json.dumps(hub)
    assert load_yaml(festival_values)["course"] == "tiny"


def test_event_values_refuse_a_placeholder_registry_and_write_both_files(tmp_path):
    ev = event_values_module()
    csv = tmp_path / "participants.csv"
    csv.write_text(PEOPLE)
    assert ev.main(["--participants", str(csv), "--registry", "registry.example.invalid",
                    "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()
    assert ev.main(["--participants", str(csv), "--registry", "Registry.Corp/x", "--out", str(tmp_path / "o")]) == 2
    assert ev.main(["--participants", str(csv), "--registry", "registry.corp.jp/fest/",
                    "--out", str(tmp_path / "out")]) == 0
    festival = load_yaml(tmp_path / "out" / "festival-values.yaml")
    assert festival["image"]["registry"] == "registry.corp.jp/fest" and festival["event"] == event_settings().event.id
    assert load_yaml(tmp_path / "out" / "hub-values.yaml")["hub"]["config"]["Authenticator"]["allowed_users"] == \
        sorted(p.username for p in participants.parse(PEOPLE.splitlines()))


def test_profiles_are_data_the_hub_reads_and_only_the_hackathon_one_is_restricted():
    values = load_yaml(K8S / "values.yaml")
    profiles = values["custom"]["matsuri"]["profiles"]
    assert [p["slug"] for p in profiles if p.get("default")] == ["learner"]
    assert [(p["slug"], p.get("groups")) for p in profiles] == [
        ("learner", None), ("hackathon-team", ["team-*", "instructors"])]
    assert "profileList" not in values["singleuser"]  # the callable in hub.extraConfig decides
    assert "c.KubeSpawner.profile_list = matsuri_profile_list" in values["hub"]["extraConfig"]["matsuri"]
