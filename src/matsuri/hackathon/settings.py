"""Event settings (`event.toml`): read once, checked fully, every problem named by its key
(strict_toml.py). The themes it can enable are the theme specs (`templates/<id>/theme.toml`)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from matsuri import strict_toml, theme_spec
from matsuri.errors import UsageError
from matsuri.strict_toml import REQUIRED, Section, at_least, between


@dataclass(frozen=True)
class ThemeSettings:
    id: str
    metric: str
    public_share: float
    daily_limit: int
    total_limit: int
    baseline: float | None = None  # the baseline's public score on `metric` (the funnel's "beat the baseline")


@dataclass(frozen=True)
class Criterion:
    id: str
    name: str            # in the event's language
    weight: float
    description: str
    other: tuple[tuple[str, str, str], ...] = ()  # (language, name, description), "" where not given

    def label(self, lang: str) -> str:
        return next((name for code, name, _ in self.other if code == lang and name), self.name)

    def hint(self, lang: str) -> str:
        return next((text for code, _, text in self.other if code == lang and text), self.description)


@dataclass(frozen=True)
class Settings:
    path: Path
    name: str
    starts: dt.date
    ends: dt.date
    timezone: str
    split_seed: int
    min_team_size: int
    max_team_size: int
    run_as: str
    identities: int
    timeout_seconds: int
    memory_mb: int
    max_processes: int
    cpu_weight: int
    folder_mb: int
    max_file_mb: float
    threads: int
    themes: dict[str, ThemeSettings]
    scale: tuple[int, int]
    criteria: tuple[Criterion, ...]
    judges: tuple[str, ...]
    metric_weight: float
    rubric_weight: float
    preheat: bool
    pool_size: int
    cull_idle_seconds: int
    demo_memory_mb: int
    backend: str = "sandbox"       # where the runner service runs notebooks: sandbox | sagemaker
    slots: int = 2                 # notebooks the runner service runs at once
    max_queued: int = 100          # submissions waiting at once before the drop box says "full"
    s3_bucket: str = ""            # SageMaker: teams hand in through this event bucket (s3_dropbox)
    s3_region: str = ""            # its region (default: AWS_DEFAULT_REGION, else ap-northeast-1)
    language: str = "ja"           # the prose a team's copy of a template keeps: ja | en

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def theme(self, theme_id: str) -> ThemeSettings:
        if theme_id not in self.themes and theme_id not in theme_spec.all_themes():
            theme_spec.get(theme_id)  # an unknown theme: "did you mean …?"
        if theme_id not in self.themes:
            raise UsageError(
                f"The theme '{theme_id}' is not enabled in {self.path}. Enabled themes: "
                f"{', '.join(self.themes) or '(none)'}; add a [themes.{theme_id}] table to enable it."
            )
        return self.themes[theme_id]

    def is_open(self, now: dt.datetime) -> bool:
        local = now.astimezone(self.zone).date()
        return self.starts <= local <= self.ends


BACKENDS = ("sandbox", "sagemaker")  # the runner service's; `submit --no-sandbox` is the organiser's own


def _user_prefix(value: str) -> str | None:
    """Pool users are named <prefix>-1 … <prefix>-N: a valid system user name, short enough."""
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,27}", value):
        return ("must be a user name prefix of lower-case letters, digits, - or _ (at most 28 "
                f"characters, starting with a letter), not {value!r}")
    return None


def _bucket_name(value: str) -> str | None:
    """An S3 bucket name (empty: no S3 drop box), as `infra apply` makes it: <event id>-festival."""
    if value and not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value):
        return (f"must be an S3 bucket name (3 to 63 lower-case letters, digits, '.' or '-'), such "
                f"as the event's '<event id>-festival', not {value!r}")
    return None


def _theme(section: Section, spec) -> ThemeSettings:
    names = [m.name for m in spec.metrics]
    metric = section.take("metric", str, spec.leaderboard, lambda v: None if v in names else
                          f"must be one of {', '.join(names)} for this theme, not '{v}'"
                          f"{strict_toml.suggestion(v, names)}")
    share = section.take("public_share", float, 0.3, between(0.05, 0.95))
    daily = section.take("daily_limit", int, 5, at_least(1))
    total = section.take("total_limit", int, 50, at_least(1))
    if total < daily:
        section.fail(section.key("total_limit"), f"({total}) must not be smaller than daily_limit ({daily})")
    baseline = section.take("baseline", float, None)
    section.done()
    return ThemeSettings(spec.id, metric, share, daily, total, baseline)


def _criteria(rubric: Section) -> tuple[Criterion, ...]:
    """[[rubric.criteria]]: `name` and `description` in the event's language; `name_en` and
    `description_en` (or `_ja`) say them in the other one for judges who read it."""
    items = rubric.take("criteria", list, REQUIRED, lambda v: None if v else "must list at least one criterion",
                        hint="add [[rubric.criteria]] tables with id, name, weight, description")
    criteria, seen = [], set()
    for i, raw in enumerate(items):
        section = Section(raw, f"rubric.criteria[{i}]", rubric.path, rubric.what, rubric.example)
        cid = section.take("id", str, check=lambda v: None if v.strip() else "must not be blank")
        if cid in seen:
            section.fail(section.key("id"), f"repeats the criterion id '{cid}'")
        seen.add(cid)
        name, weight = section.take("name", str, cid), section.take("weight", float, 1.0, at_least(0.0))
        description = section.take("description", str, "")
        other = tuple((code, section.take(f"name_{code}", str, ""), section.take(f"description_{code}", str, ""))
                      for code in ("ja", "en"))  # both taken: switching the event's language stays valid
        criteria.append(Criterion(cid, name, weight, description, other))
        section.done()
    if sum(c.weight for c in criteria) <= 0:
        rubric.fail("rubric.criteria", "needs at least one criterion with a weight above 0")
    return tuple(criteria)


def parse(data: dict, path: Path) -> Settings:
    root = Section(data, "", path, "event settings", "hackathon/event.toml")
    event = root.sub("event")
    name = event.take("name", str, check=lambda v: None if v.strip() else "must not be blank")
    starts = event.take("starts", dt.date)
    ends = event.take("ends", dt.date)
    if ends < starts:
        event.fail("event.ends", f"({ends}) is before event.starts ({starts})")
    timezone = event.take("timezone", str, "Asia/Tokyo")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        event.fail("event.timezone", f"is not a known time zone ('{timezone}'); use a name like Asia/Tokyo")
    seed = event.take("split_seed", int, 2026, at_least(0))
    language = event.take("language", str, "ja",
                          check=lambda v: None if v in ("ja", "en") else "must be \"ja\" or \"en\"")
    event.done()

    teams = root.sub("teams")
    min_size = teams.take("min_size", int, 1, at_least(1))
    max_size = teams.take("max_size", int, 5, at_least(1))
    if max_size < min_size:
        teams.fail("teams.max_size", f"({max_size}) is smaller than teams.min_size ({min_size})")
    teams.done()

    subs = root.sub("submissions")
    run_as = subs.take("run_as", str, "matsuri-team", _user_prefix)
    identities = subs.take("identities", int, 16, between(1, 200))
    timeout = subs.take("timeout_seconds", int, 900, at_least(5))
    memory = subs.take("memory_mb", int, 4096, at_least(256))
    max_processes = subs.take("max_processes", int, 256, between(16, 100_000))
    cpu_weight = subs.take("cpu_weight", int, 100, between(1, 10_000))
    folder_mb = subs.take("folder_mb", int, 1024, at_least(16))
    max_file = subs.take("max_file_mb", float, 50.0, lambda v: None if v > 0 else "must be above 0")
    threads = subs.take("threads", int, 2, at_least(1))
    backend = subs.take("backend", str, "sandbox", lambda v: None if v in BACKENDS else
                        f"must be one of {', '.join(BACKENDS)}, not {v!r}")
    slots = subs.take("slots", int, 2, between(1, 64))
    max_queued = subs.take("max_queued", int, 100, at_least(1))
    s3_bucket = subs.take("s3_bucket", str, "", _bucket_name)
    s3_region = subs.take("s3_region", str, "", lambda v: None if not v or re.fullmatch(
        r"[a-z]{2}(-[a-z]+)+-\d", v) else f"must be an AWS region such as ap-northeast-1, not {v!r}")
    subs.done()

    themes_section = root.sub("themes")
    known = theme_spec.all_themes()
    themes = {}
    for theme_id in list(themes_section.data):
        if theme_id not in known:
            themes_section.fail(f"themes.{theme_id}", f"is not a theme"
                                f"{strict_toml.suggestion(theme_id, known)}; themes are "
                                f"{', '.join(known)} (each one a folder templates/<id>/ with a theme.toml)")
        themes[theme_id] = _theme(themes_section.sub(theme_id), known[theme_id])
    if not themes:
        root.fail("themes", "enables no theme; add at least one [themes.<id>] table "
                  f"({', '.join(known)})")

    rubric = root.sub("rubric")
    scale = rubric.take("scale", list, [1, 5])
    if len(scale) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in scale) \
            or scale[0] >= scale[1]:
        rubric.fail("rubric.scale", f"must be [lowest, highest] whole numbers like [1, 5], not {scale!r}")
    criteria = _criteria(rubric)
    rubric.done()

    judging = root.sub("judging")
    judges = judging.take("judges", list, [])
    if not all(isinstance(j, str) and j.strip() for j in judges) or len(set(judges)) != len(judges):
        judging.fail("judging.judges", "must be a list of distinct names in quotes")
    judging.done()

    awards = root.sub("awards")
    metric_weight = awards.take("metric_weight", float, 0.5, between(0.0, 1.0))
    rubric_weight = awards.take("rubric_weight", float, 0.5, between(0.0, 1.0))
    if abs(metric_weight + rubric_weight - 1.0) > 1e-9:
        awards.fail("awards.rubric_weight", f"plus awards.metric_weight must be 1 (now "
                    f"{metric_weight} + {rubric_weight})")
    awards.done()

    gallery = root.sub("gallery")
    preheat = gallery.take("preheat", bool, True)
    pool_size = gallery.take("pool_size", int, 1, between(0, 8))
    cull = gallery.take("cull_idle_seconds", int, 1800, at_least(60))
    demo_memory = gallery.take("demo_memory_mb", int, 3072, at_least(256))
    gallery.done()
    root.done()
    return Settings(
        path, name, starts, ends, timezone, seed, min_size, max_size, run_as, identities, timeout,
        memory, max_processes, cpu_weight, folder_mb, max_file, threads, themes, (scale[0], scale[1]), criteria, tuple(judges), metric_weight,
        rubric_weight, preheat, pool_size, cull, demo_memory, backend=backend, slots=slots,
        max_queued=max_queued, s3_bucket=s3_bucket, s3_region=s3_region, language=language,
    )


def load(path: Path) -> Settings:
    data = strict_toml.read(path, "event settings", "Copy the example hackathon/event.toml there "
                            "and edit it, or pass --event with the folder that holds event.toml.")
    return parse(data, Path(path))
