"""Submitting: limits (limits.py), what is handed in (handin.py), a confined notebook run, checks, scoring,
and the record of it all (records.py).

Every attempt gets a row and a folder (state/submissions/<id>/): what was given, the executed
notebook and its log, the predictions. A rejected attempt keeps its row with the message and
changes nothing else: no scores, no effect on limits or the leaderboard. Limits count scored
submissions and the ones still running (a place is reserved in the same transaction that checks
the count, so two terminals cannot both take the last place).
"""

from __future__ import annotations

import datetime as dt
import os
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
    """Check limits, take the submission in, run it if it is a notebook, check and score it.

    Notebooks run in the sandbox as the team's identity; `sandbox=False` (the organiser's
    --no-sandbox) runs them as the organiser, which the log and the leaderboard then show.
    """
    info = get_team(event, team)
    if not info.theme:
        raise UsageError(
            f"Team '{team}' has not chosen a theme yet. Start with `matsuri hackathon new {team} "
            f"--theme THEME` ({', '.join(event.settings.themes)})."
        )
    source = Path(source)
    if not source.exists():
        raise NotFound(f"There is nothing at {source}. Give the path of a notebook, a CSV file or a folder.")
    kind = handin.kind_of(source)
    spec = theme_spec.get(info.theme)
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)  # stored in UTC: comparable as text
    submission_id, problem = records.reserve(event, team, info.theme, kind, source, now, sandbox)
    if problem:
        raise InvalidSubmission(problem)
    folder = event.submission_dir(submission_id)
    files = folder / "files"
    job = scoring_job(event, info.theme, files, warehouse, labels)
    status = "rejected"
    message = (f"Submission {submission_id} stopped unexpectedly before it was checked, so it does not "
               "count. Submit again, and tell the organisers if it happens again.")
    try:
        folder.mkdir(parents=True, exist_ok=False)
        if kind == "notebook":
            (folder / "source").mkdir()
            copy = folder / "source" / source.name
            handin.take_in(source, kind, folder / "source", job.max_bytes, spec)
            handin.check_notebook(copy)
            user = _require_sandbox(event, info.slot, job) if sandbox else ""
            run = runner.NotebookJob(copy, folder, files, event.settings, job.warehouse, user,
                                     job.max_bytes, team, submission_id)
            runner.backend("sandbox" if sandbox else "trusted").run(run)
        else:
            handin.take_in(source, kind, files, job.max_bytes, spec)
        scores = scoring.score_folder(job)
        digest = handin.digest(files, spec)
        records.finish(event, submission_id, "scored", None, scores, digest)
        status, message = "scored", None
    except InvalidSubmission as error:
        message = f"Submission {submission_id} was not accepted. {error}"
        raise InvalidSubmission(message) from None
    except MatsuriError as error:
        message = f"Submission {submission_id} could not be run: {error}"
        raise
    except KeyboardInterrupt:
        status = "cancelled"
        message = (f"Submission {submission_id} was cancelled (interrupted before it was checked); "
                   "it does not count. Submit again.")
        raise Interrupted(message) from None
    finally:
        if status != "scored":
            records.finish(event, submission_id, status if status == "cancelled" else "rejected", message)
        _log_outcome(folder, source, status, message)
    return get_submission(event, submission_id)


def _log_outcome(folder: Path, source: Path, status: str, message: str | None) -> None:
    """End the submission's log.txt (after the notebook run's own lines, if any) with its outcome."""
    from matsuri.sandbox.text import printable

    if not folder.is_dir():
        return
    line = f"{store.now()} submitted {source.name}: {status}{': ' + message if message else ''}"
    with open(folder / "log.txt", "a", encoding="utf-8") as log:
        log.write(printable(line) + "\n")


def _require_sandbox(event: Event, slot: int, job: scoring.ScoringJob) -> str:
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
