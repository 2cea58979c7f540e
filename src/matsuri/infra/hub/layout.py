"""Where the event's hub keeps things, and the settings file `jupyterhub_config.py` reads.

state_dir/
  hub.json           everything jupyterhub_config.py needs (written by apply, root only)
  .matsuri-event.json   marks the folder as this event's
  secrets/           shared password, the status service's token (root only)
  jupyter-config/    nbgrader_config.py shared by every server (exchange, hub course roles), and the
                     learners' lab settings (Japanese, no news, no grading tools: matsuri.lab)
  jupyter-config-en/ put first for participants who read English (participants.csv `language`)
  gallery-config/    voila.json: the gallery's Voila serves under the hub's /services/gallery/
  grader-config/     the formgrader service's own config path (the grading tools stay enabled there)
  exchange/          nbgrader's exchange (world-writable with the sticky bit, as nbgrader needs)
  archive/           participants' homes, archived by destroy
  jupyterhub.sqlite, jupyterhub_cookie_secret   (the hub's own)
"""

from __future__ import annotations

import json
import pwd
import shutil
import sys
from pathlib import Path

from matsuri import paths
from matsuri.infra.participants import ROLES
from matsuri.lab import ENGLISH_CONFIG, learners_config_files


class HubLayout:
    def __init__(self, settings, participants):
        self.settings = settings
        self.hub = settings.jupyterhub
        self.event = settings.event.id
        self.course = settings.event.course
        self.participants = list(participants)

    # ------------------------------------------------------------ names
    @property
    def group(self) -> str:
        return f"{self.event}-people"

    @property
    def grader(self) -> str:
        return f"{self.event}-grader"

    @property
    def gallery_user(self) -> str:
        return f"{self.event}-gallery"

    # ------------------------------------------------------------ places
    @property
    def state(self) -> Path:
        return Path(self.hub.state_dir)

    hub_json = property(lambda self: self.state / "hub.json")
    marker = property(lambda self: self.state / ".matsuri-event.json")
    secrets = property(lambda self: self.state / "secrets")
    password_file = property(lambda self: self.secrets / "shared-password")
    status_token_file = property(lambda self: self.secrets / "status-token")
    jupyter_config = property(lambda self: self.state / "jupyter-config")
    english_config = property(lambda self: self.state / "jupyter-config-en")
    gallery_config = property(lambda self: self.state / "gallery-config")
    grader_config = property(lambda self: self.state / "grader-config")
    exchange = property(lambda self: self.state / "exchange")
    archive = property(lambda self: self.state / "archive")

    def home(self, username: str) -> Path:
        try:
            return Path(pwd.getpwnam(username).pw_dir)
        except KeyError:
            return Path("/home") / username

    @property
    def course_dir(self) -> Path:
        return self.home(self.grader) / self.course

    @property
    def python_bin(self) -> Path:
        return Path(self.hub.python_bin) if self.hub.python_bin else Path(sys.executable).parent

    @property
    def warehouse(self) -> Path:
        return Path(self.hub.warehouse) if self.hub.warehouse else paths.warehouse_path()

    @property
    def holdout(self) -> Path:
        return Path(self.hub.holdout) if self.hub.holdout else paths.labels_path()

    def chp(self) -> str | None:
        """configurable-http-proxy, as installed by scripts/setup.sh (npm) or on PATH."""
        local = paths.project_root() / "infra" / "jupyterhub" / "node_modules" / ".bin" / "configurable-http-proxy"
        return str(local) if local.exists() else shutil.which("configurable-http-proxy")

    def traverse_targets(self) -> list[Path]:
        """Paths participants' servers must reach: the Python environment, exchange, warehouse."""
        targets = [self.python_bin, Path(sys.executable).resolve().parent, self.exchange, self.jupyter_config,
                   self.english_config]
        if self.warehouse.exists():
            targets.append(self.warehouse.parent)
        return targets

    # ------------------------------------------------------------ contents
    def users_by_role(self) -> dict[str, list[str]]:
        return {role: [p.username for p in self.participants if p.role == role] for role in ROLES}

    def hub_settings(self) -> dict:
        """The JSON jupyterhub_config.py reads: the event, people, ports, paths."""
        teams: dict[str, list[str]] = {}
        for person in self.participants:
            if person.team:
                teams.setdefault(person.team, []).append(person.username)
        return {
            "event": self.event, "name": self.settings.event.name, "course": self.course,
            "state_dir": str(self.state), "ip": self.hub.ip, "port": self.hub.port,
            "hub_port": self.hub.hub_port, "proxy_api_port": self.hub.proxy_api_port,
            "formgrader_port": self.hub.formgrader_port, "gallery_port": self.hub.gallery_port,
            "authenticator": self.hub.authenticator, "password_file": str(self.password_file),
            "status_token_file": str(self.status_token_file), "admins": list(self.hub.admins),
            "users": self.users_by_role(), "teams": teams,
            "grader": self.grader, "course_dir": str(self.course_dir), "gallery_user": self.gallery_user,
            "gallery_home": str(self.home(self.gallery_user)),
            "gallery_command": list(self.hub.gallery_command), "python_bin": str(self.python_bin),
            "jupyter_config_dir": str(self.jupyter_config), "warehouse": str(self.warehouse),
            "english_config_dir": str(self.english_config),
            "languages": {p.username: p.language for p in self.participants if p.language},
            "gallery_config_dir": str(self.gallery_config), "exchange_dir": str(self.exchange),
            "grader_config_dir": str(self.grader_config),
            "chp": self.chp(), "cull_idle_seconds": int(self.hub.cull_idle_minutes * 60),
            "cull_every_seconds": max(1, int(self.hub.cull_every_minutes * 60)),
            "activity_interval_seconds": self.hub.activity_interval_seconds,
            "mem_limit_gb": self.hub.mem_limit_gb, "cpu_limit": self.hub.cpu_limit,
            "hackathon_event": str(self.hackathon_event()), "labels": str(self.holdout),
        }

    @staticmethod
    def hackathon_event() -> Path:
        """The hackathon event whose runner the hub starts ($MATSURI_EVENT, else hackathon/)."""
        from matsuri.hackathon.event import event_dir

        return event_dir()

    def hub_json_text(self) -> str:
        return json.dumps(self.hub_settings(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    # Participants' servers are learners' labs, as `matsuri lab` starts them in a workspace: the
    # assignment list, not the instructor's grading tools; Japanese; no Jupyter news.
    def lab_page_config(self) -> str:
        return learners_config_files()["labconfig/page_config.json"]

    def lab_defaults(self) -> str:
        return learners_config_files()["labconfig/default_setting_overrides.json"]

    def english_defaults(self) -> str:
        """JupyterLab in English, for participants who read English."""
        return (ENGLISH_CONFIG / "labconfig" / "default_setting_overrides.json").read_text(encoding="utf-8")

    def server_config(self) -> str:
        return learners_config_files()["jupyter_server_config.json"]

    def voila_config(self) -> str:
        """Voila behind the hub lives under /services/gallery/ (read from the gallery's config path)."""
        return json.dumps({"Voila": {"base_url": "/services/gallery/"}}) + "\n"

    def nbgrader_global(self) -> str:
        return (
            "# Shared by every server of the event (found through JUPYTER_CONFIG_PATH).\n"
            "c = get_config()  # noqa: F821\n"
            f"c.Exchange.root = {str(self.exchange)!r}\n"
            "c.Exchange.path_includes_course = True\n"
            "# Courses come from hub groups nbgrader-<course> / formgrade-<course>.\n"
            "c.Authenticator.plugin_class = 'nbgrader.auth.JupyterHubAuthPlugin'\n"
            "# Lessons in the participant's language (MATSURI_LANG) when the release has that copy.\n"
            "c.ExchangeFactory.fetch_assignment = 'matsuri.grading.language_fetch.FetchInReadersLanguage'\n"
        )

    def nbgrader_course(self) -> str:
        return (
            "# The course folder of the grader account; the formgrader service runs here.\n"
            "c = get_config()  # noqa: F821\n"
            f"c.CourseDirectory.root = {str(self.course_dir)!r}\n"
            f"c.CourseDirectory.course_id = {self.course!r}\n"
        )
