"""`matsuri infra …`: plan, apply, status and destroy machines for every participant.

Commands only parse options, call the provisioner and print; the library does the work.
"""

from __future__ import annotations

from pathlib import Path

import typer

from matsuri.errors import MatsuriError, UsageError

app = typer.Typer(no_args_is_help=True, add_completion=False)
exchange_app = typer.Typer(no_args_is_help=True, add_completion=False)
jobs_app = typer.Typer(no_args_is_help=True, add_completion=False)
app.add_typer(exchange_app, name="exchange",
              help="Release, fetch, submit and collect assignments through the event's S3 bucket (SageMaker).")
app.add_typer(jobs_app, name="jobs",
              help="Grade or score at scale: shard the work into SageMaker Processing jobs.")

TARGET = typer.Option(..., "--target", "-t", help="local | jupyterhub | sagemaker")
PARTICIPANTS = typer.Option(None, "--participants", "-p",
                            help="participants.csv (username,email,role,team).")
SETTINGS = typer.Option(None, "--settings", help="Event settings (default: infra/settings.toml).")


def _provisioner(target: str, participants: Path | None, settings: Path | None, required: bool = True,
                 **options):
    from matsuri.infra import participants as people
    from matsuri.infra import settings as event_settings
    from matsuri.infra.base import get_provisioner

    cls = get_provisioner(target)
    if participants is None and required:
        raise UsageError("Pass --participants participants.csv (columns username,email,role,team).")
    crowd = people.load(participants) if participants is not None else []
    return cls(event_settings.load(settings), crowd, **options)


@app.command("plan")
def plan_command(target: str = TARGET, participants: Path = PARTICIPANTS, settings: Path = SETTINGS,
                 offline: bool = typer.Option(False, help="Look nothing up (assume nothing exists yet)."),
                 ) -> None:
    """Dry run: what apply would create, every request validated offline, and the cost estimate."""
    from matsuri.infra.report import show_plan

    plan = _provisioner(target, participants, settings, offline=offline).plan()
    show_plan(plan)
    if plan.problems:
        raise UsageError(f"{len(plan.problems)} request(s) would be refused (listed above); "
                         "fix the settings or participants.csv and plan again.")


@app.command("apply")
def apply_command(target: str = TARGET, participants: Path = PARTICIPANTS, settings: Path = SETTINGS,
                  progress: bool = typer.Option(True, help="Show a progress bar.")) -> None:
    """Create what is missing (a second run creates nothing new); one failure does not stop the rest."""
    from matsuri.infra.report import show_report

    provisioner = _provisioner(target, participants, settings)
    report = provisioner.apply(progress=progress)
    show_report(report, getattr(provisioner, "apply_notes", []))
    if report.failed:
        raise MatsuriError(f"{len(report.failed)} step(s) failed (listed above). Fix the cause and run "
                           "apply again: it creates only what is still missing.")


@app.command("status")
def status_command(target: str = TARGET, participants: Path = PARTICIPANTS, settings: Path = SETTINGS,
                   presigned: bool = typer.Option(False, help="SageMaker: fresh sign-in-free URLs (valid 5 min)."),
                   ) -> None:
    """Who has what: one row per participant with state and URL."""
    from matsuri.infra.report import show_status

    provisioner = _provisioner(target, participants, settings)
    rows = provisioner.status(presigned=presigned) if target == "sagemaker" else provisioner.status()
    show_status(target, rows)


@app.command("destroy")
def destroy_command(target: str = TARGET, participants: Path = PARTICIPANTS, settings: Path = SETTINGS,
                    include_data: bool = typer.Option(False, help="Also remove stored data (the S3 bucket)."),
                    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
                    ) -> None:
    """Remove what this event created (found by its tag or label), and report what was removed."""
    from matsuri.infra.base import run_actions
    from matsuri.infra.report import show_plan, show_report

    provisioner = _provisioner(target, participants, settings, required=False, include_data=include_data)
    plan = provisioner.teardown()
    if not plan.actions:
        typer.echo(f"Nothing of event {provisioner.settings.event.id} to remove on {target}.")
        for note in plan.notes:
            typer.echo(f"note: {note}")
        return
    show_plan(plan, verb="destroy")
    if not yes and not typer.confirm(f"Remove these {len(plan.actions)} resources?"):
        raise typer.Exit(1)
    report = run_actions(plan, "destroy", provisioner.workers)
    show_report(report, plan.notes)
    if report.failed:
        raise MatsuriError(f"{len(report.failed)} removal(s) failed (listed above); run destroy again.")


@app.command("serve-hub")
def serve_hub_command(settings: Path = SETTINGS) -> None:
    """Start the event's JupyterHub (after `apply --target jupyterhub`), in the foreground."""
    from matsuri.infra import settings as event_settings
    from matsuri.infra.hub import launch

    launch.serve(event_settings.load(settings))


def _where(bucket: str | None, participant: str | None, region: str | None):
    from matsuri.infra.aws.exchange import Where, here

    if bucket and participant:
        return Where(bucket, participant, region)
    found = here()
    return Where(bucket or found.bucket, participant or found.participant, region or found.region, found.language)


