"""Do the images install everything through scripts/setup.sh, the script `make up` runs, with the
profile of each target, on the Python the pins were measured on?

No Docker engine or registry is reachable here: the Dockerfile and its .dockerignore are read, and
setup.sh is run in its dry-run mode (it prints its commands and changes nothing).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "infra" / "images" / "Dockerfile"
IGNORE = ROOT / "infra" / "images" / "Dockerfile.dockerignore"
SETUP = ROOT / "scripts" / "setup.sh"
PROFILES = {"singleuser": "image-singleuser", "kit": "image-kit"}
FONTS = {"fonts-noto-cjk", "fonts-noto-color-emoji"}
SANDBOX_TOOLS = {"bubblewrap", "util-linux", "acl", "passwd"}
# the only form a RUN step may take to install something
SETUP_RUN = re.compile(r"MATSURI_SETUP=(?P<profile>\S+) VENV=(?P<venv>\S+) bash /opt/matsuri/scripts/setup\.sh")
INSTALLER = re.compile(
    r"(?<![\w-])(pip3?|pipx|uv|apt|apt-get|aptitude|dpkg|npm|npx|yarn|conda|mamba|micromamba"
    r"|easy_install|curl|wget)(?![\w-])|-m\s+(pip|venv|ensurepip)\b"
)


@dataclass
class Stage:
    name: str
    parent: str
    steps: list[tuple[str, str]] = field(default_factory=list)  # (instruction, its arguments)


def parse(text: str) -> dict[str, Stage]:
    """Build stages of a Dockerfile: instructions with their continuation lines joined."""
    text = re.sub(r"\\\n", " ", text)
    stages: dict[str, Stage] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), " ".join(args.split())
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args, re.IGNORECASE)
            current = Stage(match.group(2) or match.group(1), match.group(1))
            stages[current.name] = current
        elif current is not None:
            current.steps.append((keyword, args))
    return stages


def chain(stages: dict[str, Stage], target: str) -> list[tuple[str, str]]:
    """Every step a target's image is made of, from its first base stage on."""
    stage = stages[target]
    inherited = chain(stages, stage.parent) if stage.parent in stages else []
    return inherited + stage.steps


def installs_outside_setup(stages: dict[str, Stage]) -> list[str]:
    """RUN steps that install something other than by one plain run of setup.sh, and any ADD."""
    found = []
    for stage in stages.values():
        for keyword, args in stage.steps:
            if keyword == "ADD" or (keyword == "RUN" and not SETUP_RUN.fullmatch(args) and INSTALLER.search(args)):
                found.append(f"{keyword} {args}")
    return found


def setup_profiles(steps: list[tuple[str, str]]) -> list[str]:
    return [m.group("profile") for keyword, args in steps if keyword == "RUN" and (m := SETUP_RUN.fullmatch(args))]


def copy_sources(steps: list[tuple[str, str]]) -> list[str]:
    return [src for keyword, args in steps if keyword == "COPY" for src in shlex.split(args)[:-1]
            if not src.startswith("--")]


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    return parse(DOCKERFILE.read_text())


def test_no_run_step_installs_anything_except_through_setup_sh(stages):
    assert installs_outside_setup(stages) == []
    assert {keyword for stage in stages.values() for keyword, _ in stage.steps} >= {"RUN", "COPY"}


@pytest.mark.parametrize("step", [
    "RUN pip install jupyterlab-git",
    "RUN /opt/venv/bin/python -m pip install \\\n    'matsuri[hub]'",
    "RUN apt-get update && apt-get install -y git",
    "RUN MATSURI_SETUP=image-kit VENV=/opt/venv bash /opt/matsuri/scripts/setup.sh && pip install x",
    "RUN npm install -g configurable-http-proxy",
    "RUN curl -fsSL https://example.invalid/get.sh | sh",
    "ADD https://example.invalid/tool.tar.gz /opt/",
])
def test_an_install_added_beside_the_script_is_caught(step):
    dockerfile = DOCKERFILE.read_text() + "\n" + step + "\n"
    assert " ".join(step.replace("\\\n", " ").split()) in installs_outside_setup(parse(dockerfile))


