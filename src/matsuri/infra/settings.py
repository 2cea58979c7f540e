"""Event settings for the machines (`infra/settings.toml`): read once, checked key by key.

A wrong or unknown key is refused with a message naming it (`[sagemaker] volume_gb`), so a typo
never silently falls back to a default on the day of the event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from matsuri import paths
from matsuri.errors import NotFound, UsageError

EVENT_ID = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")


@dataclass(frozen=True)
class EventSettings:
    id: str
    name: str = ""
    starts: dt.date = dt.date(2027, 2, 1)
    ends: dt.date = dt.date(2027, 2, 5)
    hours_per_day: float = 8.0
    kit_version: str = "0.1.0"
    course: str = "sql-101"

    @property
    def days(self) -> int:
        return (self.ends - self.starts).days + 1


@dataclass(frozen=True)
class LocalSettings:
    root: str = "event"


@dataclass(frozen=True)
class HubSettings:
    state_dir: str = "/srv/matsuri-hub"
    ip: str = "0.0.0.0"
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    authenticator: str = "shared-password"
    cull_idle_minutes: float = 60.0
    cull_every_minutes: float = 5.0
    mem_limit_gb: float = 4.0
    cpu_limit: float = 1.0
    gallery_command: list = field(
        default_factory=lambda: ["matsuri", "gallery", "serve", "--port", "{port}"]
    )
    public_url: str = ""             # what participants open (behind TLS); default http://<host>:<port>
    formgrader_port: int = 9010      # the course's formgrader service, on 127.0.0.1
    gallery_port: int = 9011         # the gallery's login gate, on 127.0.0.1
    activity_interval_seconds: int = 300   # how often servers and the proxy report activity
    admins: list = field(default_factory=list)   # hub admins (organisers), by user name
    warehouse: str = ""              # default: the built warehouse (read-only for everyone)
    holdout: str = ""                # default: the organiser-only labels store (root only)
    python_bin: str = ""             # the environment's bin/ that servers run from (default: this one)


@dataclass(frozen=True)
class SageMakerSettings:
    region: str = "ap-northeast-1"
    instance_type: str = "ml.t3.medium"
    volume_gb: int = 10
    idle_minutes: int = 60
    platform: str = "notebook-al2-v3"
    bucket: str = ""          # default: "<event id>-festival"
    kit_spec: str = ""        # default: "matsuri==<kit_version>"
    pip_index_url: str = ""
    max_attempts: int = 8
    subnet_id: str = ""              # a company VPC subnet (needed when direct_internet_access is false)
    security_group_ids: list = field(default_factory=list)
    direct_internet_access: bool = True


@dataclass(frozen=True)
class Settings:
    event: EventSettings
    local: LocalSettings = LocalSettings()
    jupyterhub: HubSettings = HubSettings()
    sagemaker: SageMakerSettings = SageMakerSettings()
    source: Path | None = None

    @property
    def bucket(self) -> str:
        return self.sagemaker.bucket or f"{self.event.id}-festival"

    @property
    def kit_spec(self) -> str:
        return self.sagemaker.kit_spec or f"matsuri=={self.event.kit_version}"

    def replace(self, section: str, **changes) -> Settings:
        """A copy with some keys of one section changed (tests and `--set`-like overrides)."""
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **changes)})


SECTIONS = {"event": EventSettings, "local": LocalSettings, "jupyterhub": HubSettings,
            "sagemaker": SageMakerSettings}


def course_release(course: str) -> Path:
    """The learner copies `matsuri course release` made (nbgrader's release/<lesson>/ folders)."""
    import os

    work = os.environ.get("MATSURI_COURSE_WORK")
    base = Path(work) if work else paths.project_root() / "courses" / "build"
    return base / course / "release"


def default_path() -> Path:
    return paths.project_root() / "infra" / "settings.toml"


def load(path: Path | None = None) -> Settings:
    """Read and check the settings file (default: infra/settings.toml)."""
    path = Path(path) if path else default_path()
    if not path.is_file():
        raise NotFound(f"No event settings at {path}. Copy infra/settings.toml and edit it, "
                       "or pass --settings FILE.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{path} is not valid TOML: {error}. Fix the line it names.") from None
    return from_dict(raw, source=path)


def from_dict(raw: dict, source: Path | None = None) -> Settings:
    where = f" in {source}" if source else ""
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise UsageError(f"Unknown section [{unknown[0]}]{where}. Sections are: {', '.join(SECTIONS)}.")
    if "event" not in raw or "id" not in raw["event"]:
        raise UsageError(f"[event] id is missing{where}: give the event a short id such as 'matsuri-2026'.")
    parts = {name: _section(name, cls, raw.get(name, {}), where) for name, cls in SECTIONS.items()}
    settings = Settings(**parts, source=source)
    _check(settings, where)
    return settings


def _section(name: str, cls, values: dict, where: str):
    if not isinstance(values, dict):
        raise UsageError(f"[{name}] must be a table of keys{where}.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, value in values.items():
        if key not in fields:
            raise UsageError(f"Unknown key [{name}] {key}{where}. Valid keys: {', '.join(fields)}.")
        default = fields[key].default
        if default is dataclasses.MISSING and fields[key].default_factory is not dataclasses.MISSING:
            default = fields[key].default_factory()
        out[key] = _coerce(name, key, value, default, where)
    return cls(**out)


def _coerce(section: str, key: str, value, default, where: str):
    expected = type(default) if default is not dataclasses.MISSING else str
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is dt.date and isinstance(value, dt.datetime):
        return value.date()
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        shown = {dt.date: "a date like 2026-06-01", list: "a list", str: "text"}.get(expected, expected.__name__)
        raise UsageError(f"[{section}] {key} = {value!r}{where} should be {shown}.")
    return value


def _check(s: Settings, where: str) -> None:
    if not EVENT_ID.match(s.event.id):
        raise UsageError(f"[event] id = {s.event.id!r}{where}: use 2-20 characters, lower-case letters, "
                         "digits and '-', starting with a letter (it becomes part of account and resource names).")
    if s.event.ends < s.event.starts:
        raise UsageError(f"[event] ends ({s.event.ends}) is before starts ({s.event.starts}){where}.")
    if not 0 < s.event.hours_per_day <= 24:
        raise UsageError(f"[event] hours_per_day = {s.event.hours_per_day}{where} should be between 0 and 24.")
    if s.jupyterhub.authenticator not in ("shared-password", "oauth"):
        raise UsageError(f"[jupyterhub] authenticator = {s.jupyterhub.authenticator!r}{where}: "
                         "choose shared-password or oauth.")
    for key in ("port", "hub_port", "proxy_api_port", "formgrader_port", "gallery_port"):
        if not 0 < getattr(s.jupyterhub, key) < 65536:
            raise UsageError(f"[jupyterhub] {key}{where} should be a port number (1-65535).")
    if not s.sagemaker.direct_internet_access and not s.sagemaker.subnet_id:
        raise UsageError(f"[sagemaker] direct_internet_access = false{where} needs subnet_id (and "
                         "security_group_ids): instances without internet live in your VPC.")
    if s.sagemaker.volume_gb < 5:
        raise UsageError(f"[sagemaker] volume_gb = {s.sagemaker.volume_gb}{where}: AWS needs at least 5.")
