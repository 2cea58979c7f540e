"""`matsuri course …`: release lessons, collect submissions, grade them, show progress.

Each command parses its options, calls one library function, and prints the result; the work
itself lives in release.py, collect.py, autograde.py and progress.py.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from matsuri.errors import UsageError

app = typer.Typer(no_args_is_help=True, add_completion=False)

LESSON = typer.Option(None, "--lesson", help="Only this lesson (default: every lesson).")
WORKDIR = typer.Option(None, "--workdir", help="Folder for course work (default: courses/build, or MATSURI_COURSE_WORK).")
EXCHANGE = typer.Option(None, "--exchange", help="nbgrader exchange folder (default: <workdir>/exchange, or MATSURI_EXCHANGE).")
WAREHOUSE = typer.Option(None, "--warehouse", help="The DuckDB warehouse (default: the built one).")


class RunOn(StrEnum):
    local = "local"
    sagemaker = "sagemaker"


def _workspace(course: str, workdir, exchange, warehouse, cell_timeout=None):
    from matsuri.grading.course import load
    from matsuri.grading.workspace import Workspace

    return Workspace.open(load(course), workdir, exchange, warehouse, cell_timeout)


@app.command("release")
def release_command(
    course: str = typer.Argument(..., help="Course name, e.g. sql-101."),
    lesson: str = LESSON, workdir: Path = WORKDIR, exchange: Path = EXCHANGE,
    warehouse: Path = WAREHOUSE,
) -> None:
    """Make learner notebooks (no solutions), their check keys, and put them on the exchange."""
    from matsuri.grading.release import release

    ws = _workspace(course, workdir, exchange, warehouse)
    result = release(ws, lesson)
    slowest = max((s for q in result.query_seconds.values() for s in q.values()), default=0.0)
    typer.secho(f"Released {len(result.lessons)} lesson(s) of {course} to {result.exchange}",
                fg="green")
    typer.echo(f"Learner copies: {result.release_dir} (slowest reference query {slowest:.2f} s)")


@app.command("collect")
def collect_command(
    course: str = typer.Argument(..., help="Course name, e.g. sql-101."),
    lesson: str = LESSON,
    source: Path = typer.Option(None, "--from", help="A folder of submissions instead of the exchange: <learner>/<lesson>/<lesson>.ipynb or <learner>/<lesson>.ipynb."),
    workdir: Path = WORKDIR, exchange: Path = EXCHANGE,
) -> None:
    """Bring learners' submissions into the course (newer ones replace older ones)."""
    from matsuri.grading.collect import collect

    result = collect(_workspace(course, workdir, exchange, None), lesson, source)
    for lesson_id, students in result.collected.items():
        if students or lesson:
            typer.echo(f"{lesson_id}: {len(students)} new submission(s)")
    if not any(result.collected.values()):
        typer.echo("No new submissions.")
    for note in result.skipped:
        typer.secho(f"skipped {note}", fg="yellow", err=True)


@app.command("grade")
def grade_command(
    course: str = typer.Argument(..., help="Course name, e.g. sql-101."),
    lesson: str = LESSON,
    workers: int = typer.Option(1, "--workers", min=1, help="Notebooks graded at the same time (one per CPU core is a good start)."),
    force: bool = typer.Option(False, "--force", help="Grade again even submissions already graded."),
    learners: list[str] = typer.Option(None, "--learner", help="Only this learner (repeat for several)."),
    feedback: bool = typer.Option(True, "--feedback/--no-feedback", help="Write feedback HTML per learner."),
    cell_timeout: int = typer.Option(None, "--cell-timeout", help="Seconds a cell may run (default: course.toml)."),
    workdir: Path = WORKDIR, exchange: Path = EXCHANGE, warehouse: Path = WAREHOUSE,
    no_sandbox: bool = typer.Option(
        False, "--no-sandbox",
        help="Run learners' code as yourself, without the sandbox: a trusted rehearsal only."),
    on: RunOn = typer.Option(
        "local", "--on", case_sensitive=False,
        help="Where learners' notebooks run: this machine, or SageMaker Processing jobs (--workers "
             "of them; needs the kit's sagemaker extra and the processing_* settings of "
             "infra/settings.toml)."),
) -> None:
    """Autograde with nbgrader (in parallel), write feedback HTML and export the gradebook as CSV."""
    from rich.console import Console
    from rich.table import Table

    from matsuri.grading.autograde import grade

    ws = _workspace(course, workdir, exchange, warehouse, cell_timeout)
    if on is RunOn.sagemaker:
        from matsuri.grading.remote import grade_on_sagemaker

        if no_sandbox:
            raise UsageError("--no-sandbox is for --on local: on SageMaker each job's container "
                             "is the isolation.")
        result = grade_on_sagemaker(ws, lesson, workers=workers, force=force, feedback=feedback,
                                    learners=learners)
    else:
        if no_sandbox:
            typer.secho("WARNING: --no-sandbox: learners' code runs as you and can read all you can.",
                        fg="yellow", err=True)
        result = grade(ws, lesson, workers=workers, force=force, feedback=feedback,
                       learners=learners, sandbox=not no_sandbox)
    table = Table("learner", "lesson", "status", "score", "notes")
    for row in result.rows:
        score = "" if row.score is None else f"{row.score:g} / {row.max_score:g}"
        colour = {"graded": "green", "unchanged": "white", "skipped": "yellow"}.get(row.status, "red")
        table.add_row(row.student, row.lesson, f"[{colour}]{row.status}[/]", score, "; ".join(row.notes))
    Console().print(table)
    for notice in result.notices:
        typer.secho(notice, fg="yellow", err=True)
    summary = ", ".join(f"{result.count(s)} {s}" for s in ("graded", "unchanged", "skipped", "failed"))
    typer.echo(f"{summary}. Gradebook: {result.exports['gradebook']}")
    if result.count("failed") or result.count("skipped"):
        typer.secho("Some submissions were not graded: see the notes above "
                    f"(also in {result.exports['report']}).", fg="yellow", err=True)


@app.command("progress")
def progress_command(
    course: str = typer.Argument(..., help="Course name, e.g. sql-101."),
    out: Path = typer.Option(None, "--out", help="Folder for progress.png / progress.html (default: <course work>/exports)."),
    workdir: Path = WORKDIR,
) -> None:
    """A learners × exercises heatmap (PNG and HTML) and a completion table per lesson."""
    from rich.console import Console
    from rich.table import Table

    from matsuri.errors import NotFound
    from matsuri.grading import progress

    ws = _workspace(course, workdir, None, None)
    if not ws.gradebook.exists():
        raise NotFound(f"No gradebook in {ws.root} yet: release and grade the course first.")
    result = progress.write(ws, out)
    table = Table("lesson", "title", "learners", "average", "full marks")
    for item in result.lessons:
        table.add_row(item.lesson, item.title, str(item.learners), f"{item.average:.0%}", str(item.complete))
    Console().print(table)
    typer.echo(f"Heatmap: {result.png}\nPage: {result.html}")