def test_each_target_runs_setup_sh_with_its_profile_after_its_inputs_and_before_the_content(stages):
    assert {"singleuser", "kit"} <= set(stages)
    env = " ".join(args for keyword, args in stages["base"].steps if keyword == "ENV")
    for target, profile in PROFILES.items():
        steps = chain(stages, target)
        runs = setup_profiles(steps)
        assert runs and runs[-1] == profile, (target, runs)
        assert set(runs) <= set(PROFILES.values())
        venvs = {m.group("venv") for keyword, args in steps if keyword == "RUN" and (m := SETUP_RUN.fullmatch(args))}
        assert venvs == {"/opt/venv"} and "PATH=/opt/venv/bin:$PATH" in env
        first_setup = next(i for i, (keyword, args) in enumerate(steps) if keyword == "RUN" and SETUP_RUN.fullmatch(args))
        before = set(copy_sources(steps[:first_setup]))
        assert before == {"pyproject.toml", "README.md", "src", "scripts/setup.sh"}, target
        after = set(copy_sources(steps[first_setup:]))
        assert after == {"courses", "datasets", "hackathon", "templates"}, target  # a course edit reinstalls nothing
    assert "PLOOMBER_STATS_ENABLED=false" in env and "MATSURI_HOME=/opt/matsuri" in env


def test_the_base_image_runs_the_python_the_pins_were_measured_on():
    image = re.search(r"^ARG PYTHON_IMAGE=python:(\d+)\.(\d+)-slim-bookworm$", DOCKERFILE.read_text(), re.MULTILINE)
    assert image, "the base image is an official python:X.Y-slim-bookworm (Debian 12)"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = re.fullmatch(r">=\s*(\d+)\.(\d+)", requires.strip())
    assert minimum, requires
    assert (int(image[1]), int(image[2])) == (int(minimum[1]), int(minimum[2])) == sys.version_info[:2]


def test_the_single_user_runs_as_the_uid_the_hub_values_give_it(stages):
    values = yaml.safe_load((ROOT / "infra" / "jupyterhub" / "k8s" / "values.yaml").read_text())["singleuser"]
    useradd = [shlex.split(args) for keyword, args in chain(stages, "singleuser") if keyword == "RUN" and "useradd" in args]
    assert len(useradd) == 1
    argv = useradd[0]
    assert argv[argv.index("--uid") + 1] == str(values["uid"]) and argv[-1] == "jovyan"
    assert ("USER", "jovyan") in stages["singleuser"].steps
    assert ("EXPOSE", "8888") in stages["singleuser"].steps


def ignore_rules() -> list[tuple[bool, re.Pattern]]:
    """The .dockerignore as (re-include?, pattern) in order; the last rule that matches wins."""
    rules = []
    for line in IGNORE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negate = line.startswith("!")
            pattern = line.removeprefix("!").strip("/")
            regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
            regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
            rules.append((negate, re.compile(regex)))
    return rules


