"""`matsuri handoff …`: a winning submission → a component, and the tools that go with it.

`matsuri handoff TEAM --out DIR` is short for `matsuri handoff pack TEAM --out DIR`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from typer.core import TyperGroup


class TeamFirst(TyperGroup):
    """A first word that is not a command is a team: `handoff alpha` runs `handoff pack alpha`."""

    def parse_args(self, ctx, args):
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["pack", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=TeamFirst, no_args_is_help=True, add_completion=False)


@app.command("pack")
def pack_command(
    team: str = typer.Argument(..., help="The team whose submission becomes a component."),
    out: Path = typer.Option(..., "--out", help="The folder to write (new or empty)."),
    submission: int = typer.Option(None, "--submission", help="Which submission (default: the team's "
                                   "selected one, else its best scored notebook)."),
    model: str = typer.Option("", help="The notebook variable holding the trained model (default: the theme's)."),
    baseline: str = typer.Option("", help="The notebook variable holding the baseline (default: the theme's)."),
    event: Path = typer.Option(None, "--event", help="Folder holding event.toml (default: $MATSURI_EVENT, "
                               "else hackathon/ in the project)."),
    sandbox: bool = typer.Option(True, "--sandbox/--no-sandbox", help="Run the notebook in the runner's "
                                 "sandbox (default) or as you (only for code you trust)."),
    force: bool = typer.Option(False, help="Replace what is in --out."),
) -> None:
    """Turn a scored submission into a component: model, API, batch job, model card, KPIs, A/B plan."""
    from rich.console import Console

    from matsuri.hackathon.event import open_event
    from matsuri.handoff.bundle import make

    console = Console()
    with console.status(f"Running team {team}'s notebook again and keeping its model…"):
        pack = make(open_event(event), team, out, submission, model, baseline, sandbox=sandbox, force=force)
    spec = pack.spec
    console.print(f"[green]Component written to {pack.folder}[/] in {pack.seconds:.0f} s "
                  f"(submission {spec['submission']}, {spec['model']['summary']}).", highlight=False)
    for name, value in spec["metrics"]["model"].items():
        bases = ", ".join(f"{b['name']['en']} {b['scores'].get(name, float('nan')):.4f}"
                          for b in spec["metrics"]["baselines"])
        console.print(f"  {name}: {value:.4f}" + (f" (baseline: {bases})" if bases else ""), highlight=False)
    console.print(f"Next: read {pack.folder / 'model-card.html'}; serve it with "
                  f"`matsuri handoff serve {pack.folder}`.", highlight=False)


@app.command("serve")
def serve_command(
    folder: Path = typer.Argument(Path("."), help="A folder `matsuri handoff` wrote."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port."),
    warehouse: str = typer.Option("", help="The warehouse a ranking reads (default: $MATSURI_WAREHOUSE)."),
    max_rows: int = typer.Option(1000, help="Most rows one request may send."),
) -> None:
    """Serve the component's /predict, /health and /docs with uvicorn."""
    import uvicorn

    from matsuri.handoff.service import create_app

    uvicorn.run(create_app(folder, warehouse or None, max_rows), host=host, port=port)


@app.command("batch")
def batch_command(
    folder: Path = typer.Argument(Path("."), help="A folder `matsuri handoff` wrote."),
    start: str = typer.Option("", help="First day scored (default: --days before --end)."),
    end: str = typer.Option("", help="The day after the last one scored (default: today)."),
    days: int = typer.Option(7),
    output: Path = typer.Option(Path("scores.duckdb"), help="DuckDB file to write (never the warehouse)."),
    table: str = typer.Option("predictions", help="Table to (re)create in it."),
    warehouse: str = typer.Option("", help="Default: $MATSURI_WAREHOUSE."),
) -> None:
    """Score the rows of a period into a table (what batch.ipynb does under papermill)."""
    from matsuri.handoff.batch import run

    result = run(folder, start, end, days, output, table, warehouse)
    typer.echo(f"{result.rows:,} rows scored ({result.start} … {result.end}) → {result.output} table {result.table}")


@app.command("ab-plan")
def ab_plan_command(
    baseline: float = typer.Option(..., help="Today's rate, e.g. 0.12 for a 12 % open rate."),
    effect: float = typer.Option(..., help="The smallest change worth noticing, e.g. 0.01 (one point)."),
    alpha: float = typer.Option(0.05),
    power: float = typer.Option(0.8),
    lang: str = typer.Option("ja", help="ja or en."),
) -> None:
    """How many users each group of an A/B test needs."""
    from matsuri.handoff import ab

    typer.echo(ab.plan(baseline, effect, alpha, power).text(lang))


@app.command("ab-read")
def ab_read_command(
    results: Path = typer.Argument(..., help="CSV: group,converted per user, or group,n,successes per group."),
    alpha: float = typer.Option(0.05),
    control: str = typer.Option(None, help="The control group's name (default: A / control / 対照, else the first)."),
    planned: int = typer.Option(None, help="The planned users per group (ab-plan), to say whether it was reached."),
    lang: str = typer.Option("ja", help="ja or en."),
) -> None:
    """Read an A/B test: each group's rate, the difference with its confidence interval, a decision."""
    from matsuri.handoff import ab

    typer.echo(ab.read(results, alpha=alpha, planned=planned, control=control).text(lang))