@exchange_app.command("release")
def release_command(course: str, assignment: str,
                    folder: Path = typer.Option(..., help="nbgrader's release/<assignment> folder."),
                    bucket: str = typer.Option(..., help="The event's bucket."),
                    region: str = typer.Option(None),
                    language: str = typer.Option("", help="Publish this folder as the copy for those who "
                                                 "read LANGUAGE (release-by-language/<language>/<assignment>).")) -> None:
    """Instructor: publish a released assignment to every participant."""
    from matsuri.infra.aws.exchange import Where, release, release_prefix

    count = release(Where(bucket, "instructor", region), course, assignment, folder, language)
    typer.echo(f"Released {assignment} ({count} files) to s3://{bucket}/{release_prefix(course, assignment, language)}")


@exchange_app.command("fetch")
def fetch_command(course: str, assignment: str, dest: Path = typer.Option(Path("."), help="Folder to fetch into."),
                  bucket: str = typer.Option(None), participant: str = typer.Option(None),
                  region: str = typer.Option(None)) -> None:
    """Learner: download a released assignment (your own edits are never overwritten)."""
    from matsuri.infra.aws.exchange import fetch

    target = fetch(_where(bucket, participant, region), course, assignment, dest)
    typer.echo(f"Fetched {assignment} into {target}")


@exchange_app.command("submit")
def submit_command(course: str, assignment: str, folder: Path = typer.Option(None, help="Default: ./<assignment>"),
                   bucket: str = typer.Option(None), participant: str = typer.Option(None),
                   region: str = typer.Option(None)) -> None:
    """Learner: hand in your assignment folder."""
    from matsuri.infra.aws.exchange import submit

    where = _where(bucket, participant, region)
    url = submit(where, course, assignment, folder or Path(assignment))
    typer.echo(f"Submitted {assignment} as {where.participant} ({url})")


@exchange_app.command("collect")
def collect_command(course: str, assignment: str,
                    course_dir: Path = typer.Option(..., help="The nbgrader course folder to collect into."),
                    bucket: str = typer.Option(..., help="The event's bucket."),
                    region: str = typer.Option(None)) -> None:
    """Instructor: each participant's latest submission into submitted/<name>/<assignment>/."""
    from matsuri.infra.aws.exchange import Where, collect

    got = collect(Where(bucket, "instructor", region), course, assignment, course_dir)
    for name, stamp in got.items():
        typer.echo(f"{name}\t{stamp}")
    typer.echo(f"Collected {len(got)} submission(s) of {assignment} into {course_dir / 'submitted'}")


@jobs_app.command("submit")
def jobs_submit_command(
    items: list[Path] = typer.Argument(..., help="Submission folders or files; each goes whole to one shard."),
    command: str = typer.Option(..., help="What each job runs in the image, with its input at "
                                "/opt/ml/processing/input and its output at /opt/ml/processing/output."),
    image: str = typer.Option(..., help="Container image with the kit (from the company registry)."),
    role_arn: str = typer.Option(..., help="IAM role the jobs run as (reads and writes the event's bucket)."),
    shards: int = typer.Option(4, help="How many Processing jobs to split the work into."),
    instance_type: str = typer.Option("ml.m5.large"),
    kind: str = typer.Option("grade", help="Names the run: grade, score, …"),
    settings: Path = SETTINGS,
) -> None:
    """Upload each shard and start one Processing job per shard."""
    import shlex

    from matsuri.infra import settings as event_settings
    from matsuri.infra.aws.processing import ProcessingRun

    run = ProcessingRun(event_settings.load(settings), ProcessingRun.new_id(kind), image, role_arn,
                        shlex.split(command), instance_type)
    outcome = run.submit(items, shards)
    for job, state in outcome.items():
        typer.echo(f"{job}\t{state}")
    typer.echo(f"Run {run.run_id}: follow it with `matsuri infra jobs status {run.run_id}`.")
    if any(state != "started" for state in outcome.values()):
        raise MatsuriError("Some shards did not start (listed above); submit them again.")


@jobs_app.command("status")
def jobs_status_command(run_id: str, settings: Path = SETTINGS) -> None:
    """Each job of a run and its state."""
    from matsuri.infra import settings as event_settings
    from matsuri.infra.aws.processing import ProcessingRun

    run = ProcessingRun.find(event_settings.load(settings), run_id)
    for job, state in sorted(run.wait(timeout_minutes=0).items()):
        typer.echo(f"{job}\t{state}")


@jobs_app.command("collect")
def jobs_collect_command(run_id: str, dest: Path = typer.Option(..., help="Folder for every shard's output."),
                         settings: Path = SETTINGS) -> None:
    """Bring every shard's output home, under DEST/shard-<i>/."""
    from matsuri.infra import settings as event_settings
    from matsuri.infra.aws.processing import ProcessingRun

    got = ProcessingRun.find(event_settings.load(settings), run_id).collect(dest)
    typer.echo(f"Collected {sum(len(v) for v in got.values())} files from {len(got)} shards into {dest}")
