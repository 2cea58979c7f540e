"""Submitting: limits (limits.py), what is handed in (handin.py), a confined notebook run, checks, scoring,
and the record of it all (records.py).

Every attempt gets a row and a folder (state/submissions/<id>/): what was given, the executed
notebook and its log, the predictions. A rejected attempt keeps its row with the message and
changes nothing else: no scores, no effect on limits or the leaderboard. Limits count scored
submissions and the ones still running (a place is reserved in the same transaction that checks
the count, so two terminals cannot both take the last place).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

from matsuri import paths, theme_spec
from matsuri.errors import Interrupted, MatsuriError, NotFound, UsageError
from matsuri.hackathon import handin, records, runner, scoring, store
from matsuri.hackathon.event import Event
from matsuri.hackathon.predictions import InvalidSubmission
from matsuri.hackathon.records import Submission, get_submission, list_submissions, remaining
from matsuri.hackathon.teams import get_team

# one import for submitting and reading submissions back
__all__ = ["Submission", "get_submission", "list_submissions", "remaining", "rescore", "submit"]


def scoring_job(event: Event, theme: str, folder: Path, warehouse: Path | None = None,
                labels: Path | None = None) -> scoring.ScoringJob:
    limits = event.settings.theme(theme)
    return scoring.ScoringJob(
        folder, theme, limits.public_share, event.settings.split_seed,
        int(event.settings.max_file_mb * 1_000_000), Path(warehouse or paths.warehouse_path()),
        Path(labels or paths.labels_path()),
    )


def submit(event: Event, team: str, source: Path, warehouse: Path | None = None,
           labels: Path | None = None, now: dt.datetime | None = None,
           sandbox: bool = True) -> Submission:
    """Here and now (the organiser's terminal): check limits, take the submission in, run it if it
    is a notebook, check and score it.

    Notebooks run in the sandbox as the team's identity; `sandbox=False` (the organiser's
    --no-sandbox) runs them as the organiser, which the log and the leaderboard then show.
    Participants' submissions come through the drop box and the runner service instead (queue.py).
    """
    info = get_team(event, team)
    if not info.theme:
        raise UsageError(
            f"Team '{team}' has not chosen a theme yet. Start with `matsuri hackathon new {team} "
            f"--theme THEME` ({', '.join(event.settings.themes)})."
        )
    source = Path(source)
    if not source.exists():
        raise NotFound(handin.nothing_at(source, handin.likely_path(source, event.root, info.workspace)))
    kind = handin.kind_of(source)
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)  # stored in UTC: comparable as text
    submission_id, problem = records.reserve(event, team, info.theme, kind, source, now, sandbox)
    if problem:
        raise InvalidSubmission(problem)
    with settling(event, submission_id, source.name):
        take_in(event, submission_id, source, kind)
        carry_out(event, submission_id, warehouse, labels)
    return get_submission(event, submission_id)


def take_in(event: Event, submission_id: int, source: Path, kind: str) -> None:
    """Copy what was handed in into the submission's folder (see handin.take_in)."""
    row = records.get_submission(event, submission_id)
    folder = event.submission_dir(submission_id)
    folder.mkdir(parents=True, exist_ok=False)
    max_bytes = int(event.settings.max_file_mb * 1_000_000)
    spec = theme_spec.get(row.theme)
    if kind == "notebook":
        handin.take_in(source, kind, folder / "source", max_bytes, spec)
        handin.check_notebook(folder / "source" / source.name)
    else:
        handin.take_in(source, kind, folder / "files", max_bytes, spec)


