"""The cost of an event before it starts: instance-hours × a dated price table kept in the repo."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from matsuri import paths
from matsuri.errors import NotFound, UsageError

STALE_AFTER_DAYS = 90


def table_path() -> Path:
    return paths.project_root() / "infra" / "sagemaker" / "prices.toml"


@dataclass
class CostEstimate:
    currency: str
    as_of: dt.date
    lines: list[tuple[str, float]] = field(default_factory=list)   # (what, amount)
    worst_case: float = 0.0      # every instance left running around the clock all event
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(amount for _, amount in self.lines)


def load_table(path: Path | None = None) -> dict:
    path = path or table_path()
    if not path.is_file():
        raise NotFound(f"No price table at {path}; restore infra/sagemaker/prices.toml from the repo.")
    table = tomllib.loads(path.read_text(encoding="utf-8"))
    if "as_of" not in table or "regions" not in table:
        raise UsageError(f"{path} needs `as_of` (the date the prices were checked) and [regions.*].")
    return table


def estimate(settings, instances: int, table: dict | None = None) -> CostEstimate:
    """Cost of `instances` notebook instances for the event's dates, from the price table."""
    table = table or load_table()
    sm, event = settings.sagemaker, settings.event
    as_of = table["as_of"]
    out = CostEstimate(table.get("currency", "USD"), as_of)
    region = table["regions"].get(sm.region)
    if region is None:
        out.warnings.append(f"no prices for region {sm.region} in the table; add them to prices.toml")
        return out
    hourly = region.get("notebook", {}).get(sm.instance_type)
    if hourly is None:
        out.warnings.append(f"no price for {sm.instance_type} in {sm.region}; add it to prices.toml")
    else:
        hours = instances * event.days * event.hours_per_day
        out.lines.append((f"{instances} × {sm.instance_type} × {event.days} days × "
                          f"{event.hours_per_day:g} h at {hourly} /h", hours * hourly))
        out.worst_case = instances * event.days * 24 * hourly
    storage = region.get("storage_gb_month")
    if storage is not None:
        gb = instances * sm.volume_gb
        out.lines.append((f"{gb} GB of notebook storage for {event.days} days at {storage} /GB-month",
                          gb * storage * event.days / 30))
        out.worst_case += gb * storage * event.days / 30
    age = (event.starts - as_of).days
    if age > STALE_AFTER_DAYS:
        out.warnings.append(f"the price table is from {as_of}, {age} days before the event: "
                            "check current prices and update infra/sagemaker/prices.toml")
    return out
