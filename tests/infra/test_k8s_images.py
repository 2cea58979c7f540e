"""Do the images the Kubernetes values name exist in the repository, built the way `make up` installs
the kit (the pins of pyproject.toml), with the single-user server running as jovyan?

No Docker engine or registry is reachable here: the Dockerfile is read, not built.
"""

from __future__ import annotations

import re
import tomllib

import yaml
from test_k8s_chart import K8S, event_values_module, load_yaml

from matsuri import paths

ROOT = paths.project_root()
DOCKERFILE = ROOT / "infra" / "images" / "Dockerfile"
IGNORE = ROOT / "infra" / "images" / "Dockerfile.dockerignore"


def stages() -> dict[str, list[str]]:
    """Instructions per build stage (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if match:
            current = match.group(2) or match.group(1)
            found[current] = [line]
        elif current:
            found[current].append(line)
    return found


def test_two_targets_share_one_base_with_the_kit_installed_as_pinned():
    found = stages()
    assert set(found) == {"base", "singleuser", "kit"}
    assert found["singleuser"][0].split()[1] == found["kit"][0].split()[1] == "base"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11-slim-bookworm", DOCKERFILE.read_text())  # Debian 12
    base = "\n".join(found["base"])
    # pyproject's pins with the hub extra, installed by setup.sh (tests/infra/test_images.py)
    assert "RUN MATSURI_SETUP=image-singleuser VENV=/opt/venv bash /opt/matsuri/scripts/setup.sh" in base
    assert any(r.startswith("jupyterhub==") for r in project["optional-dependencies"]["hub"])
    assert "PLOOMBER_STATS_ENABLED=false" in base and "PATH=/opt/venv/bin:$PATH" in base
    for folder in ("courses", "datasets", "hackathon", "templates"):  # MATSURI_HOME's content
        assert f"COPY {folder} /opt/matsuri/{folder}" in base


def test_the_single_user_image_runs_jupyterhub_singleuser_as_jovyan_with_the_values_uid():
    single = stages()["singleuser"]
    values = load_yaml(K8S / "values.yaml")["singleuser"]
    useradd = next(line for line in single if "useradd" in line)
    assert f"--uid {values['uid']}" in useradd and f"--gid {values['fsGid']}" in useradd and useradd.endswith("jovyan")
    assert "USER jovyan" in single and "WORKDIR /home/jovyan" in single
    assert values["storage"]["homeMountPath"] == "/home/jovyan"
    assert single[-1] == f'CMD ["{values["cmd"]}"]'


def test_the_kit_image_has_the_sandbox_tools_setup_sh_installs():
    kit = "\n".join(stages()["kit"])
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    apt = re.search(r'image-kit\)\s*apt_packages="([^"]+)"', setup).group(1).split()
    assert "MATSURI_SETUP=image-kit" in kit
    for package in ("bubblewrap", "util-linux", "acl"):
        assert package in apt, package
    assert "USER" not in kit  # root: the sandbox makes cgroups and switches users


def test_the_build_context_keeps_out_built_data_keys_and_the_holdout_store():
    lines = [line.strip() for line in IGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "*"  # nothing unless listed
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = {m.group(1) for m in re.finditer(r"^COPY (\S+)", DOCKERFILE.read_text(), re.MULTILINE)}
    assert copied <= allowed | {"pyproject.toml", "README.md"}
    assert {"**/build", "datasets/build"} <= set(lines)  # courses/build holds grading keys; datasets/build the labels
    assert not allowed & {"infra", ".venv", "event", "benchmarks"}


def test_the_values_and_the_festival_chart_name_the_images_the_readme_builds():
    ev = event_values_module()
    readme = (ROOT / "infra" / "README.md").read_text()
    for target, image in (("singleuser", ev.SINGLEUSER_IMAGE), ("kit", ev.KIT_IMAGE)):
        assert f"--target {target} -t $REGISTRY/{image}:$VERSION" in readme, target
    festival = yaml.safe_load((K8S / "festival" / "values.yaml").read_text())["image"]
    assert (festival["singleuser"], festival["kit"]) == (ev.SINGLEUSER_IMAGE, ev.KIT_IMAGE)
    assert load_yaml(K8S / "values.yaml")["singleuser"]["image"]["name"].endswith("/" + ev.SINGLEUSER_IMAGE)
    formgrader = (K8S / "festival" / "templates" / "formgrader.yaml").read_text()
    assert "/opt/matsuri/courses/{{ $course }}/source" in formgrader  # what the base stage copies
    gallery = (K8S / "festival" / "templates" / "gallery.yaml").read_text()
    assert "/opt/matsuri/hackathon/." in gallery
