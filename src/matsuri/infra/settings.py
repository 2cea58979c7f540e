"""Event settings for the machines (`infra/settings.toml`): read once, checked key by key
(strict_toml.py, as for `event.toml`).

A wrong or unknown key is refused with a message naming it (`sagemaker.volume_gb`, with a "did you
mean" for a misspelling), so a typo never silently falls back to a default on the day of the event.
Each key takes the type of its default in the dataclasses below.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from matsuri import paths, strict_toml
from matsuri.strict_toml import REQUIRED, Section

EVENT_ID = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
IMAGE = re.compile(r"^[^\s]{1,255}$")
WHAT, EXAMPLE = "infra settings", "infra/settings.toml"


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
    # Processing jobs: the hackathon runner's `sagemaker` backend and `course grade --on sagemaker`
    processing_role_arn: str = ""    # the IAM role jobs run as (reads and writes the event's bucket)
    processing_image: str = ""       # the kit's container image, e.g. <account>.dkr.ecr.<region>.amazonaws.com/matsuri:0.1.0
    processing_instance_type: str = "ml.m5.large"
    processing_volume_gb: int = 20
    processing_max_minutes: int = 60     # the longest one grading job may run (hackathon runs: their timeout)
    processing_start_minutes: float = 15.0   # how long SageMaker may take to start a job's machine
    processing_poll_seconds: float = 10.0


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


def course_release(course: str, language: str = "") -> Path:
    """The learner copies `matsuri course release` made (nbgrader's release/<lesson>/ folders), in
    the course's language; or, when `language` is given and the course was written in it, the
    copies in that language."""
    import os

    from matsuri.grading.workspace import BY_LANGUAGE, WORK_ENV

    work = os.environ.get(WORK_ENV)
    base = Path(work) if work else paths.project_root() / "courses" / "build"
    translated = base / course / BY_LANGUAGE / language
    return translated if language and translated.is_dir() else base / course / "release"


SETTINGS_ENV = "MATSURI_INFRA_SETTINGS"


def default_path() -> Path:
    """infra/settings.toml, or the file MATSURI_INFRA_SETTINGS names (the runner service's)."""
    import os

    return Path(os.environ.get(SETTINGS_ENV) or paths.project_root() / "infra" / "settings.toml")


def load(path: Path | None = None) -> Settings:
    """Read and check the settings file (default: infra/settings.toml)."""
    path = Path(path) if path else default_path()
    raw = strict_toml.read(path, WHAT, "Copy infra/settings.toml and edit it, or pass --settings FILE.")
    return from_dict(raw, source=path)


def from_dict(raw: dict, source: Path | None = None) -> Settings:
    """Check settings given as a dict (as `tomllib` reads them); `source` names the file in messages."""
    root = Section(raw, "", source or Path("<settings>"), WHAT, EXAMPLE)
    tables = {name: root.sub(name) for name in SECTIONS}
    root.done()  # an unknown [table] first: a misspelt [event] would otherwise say "event.id is missing"
    return Settings(**{name: _section(tables[name], cls) for name, cls in SECTIONS.items()}, source=source)


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return REQUIRED


def _section(section: Section, cls):
    """One [table] as its dataclass: each key of the type of its default, checked by CHECKS."""
    values = {}
    for f in dataclasses.fields(cls):
        default = _default(f)
        kind = str if default is REQUIRED else type(default)
        check, hint = CHECKS.get(section.key(f.name), (None, ""))
        values[f.name] = section.take(f.name, kind, default, check, hint)
    _check_together(section, values)
    section.done()
    return cls(**values)


def _port(value: int) -> str | None:
    return None if 0 < value < 65536 else f"must be a port number (1-65535), not {value}"


def _texts(value: list) -> str | None:
    return None if all(isinstance(v, str) for v in value) else f"must list text in quotes, not {value!r}"


CHECKS = {  # key: (check, hint when missing)
    "event.id": (lambda v: None if EVENT_ID.match(v) else
                 f"is {v!r}: use 2-20 characters, lower-case letters, digits and '-', starting with a "
                 "letter (it becomes part of account and resource names)",
                 "give the event a short id such as 'matsuri-2027'"),
    "event.hours_per_day": (lambda v: None if 0 < v <= 24 else f"is {v}: give a number above 0, at most 24", ""),
    "jupyterhub.authenticator": (lambda v: None if v in ("shared-password", "oauth") else
                                 f"is {v!r}: choose shared-password or oauth", ""),
    **{f"jupyterhub.{key}": (_port, "") for key in
       ("port", "hub_port", "proxy_api_port", "formgrader_port", "gallery_port")},
    "jupyterhub.gallery_command": (_texts, ""),
    "jupyterhub.admins": (_texts, ""),
    "sagemaker.security_group_ids": (_texts, ""),
    "sagemaker.volume_gb": (lambda v: None if v >= 5 else f"is {v}: AWS needs at least 5", ""),
    "sagemaker.processing_role_arn": (lambda v: None if not v or ROLE_ARN.match(v) else
                                      f"is {v!r}: give a role ARN such as "
                                      "'arn:aws:iam::123456789012:role/matsuri-processing'", ""),
    "sagemaker.processing_image": (lambda v: None if not v or IMAGE.match(v) else
                                   f"is {v!r}: give an image URI such as "
                                   "'123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/matsuri:0.1.0'", ""),
    "sagemaker.processing_instance_type": (lambda v: None if v.startswith("ml.") else
                                           f"is {v!r}: Processing instance types start with 'ml.' "
                                           "(for example ml.m5.large)", ""),
    "sagemaker.processing_volume_gb": (lambda v: None if 1 <= v <= 16384 else
                                       f"is {v}: give 1 to 16384", ""),
    "sagemaker.processing_max_minutes": (lambda v: None if 1 <= v <= 7200 else
                                         f"is {v}: give 1 to 7200 (AWS stops any job after 5 days)", ""),
    "sagemaker.processing_start_minutes": (lambda v: None if v >= 0 else f"is {v}: give 0 or more", ""),
    "sagemaker.processing_poll_seconds": (lambda v: None if 0 < v <= 300 else
                                          f"is {v}: give a number above 0, at most 300", ""),
}


def _check_together(section: Section, values: dict) -> None:
    """Rules that tie two keys of one table together."""
    if section.where == "event" and values["ends"] < values["starts"]:
        section.fail("event.ends", f"({values['ends']}) is before starts ({values['starts']})")
    if section.where == "sagemaker" and not values["direct_internet_access"] and not values["subnet_id"]:
        section.fail("sagemaker.direct_internet_access", "= false needs subnet_id (and security_group_ids): "
                     "instances without internet live in your VPC")
