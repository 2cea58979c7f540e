"""The one interface every provisioner implements, the registry that finds them, and the runner.

A provisioner describes its work as a list of `Action`s (what, for whom, which requests) and never
runs them itself: `run_actions` does, so every target gets the same tolerance (one failure does not
stop the others, dependants of a failed action are skipped and say why), the same progress bar and
the same summary.
"""

from __future__ import annotations

import importlib
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from matsuri.errors import Interrupted, MatsuriError, UsageError
from matsuri.infra.participants import Participant
from matsuri.infra.settings import Settings

CREATE, UPDATE, EXISTS, DELETE, CONFLICT = "create", "update", "exists", "delete", "conflict"
STOP = "stop"  # a step before deleting (an instance must be stopped first)


@dataclass
class Action:
    """One step: create/delete one resource, or note that it exists already."""

    kind: str
    resource: str
    name: str
    participant: str = ""
    detail: str = ""
    requests: list[Any] = field(default_factory=list)   # what will be sent (validated by plan)
    run: Callable[[], str | None] | None = None          # does it; returns an optional note
    needs: tuple[str, ...] = ()                          # keys of actions that must succeed first
    stage: int = 0                                       # stages run in order; a stage may run in parallel

    @property
    def key(self) -> str:
        return f"{self.resource}:{self.name}"

    def describe(self) -> str:
        who = f" for {self.participant}" if self.participant else ""
        return f"{self.kind} {self.resource} {self.name}{who}"


@dataclass
class Plan:
    target: str
    actions: list[Action]
    problems: list[str] = field(default_factory=list)    # requests that would be refused
    notes: list[str] = field(default_factory=list)
    cost: Any = None

    def count(self, kind: str) -> int:
        return sum(a.kind == kind for a in self.actions)


@dataclass
class Outcome:
    action: Action
    ok: bool
    message: str = ""


@dataclass
class Report:
    """What apply/destroy did: succeeded, failed (with a plain reason) and skipped steps."""

    target: str
    verb: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def changed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.ok and o.action.kind in (CREATE, UPDATE, DELETE)]


@dataclass
class StatusRow:
    who: str
    role: str
    state: str
    url: str = ""
    detail: str = ""


class Provisioner(ABC):
    """A way to give each participant a machine. Subclasses implement the four verbs' content."""

    name: ClassVar[str]
    workers: ClassVar[int] = 1

    def __init__(self, settings: Settings, participants: Sequence[Participant], offline: bool = False,
                 include_data: bool = False):
        self.settings = settings
        self.participants = list(participants)
        self.offline = offline            # plan without looking anything up
        self.include_data = include_data  # destroy also removes stored data (e.g. the event's bucket)

    @abstractmethod
    def plan(self) -> Plan:
        """What apply would do, with every request validated offline. Sends nothing that changes."""

    @abstractmethod
    def status(self) -> list[StatusRow]:
        """One row per participant (and per shared resource worth showing)."""

    @abstractmethod
    def teardown(self) -> Plan:
        """What destroy would remove: only resources carrying this event's tag or label."""

    def apply(self, progress: bool = True) -> Report:
        plan = self.plan()
        if plan.problems:
            raise UsageError(f"{len(plan.problems)} request(s) would be refused, so nothing was "
                             "created:\n  " + "\n  ".join(plan.problems[:20]))
        return run_actions(plan, "apply", self.workers, progress)

    def destroy(self, progress: bool = True) -> Report:
        return run_actions(self.teardown(), "destroy", self.workers, progress)


PROVISIONERS: dict[str, str] = {
    "local": "matsuri.infra.local:LocalProvisioner",
    "jupyterhub": "matsuri.infra.hub.provisioner:HubProvisioner",
    "sagemaker": "matsuri.infra.aws.provisioner:SageMakerProvisioner",
}


def register(name: str, dotted: str) -> None:
    """Add a provisioner ("module:Class"); it is imported only when used."""
    PROVISIONERS[name] = dotted


def get_provisioner(name: str) -> type[Provisioner]:
    try:
        module, _, cls = PROVISIONERS[name].partition(":")
    except KeyError:
        raise UsageError(f"Unknown target '{name}'. Choose one of: {', '.join(PROVISIONERS)}.") from None
    found = getattr(importlib.import_module(module), cls)
    if not (isinstance(found, type) and issubclass(found, Provisioner)):
        raise UsageError(f"{PROVISIONERS[name]} is not a Provisioner.")
    return found


