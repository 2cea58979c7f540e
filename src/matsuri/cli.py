"""The `matsuri` command: wires sub-commands and maps errors to exit codes. No logic lives here."""

from __future__ import annotations

import sys

import typer

from matsuri.errors import MatsuriError
from matsuri.gallery.commands import app as gallery_app
from matsuri.grading.commands import app as course_app
from matsuri.hackathon.commands import app as hackathon_app
from matsuri.handoff.commands import app as handoff_app
from matsuri.infra.commands import app as infra_app
from matsuri.lab import lab
from matsuri.sandbox.text import printable
from matsuri.warehouse.commands import app as data_app

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Run your company's own machine-learning festival.",
)
app.add_typer(data_app, name="data", help="Build and explore the synthetic company warehouse.")
app.command("lab", help="Start JupyterLab on this machine for the festival.")(lab)
app.add_typer(course_app, name="course", help="Courses: release lessons, collect and grade submissions, show progress.")
app.add_typer(hackathon_app, name="hackathon", help="Run the hackathon: teams, submissions, leaderboard, judging, awards.")
app.add_typer(gallery_app, name="gallery", help="The judges' gallery: demos, leaderboard and rubric in Voila.")
app.add_typer(infra_app, name="infra", help="Machines for every participant: local, JupyterHub or SageMaker.")
app.add_typer(handoff_app, name="handoff", help="After the festival: a winning submission becomes a component (API, batch, model card).")


def main() -> None:
    """Entry point: a MatsuriError becomes its message on stderr and its exit code, never a traceback.

    Messages often quote what a participant wrote (file names, CSV values, a notebook's error), so
    they are stripped of terminal escape sequences before they reach the organiser's terminal.
    """
    try:
        app()
    except MatsuriError as error:
        typer.secho(f"error: {printable(str(error))}", fg=typer.colors.RED, err=True)
        sys.exit(error.exit_code)