def in_context(path: str, rules=None) -> bool:
    """Does `path` (relative to the root) reach the build? A pattern also matches what a folder holds."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for negate, regex in rules or ignore_rules():
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not negate
    return not excluded


def test_everything_the_dockerfile_copies_exists_and_reaches_the_build_context(stages):
    rules = ignore_rules()
    sources = {src for stage in stages.values() for src in copy_sources(stage.steps)}
    assert {"scripts/setup.sh", "src", "pyproject.toml"} <= sources
    for source in sources:
        path = ROOT / source
        assert path.exists(), source
        files = [path] if path.is_file() else [
            f for f in path.rglob("*")
            if f.is_file() and not any(p == "__pycache__" or p.endswith(".egg-info") for p in f.parts)
        ]
        shipped = [f for f in files if in_context(f.relative_to(ROOT).as_posix(), rules)]
        assert shipped, f"{source}: the .dockerignore keeps all of it out of the build"
        if source in ("src", "scripts/setup.sh", "pyproject.toml", "README.md"):
            assert shipped == files, source  # what setup.sh installs from, whole
    for kept_out in ("datasets/build/company.duckdb", "courses/sql-101/build/keys.json",
                     "courses/sql-101/private/notes.md", "event/workspaces/a/x.ipynb", ".venv/bin/python",
                     "src/matsuri/__pycache__/cli.cpython-311.pyc", "src/matsuri.egg-info/PKG-INFO",
                     "scripts/other.sh"):
        assert not in_context(kept_out, rules), kept_out


def dry_run(tmp_path: Path, profile: str | None) -> tuple[int, str, Path]:
    venv = tmp_path / "venv"
    env = {**os.environ, "MATSURI_SETUP_DRY_RUN": "1", "VENV": str(venv)}
    env.pop("MATSURI_SETUP", None)
    if profile is not None:
        env["MATSURI_SETUP"] = profile
    done = subprocess.run(["bash", str(SETUP)], env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr, venv


def apt_installs(output: str) -> tuple[set[str], list[str]]:
    """The packages of the one `apt-get install` line, and its options."""
    lines = [line for line in output.splitlines() if line.startswith("+ ") and " apt-get install " in line]
    assert len(lines) == 1, output
    words = lines[0].split(" apt-get install ", 1)[1].split()
    return {w for w in words if not w.startswith("-")}, [w for w in words if w.startswith("-")]


def test_the_default_profile_is_the_laptop_setup_make_up_runs(tmp_path):
    code, output, venv = dry_run(tmp_path, None)
    assert code == 0, output
    assert not venv.exists()  # a dry run changes nothing
    packages, options = apt_installs(output)
    assert packages == FONTS | {"chromium", "acl", "bubblewrap", "util-linux"}
    assert f"+ {venv}/bin/python -m pip install -q -e .[dev,sagemaker]" in output.splitlines()
    assert f"+ {venv}/bin/python -m pip uninstall -q -y rfc3987-syntax" in output
    assert f"+ touch {venv}/.installed" in output
    assert "rm -rf /var/lib/apt/lists" not in output and "pip check" not in output
    assert dry_run(tmp_path, "dev")[1] == output


@pytest.mark.parametrize("target", sorted(PROFILES))
def test_an_image_profile_installs_the_kit_with_its_hub_extra_and_the_fonts_only(tmp_path, target):
    code, output, venv = dry_run(tmp_path, PROFILES[target])
    assert code == 0, output
    assert not venv.exists()
    pip_installs = [line for line in output.splitlines() if " -m pip install " in line and "--upgrade pip" not in line]
    assert pip_installs == [f"+ {venv}/bin/python -m pip install -q .[hub]"]  # not editable, no dev tools
    assert f"+ {venv}/bin/python -m pip uninstall -q -y rfc3987-syntax" in output
    assert f"+ {venv}/bin/python -m pip check" in output
    packages, options = apt_installs(output)
    assert FONTS | {"tini"} <= packages and "chromium" not in packages
    assert (SANDBOX_TOOLS <= packages) == (target == "kit")
    assert "--no-install-recommends" in options and "+ rm -rf /var/lib/apt/lists/*" in output
    assert "npm" not in output and "helm" not in output


def test_the_kit_profile_is_the_single_user_profile_plus_the_sandbox_tools(tmp_path):
    """The kit stage runs setup.sh again on top of the single-user setup: only additions are possible."""
    single = apt_installs(dry_run(tmp_path, "image-singleuser")[1])[0]
    kit = apt_installs(dry_run(tmp_path, "image-kit")[1])[0]
    assert kit - single == SANDBOX_TOOLS


def test_an_unknown_profile_is_refused_with_the_valid_names(tmp_path):
    code, output, venv = dry_run(tmp_path, "image-gpu")
    assert code == 2 and not venv.exists()
    assert "image-gpu" in output and all(name in output for name in ("dev", "image-singleuser", "image-kit"))