SKIPPED = frozenset({".ipynb_checkpoints", "__pycache__"})


def missing_files(source: Path, dest: Path) -> list[Path]:
    """Files of `source` (as paths relative to it) that `dest` does not have, in order.

    For content copied into folders people work in (lessons released after a workspace was made):
    what is there already, edited or not (even a link), is never listed, so it is never replaced.
    """
    if not source.is_dir():
        return []
    return [f.relative_to(source) for f in sorted(source.rglob("*"))
            if f.is_file() and not SKIPPED & set(f.relative_to(source).parts)
            and not os.path.lexists(dest / f.relative_to(source))]


def copy_missing(source: Path, dest: Path, files: Sequence[Path]) -> list[Path]:
    """Copy these files of `source` into `dest`, each one only if it is still missing there.
    Returns those copied.

    `dest` belongs to people (and apply may run as root): nothing is written through a link, each
    file is created new (never opened if it exists) under a hidden name, then renamed into place,
    so a half-copied notebook never shows.
    """
    if dest.is_symlink():
        raise UsageError(f"{dest} is a link, so nothing was copied into it; remove it and apply again.")
    home = dest.resolve()
    copied = []
    for relative in files:
        target = dest / relative
        if os.path.lexists(target):
            continue
        if not target.parent.resolve().is_relative_to(home):
            raise UsageError(f"{target.parent} leads out of {dest} through a link, so nothing was "
                             "copied there; remove the link and apply again.")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.copying")
        if os.path.lexists(partial):
            partial.unlink()  # an interrupted copy (or a link put there): removed, never followed
        with open(source / relative, "rb") as data, open(partial, "xb") as out:
            shutil.copyfileobj(data, out)
        partial.rename(target)
        copied.append(relative)
    return copied


def explain(error: BaseException) -> str:
    """An exception as one plain sentence for the summary table."""
    from matsuri.infra.aws.errors import explain_aws  # local: botocore is only needed for AWS

    aws = explain_aws(error)
    if aws:
        return aws
    if isinstance(error, MatsuriError):
        return str(error)
    stderr = getattr(error, "stderr", None)
    if stderr:
        text = stderr.decode() if isinstance(stderr, bytes) else stderr
        return text.strip().splitlines()[-1]
    return f"{type(error).__name__}: {error}"


def run_actions(plan: Plan, verb: str, workers: int = 1, progress: bool = True) -> Report:
    """Run a plan's actions stage by stage; a failure is recorded and its dependants are skipped."""
    report = Report(plan.target, verb)
    failed: set[str] = set()
    todo = [a for a in plan.actions if a.run is not None]
    with _progress(progress, len(todo), f"{verb} {plan.target}") as advance:
        for stage in sorted({a.stage for a in plan.actions}):
            batch = [a for a in plan.actions if a.stage == stage]

            def one(action: Action) -> Outcome:
                if action.run is None:
                    return Outcome(action, True, action.detail)
                try:
                    blocked = [k for k in action.needs if k in failed]
                    if blocked:
                        return Outcome(action, False, f"skipped: {blocked[0].replace(':', ' ')} failed")
                    return Outcome(action, True, action.run() or action.detail)
                except KeyboardInterrupt:
                    raise
                except Exception as error:  # tolerant: one failure never stops the others
                    return Outcome(action, False, explain(error))
                finally:
                    advance()

            try:
                if workers > 1 and len(batch) > 1:
                    with ThreadPoolExecutor(workers) as pool:
                        outcomes = list(pool.map(one, batch))
                else:
                    outcomes = [one(a) for a in batch]
            except KeyboardInterrupt:
                raise Interrupted(f"Stopped during {verb}; run it again: it continues where it stopped.") from None
            report.outcomes.extend(outcomes)
            failed.update(o.action.key for o in outcomes if not o.ok)
    return report


class _progress:
    """A rich progress bar on stderr (silent when progress=False)."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.enabled, self.total, self.label = enabled and total > 0, total, label

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.bar = Progress("[progress.description]{task.description}", BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True))
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.stop()
