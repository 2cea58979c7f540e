"""Write one event's values for the two Helm releases, from infra/settings.toml and participants.csv.

    python infra/jupyterhub/k8s/event_values.py --participants participants.csv \
        --registry registry.example.com/ml-festival [--settings infra/settings.toml] [--out build/k8s]

writes build/k8s/hub-values.yaml (for the jupyterhub chart, after values.yaml: who may sign in,
the groups with their members as on the one-VM hub, admins, each participant's language, the
single-user image in your registry, and the course's formgrader service and roles) and build/k8s/festival-values.yaml (for
./festival: event, course, images). Nothing secret is written.
Needs the kit (`pip install -e .`); infra/README.md, "Kubernetes", shows the whole install.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from matsuri.errors import MatsuriError, UsageError
from matsuri.infra import participants as participants_csv
from matsuri.infra import settings as event_settings
from matsuri.infra.hub.layout import HubLayout

SINGLEUSER_IMAGE = "matsuri-singleuser"
KIT_IMAGE = "matsuri"
PLACEHOLDER_REGISTRIES = ("registry.example.invalid", "registry.example.com", "<registry>", "")


def groups(layout: HubLayout) -> dict[str, list[str]]:
    """The hub groups and their members: the same as the one-VM hub's jupyterhub_config.py."""
    users, course = layout.users_by_role(), layout.course
    found = {
        "learners": users["learner"],
        "instructors": users["instructor"],
        "judges": users["judge"],
        f"nbgrader-{course}": users["learner"] + users["instructor"],
        f"formgrade-{course}": users["instructor"] + [layout.grader],  # the grader runs the formgrader
    }
    for person in layout.participants:
        if person.team:
            found.setdefault(f"team-{person.team}", []).append(person.username)
    return found


def course_keys(course: str) -> dict:
    """The course's formgrader service and its two roles (values.yaml has the course-free ones)."""
    return {
        "services": {course: {"url": f"http://formgrader-{course}:8888", "oauth_no_confirm": True}},
        "loadRoles": {
            f"formgrade-{course}": {"groups": [f"formgrade-{course}"],
                                    "scopes": [f"access:services!service={course}"]},
            f"grader-{course}": {"services": [course],
                                 "scopes": ["list:users", "read:users:name", "read:users:groups", "read:groups"]},
        },
    }


def check_registry(registry: str) -> str:
    registry = registry.strip().rstrip("/")
    if registry.split("/")[0] in PLACEHOLDER_REGISTRIES:
        raise UsageError(f"--registry {registry!r} is a placeholder: give the registry you pushed the "
                         "images to (infra/README.md, Images), e.g. registry.mycompany.jp/ml-festival.")
    if registry != registry.lower() or " " in registry:
        raise UsageError(f"--registry {registry!r}: image references are lower case, without spaces.")
    return registry


def hub_values(settings, people, registry: str) -> dict:
    layout = HubLayout(settings, people)
    course = settings.event.course
    everyone = sorted({p.username for p in people})
    hub: dict = {
        "config": {
            "JupyterHub": {"load_groups": {name: {"users": members} for name, members in groups(layout).items()}},
            "Authenticator": {"allowed_users": everyone, "admin_users": sorted(settings.jupyterhub.admins)},
        },
        **course_keys(course),
    }
    languages = {p.username: p.language for p in people if p.language}  # read by matsuri_language
    return {
        "hub": hub,
        "custom": {"matsuri": {"languages": languages}},
        "singleuser": {"image": {"name": f"{check_registry(registry)}/{SINGLEUSER_IMAGE}",
                                 "tag": settings.event.kit_version}},
    }


def festival_values(settings, registry: str) -> dict:
    return {
        "event": settings.event.id,
        "course": settings.event.course,
        "image": {"registry": check_registry(registry), "singleuser": SINGLEUSER_IMAGE,
                  "kit": KIT_IMAGE, "tag": settings.event.kit_version},
    }


def write(settings_path: Path | None, participants_path: Path, registry: str, out: Path) -> list[Path]:
    settings = event_settings.load(settings_path)
    people = participants_csv.load(participants_path)
    files = {"hub-values.yaml": hub_values(settings, people, registry),
             "festival-values.yaml": festival_values(settings, registry)}
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, values in files.items():
        path = out / name
        header = f"# Written by infra/jupyterhub/k8s/event_values.py for event {settings.event.id}.\n"
        path.write_text(header + yaml.safe_dump(values, sort_keys=False, allow_unicode=True))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=Path, required=True, help="participants.csv")
    parser.add_argument("--registry", required=True, help="where the images are, e.g. registry.example.com/ml-festival")
    parser.add_argument("--settings", type=Path, default=None, help="default: infra/settings.toml")
    parser.add_argument("--out", type=Path, default=Path("build/k8s"), help="folder for the two files")
    args = parser.parse_args(argv)
    try:
        for path in write(args.settings, args.participants, args.registry, args.out):
            print(path)
    except MatsuriError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
