"""`matsuri hackathon funnel` and `matsuri hackathon baseline` (registered by hackathon.commands):
each parses its options, calls the library, prints."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import typer

from matsuri.funnel import ACTIVITY_ENV, PARTICIPANTS_ENV


def funnel_command(
    ctx: typer.Context,
    csv: Path = typer.Option(None, "--csv", help="Write one row per person (stages, times) to this CSV file."),
    html: Path = typer.Option(None, "--html", help="Write the funnel page (chart embedded, no network needed) here."),
    participants: Path = typer.Option(
        None, envvar=PARTICIPANTS_ENV,
        help="participants.csv, with a job column (default: participants.csv at the project root)."),
    activity: list[Path] = typer.Option(
        None, "--activity",
        help="A folder of learners' workspaces, <user>/.matsuri/activity.jsonl (repeat; default: "
             f"${ACTIVITY_ENV}, else the local target's event/workspaces). Homes of accounts named like "
             "participants (JupyterHub) are always read."),
) -> None:
    """The festival funnel: registered → courses → scored submission → baseline → demo, per person and team."""
    from rich.console import Console
    from rich.table import Table

    from matsuri.funnel import export
    from matsuri.funnel.compute import STAGES, Sources, build
    from matsuri.hackathon.event import open_event
    from matsuri.sandbox.text import printable

    event = open_event(ctx.obj)
    funnel = build(Sources.default(event, participants, activity or None))
    table = Table("stage", "everyone", "non-engineers", title=f"{funnel.event_name}: festival funnel")
    everyone, others = funnel.count("registered"), funnel.count("registered", False)
    for stage in STAGES:
        table.add_row(f"{stage.ja} ({stage.en})", _share(funnel.count(stage.id), everyone),
                      _share(funnel.count(stage.id, False), others))
    Console().print(table)
    h = funnel.headline
    share = f"{100 * h.share:.0f}% ({h.non_engineers_scored} of {h.non_engineers})" if h.share is not None else \
        "no non-engineer participants (check the job column)"
    typer.echo(f"Non-engineer participants with a scored submission: {share}")
    median = export.duration(h.median_hours, "en") + f" ({h.timed} people)" if h.median_hours is not None else "–"
    typer.echo(f"Median time from first lesson activity to first scored submission: {median}")
    for note in funnel.notes:  # may quote names from the sheet or the store: printed plain
        typer.secho(f"note: {printable(note)}", fg="yellow")
    if csv:
        typer.secho(f"Per person: {export.write_atomic(csv, export.csv_text(funnel))}", fg="green")
    if html:
        from matsuri.funnel.chart import funnel_chart

        lang = event.settings.language
        page = export.render(funnel, funnel_chart(funnel, lang), event.settings.zone, lang)
        typer.secho(f"Funnel page: {export.write_atomic(html, page)}", fg="green")


def _share(count: int, total: int) -> str:
    return f"{count} ({100 * count / total:.0f}%)" if total else str(count)


def baseline_command(
    ctx: typer.Context,
    theme: str = typer.Argument(..., help="The theme id."),
    predictions: Path = typer.Argument(
        ..., help="The baseline's predictions: the folder the starter writes them to "
                  "(submission-baseline/) or one CSV file."),
    warehouse: Path = typer.Option(None, help="The learners' warehouse (default: the built one)."),
    labels: Path = typer.Option(None, help="The organiser labels store (default: the built one)."),
) -> None:
    """Score a theme's baseline like a submission (nothing is recorded) and print its event.toml line."""
    from matsuri.errors import NotFound
    from matsuri.hackathon.event import open_event
    from matsuri.hackathon.leaderboard import primary_metric
    from matsuri.hackathon.scoring import score_folder
    from matsuri.hackathon.submissions import scoring_job
    from matsuri.theme_spec import get, shown

    event = open_event(ctx.obj, must_exist=False)
    metric, _ = primary_metric(event, theme)
    if not predictions.exists():
        raise NotFound(f"There is no {predictions}. Run the theme's starter notebook (it writes the "
                       "baseline's predictions to submission-baseline/) and pass that folder.")
    with tempfile.TemporaryDirectory() as scratch:
        folder = predictions
        if predictions.is_file():  # one CSV: the theme's first prediction file, as `submit` takes it
            folder = Path(scratch)
            shutil.copyfile(predictions, folder / get(theme).files[0].name)
        value = score_folder(scoring_job(event, theme, folder, warehouse, labels))["public"][metric]
    typer.secho(f"The baseline's public {metric} on {theme}: {shown(theme, metric, value)}", fg="green")
    typer.echo(f"To compare teams with it, put this under [themes.{theme}] in {event.settings.path}:")
    typer.echo(f"baseline = {value:.6g}")
