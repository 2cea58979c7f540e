"""Plans, run reports and status as rich tables (on stdout), failures in plain words."""

from __future__ import annotations

from matsuri.infra.base import (
    CONFLICT,
    CREATE,
    DELETE,
    EXISTS,
    STOP,
    UPDATE,
    Plan,
    Report,
    StatusRow,
)

STYLE = {CREATE: "green", UPDATE: "cyan", STOP: "magenta", DELETE: "red", EXISTS: "dim", CONFLICT: "yellow"}


def _console():
    from rich.console import Console

    return Console(soft_wrap=False, width=160)


def show_plan(plan: Plan, verb: str = "apply", limit: int = 60) -> None:
    from rich.table import Table

    console = _console()
    table = Table("step", "resource", "name", "for", "detail", title=f"{verb} --target {plan.target}")
    for action in plan.actions[:limit]:
        table.add_row(f"[{STYLE.get(action.kind, '')}]{action.kind}", action.resource, action.name,
                      action.participant, action.detail)
    console.print(table)
    if len(plan.actions) > limit:
        console.print(f"… and {len(plan.actions) - limit} more steps")
    counts = ", ".join(f"{plan.count(k)} to {k}" if k != EXISTS else f"{plan.count(k)} already there"
                       for k in (CREATE, UPDATE, STOP, DELETE, EXISTS, CONFLICT) if plan.count(k))
    console.print(f"Summary: {counts or 'nothing to do'}.")
    for note in plan.notes:
        console.print(f"note: {note}")
    if plan.cost is not None:
        cost = plan.cost
        console.print(f"\nCost estimate ({cost.currency}, prices as of {cost.as_of}):")
        for what, amount in cost.lines:
            console.print(f"  {amount:>10,.2f}  {what}")
        console.print(f"  {cost.total:>10,.2f}  total expected;  {cost.worst_case:,.2f} if no instance "
                      "ever stopped during the event")
        for warning in cost.warnings:
            console.print(f"[yellow]warning: {warning}")
    if plan.problems:
        console.print(f"\n[red]{len(plan.problems)} request(s) would be refused:")
        for problem in plan.problems[:40]:
            console.print(f"  [red]{problem}")


def show_report(report: Report, notes: list[str] = ()) -> None:
    from rich.table import Table

    console = _console()
    done = report.changed
    kept = [o for o in report.outcomes if o.ok and o.action.kind == EXISTS]
    verb = {"apply": "created", "destroy": "removed"}[report.verb]
    console.print(f"{report.verb} --target {report.target}: {len(done)} {verb}, {len(kept)} already there, "
                  f"{len(report.failed)} failed.")
    if done and report.verb == "destroy":
        for o in done:
            console.print(f"  removed {o.action.resource} {o.action.name}" + (f" ({o.message})" if o.message else ""))
    for note in notes:
        console.print(f"note: {note}")
    if report.failed:
        table = Table("resource", "name", "for", "why", title="Failed")
        for o in report.failed:
            table.add_row(o.action.resource, o.action.name, o.action.participant, o.message)
        console.print(table)


def show_status(target: str, rows: list[StatusRow]) -> None:
    from rich.table import Table

    table = Table("who", "role", "state", "url", "detail", title=f"status --target {target}")
    for row in rows:
        table.add_row(row.who, row.role, row.state, row.url, row.detail)
    _console().print(table)