def carry_out(event: Event, submission_id: int, warehouse: Path | None = None,
              labels: Path | None = None) -> None:
    """Run a taken-in submission if it is a notebook, then check, score and record it."""
    row = records.get_submission(event, submission_id)
    folder = event.submission_dir(submission_id)
    files = folder / "files"
    job = scoring_job(event, row.theme, files, warehouse, labels)
    if row.kind == "notebook":
        copy = next((folder / "source").glob("*.ipynb"))
        name = event.settings.backend if row.sandbox else "trusted"
        # the local sandbox runs as the team's identity; elsewhere (SageMaker) the job is the box
        user = require_sandbox(event, get_team(event, row.team).slot, job) if name == "sandbox" else ""
        run = runner.NotebookJob(copy, folder, files, event.settings, job.warehouse, user,
                                 job.max_bytes, row.team, submission_id)
        runner.backend(name).run(run)
    scores = scoring.score_folder(job)
    records.finish(event, submission_id, "scored", None, scores,
                   handin.digest(files, theme_spec.get(row.theme)))


@contextlib.contextmanager
def settling(event: Event, submission_id: int, name: str, retry: bool = False) -> Iterator[None]:
    """Whatever happens inside, the submission ends scored, rejected (with the reason shown to
    the team) or cancelled, and its log says so. With `retry` (the runner service), a run cut off
    by a stop goes back to the queue once; a second cut rejects it."""
    status = "rejected"
    message = (f"Submission {submission_id} stopped unexpectedly before it was checked, so it does not "
               "count. Submit again, and tell the organisers if it happens again.")
    try:
        yield
        status, message = "scored", None
    except InvalidSubmission as error:
        message = f"Submission {submission_id} was not accepted. {error}"
        raise InvalidSubmission(message) from None
    except MatsuriError as error:
        message = f"Submission {submission_id} could not be run: {error}"
        raise
    except KeyboardInterrupt:
        if retry:
            status, message = records.cut_off(event, submission_id)
        else:
            status = "cancelled"
            message = (f"Submission {submission_id} was cancelled (interrupted before it was checked); "
                       "it does not count. Submit again.")
        raise Interrupted(message) from None
    finally:
        if status in ("rejected", "cancelled"):
            records.finish(event, submission_id, status, message)
        _log_outcome(event.submission_dir(submission_id), name, status, message)


def _log_outcome(folder: Path, name: str, status: str, message: str | None) -> None:
    """End the submission's log.txt (after the notebook run's own lines, if any) with its outcome."""
    from matsuri.sandbox.text import printable

    if not folder.is_dir():
        return
    line = f"{store.now()} submitted {name}: {status}{': ' + message if message else ''}"
    with open(folder / "log.txt", "a", encoding="utf-8") as log:
        log.write(printable(line) + "\n")


def require_sandbox(event: Event, slot: int, job: scoring.ScoringJob) -> str:
    """The team's identity, once this machine can sandbox it; a clear UsageError otherwise."""
    from matsuri.sandbox import identities
    from matsuri.sandbox.box import require

    require()
    settings = event.settings
    user = identities.for_slot(settings.run_as, settings.identities, slot)
    if not identities.exists(user):
        identities.create(user)
    if not os.access(job.warehouse, os.R_OK) or not os.stat(job.warehouse).st_mode & 0o004:
        raise UsageError(
            f"The warehouse {job.warehouse} is not readable by everyone, so the team's sandbox "
            f"could not load the data. Run chmod o+r {job.warehouse} and try again."
        )
    return user


def rescore(event: Event, ids: list[int] | None = None, warehouse: Path | None = None,
            labels: Path | None = None, workers: int = 2, progress: bool = True) -> int:
    """Score scored submissions again from their kept files (same inputs, same numbers)."""
    with event.connect() as con:
        query = "SELECT id, theme FROM submissions WHERE status = 'scored'"
        rows = con.execute(query + " ORDER BY id").fetchall()
    rows = [r for r in rows if ids is None or r["id"] in ids]
    jobs = [scoring_job(event, r["theme"], event.submission_dir(r["id"]) / "files", warehouse, labels)
            for r in rows]
    results = scoring.score_many(jobs, workers=workers, progress=progress)
    for row, result in zip(rows, results, strict=True):
        if isinstance(result, Exception):
            raise UsageError(f"Submission {row['id']} can no longer be scored: {result}")
        with event.connect() as con, store.write(con):
            records.save_scores(con, row["id"], result)
    return len(rows)
