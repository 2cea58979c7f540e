"""`matsuri gallery serve`: the judges' gallery on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.callback()
def main() -> None:
    """Serve the teams' demos, the leaderboard and the rubric app to judges with Voila."""


@app.command("serve")
def serve_command(
    event: Path = typer.Option(None, help="Folder holding event.toml (default: $MATSURI_EVENT or hackathon/)."),
    port: int = typer.Option(8866, help="Port on 127.0.0.1."),
    token: str = typer.Option(
        "", envvar="MATSURI_GALLERY_TOKEN",
        help="Access token for the pages; a random one if empty. Prefer the environment variable: "
             "every user on the machine can see a command line.",
    ),
    preheat: bool = typer.Option(None, "--preheat/--no-preheat", help="Warm kernels (default: settings)."),
    final: bool = typer.Option(False, help="Show the final (private) ranking instead of the public one."),
) -> None:
    """Start Voila with the index, every team's demo and the rubric app; stop with Ctrl-C."""
    import signal
    import sys
    import time

    from matsuri.gallery.server import demo_urls, serve
    from matsuri.hackathon.event import open_event

    def stop(signum, frame):
        raise KeyboardInterrupt

    # Ctrl-C and `kill` both stop the gallery cleanly, even when started with SIGINT ignored
    # (as background jobs of a script are): Voila runs in its own session and is stopped by us.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    opened = open_event(event)
    # Voila's log on ours
    with serve(opened, port, token, preheat, final, log=sys.stderr, progress=True) as running:
        typer.secho(f"Gallery: {running.url}", fg="green", bold=True)
        typer.echo(f"Rubric for judges: {running.page('rubric.ipynb')}")
        typer.echo(f"Festival funnel: {running.page('funnel.ipynb')}")
        for team, url in demo_urls(running).items():
            typer.echo(f"  demo of {team}: {url}")
        typer.echo("Press Ctrl-C to stop.")
        try:
            while running.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            typer.echo("Stopping the gallery…")
