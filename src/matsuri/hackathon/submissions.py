"""Submitting: limits, intake, a confined notebook run, checks, scoring, and the record of it all.

Every attempt gets a row and a folder (state/submissions/<id>/): what was given, the executed
notebook and its log, the predictions. A rejected attempt keeps its row with the message and
changes nothing else: no scores, no effect on limits or the leaderboard. Limits count scored
submissions and the ones still running (a place is reserved in the same transaction that checks
the count, so two terminals cannot both take the last place).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from matsuri import paths
from matsuri.errors import Interrupted, MatsuriError, NotFound, UsageError
from matsuri.hackathon import runner, scoring, store
from matsuri.hackathon.event import Event
from matsuri.hackathon.predictions import InvalidSubmission
from matsuri.hackathon.teams import get_team
from matsuri.sandbox.box import still_running, this_process

COUNTED = ("running", "scored")


@dataclass
class Submission:
    id: int
    team: str
    theme: str
    kind: str
    source: str
    submitted_at: str
    status: str
    message: str | None
    public: dict[str, float] = field(default_factory=dict)
    private: dict[str, float] = field(default_factory=dict)
    folder: Path | None = None


def _kind(source: Path) -> str:
    if source.is_dir():
        return "folder"
    return {".ipynb": "notebook", ".csv": "file"}.get(source.suffix.lower(), "unsupported")


def _local_day(iso: str, event: Event) -> dt.date:
    return dt.datetime.fromisoformat(iso).astimezone(event.settings.zone).date()


def _limit_problem(con, event: Event, team: str, theme: str, now: dt.datetime) -> str | None:
    settings = event.settings
    limits = settings.theme(theme)
    if not settings.is_open(now):
        today = now.astimezone(settings.zone).date()
        return (f"Submissions are accepted from {settings.starts} to {settings.ends} "
                f"({settings.timezone} time), and today is {today}, so this submission was not "
                "scored. Ask the organisers if you think the dates are wrong.")
    rows = con.execute(
        f"SELECT submitted_at FROM submissions WHERE team = ? AND theme = ? AND status IN {COUNTED}",
        (team, theme),
    ).fetchall()
    if len(rows) >= limits.total_limit:
        return (f"Team '{team}' has used all {limits.total_limit} submissions allowed for "
                f"{theme} in this event, so this one was not scored. Choose your final submission "
                f"with `matsuri hackathon select {team} ID` from the ones you have.")
    today = now.astimezone(settings.zone).date()
    used = sum(1 for r in rows if _local_day(r[0], event) == today)
    if used >= limits.daily_limit:
        return (f"Team '{team}' has used its {limits.daily_limit} submissions for today ({today}, "
                f"{settings.timezone} time) on {theme}, so this one was not scored. You can submit "
                "again from midnight; until then, compare ideas on a validation split in your notebook.")
    return None


def _release_stale(con, event: Event, team: str, now: dt.datetime) -> None:
    """A run whose organiser process died (power cut, kill -9) stays 'running': cancel it, so it
    does not count against the team's limits (its sandbox died with that process)."""
    rows = con.execute("SELECT id, runner FROM submissions WHERE team = ? AND status = 'running'",
                       (team,)).fetchall()
    for row in rows:
        if not still_running(row["runner"]):
            con.execute(
                "UPDATE submissions SET status = 'cancelled', finished_at = ?, message = ? WHERE id = ?",
                (now.isoformat(timespec="microseconds"),
                 f"Submission {row['id']} was cancelled: its run stopped without finishing (the "
                 "machine or the command was stopped). It does not count; submit again.", row["id"]))


def _reserve(event: Event, team: str, theme: str, kind: str, source: Path, now: dt.datetime,
             sandbox: bool = True):
    """Insert the attempt as running, or as rejected with the limit it hit; one transaction."""
    with event.connect() as con, store.write(con):
        _release_stale(con, event, team, now)
        problem = _limit_problem(con, event, team, theme, now)
        if problem is None and kind == "unsupported":
            problem = (f"{source.name} cannot be submitted: matsuri accepts a notebook (.ipynb), a "
                       "predictions file (.csv) or a folder holding predictions.csv. Save your "
                       "predictions as a CSV file (or submit the notebook that writes them) and "
                       "submit again.")
        status = "rejected" if problem else "running"
        cursor = con.execute(
            "INSERT INTO submissions (team, theme, kind, source, submitted_at, finished_at, status,"
            " message, runner, sandbox) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (team, theme, kind, str(source), now.isoformat(timespec="microseconds"),
             now.isoformat(timespec="microseconds") if problem else None, status, problem,
             this_process(), "on" if sandbox or kind != "notebook" else "off"),
        )
        if problem:  # the stored message reads exactly as the one shown
            problem = f"Submission {cursor.lastrowid} was not accepted. {problem}"
            con.execute("UPDATE submissions SET message = ? WHERE id = ?", (problem, cursor.lastrowid))
        return cursor.lastrowid, problem


def _finish(event: Event, submission_id: int, status: str, message: str | None = None,
            scores: dict | None = None, digest: str | None = None) -> None:
    with event.connect() as con, store.write(con):
        con.execute("DELETE FROM scores WHERE submission_id = ?", (submission_id,))
        for part, values in (scores or {}).items():
            con.executemany(
                "INSERT INTO scores (submission_id, part, metric, value) VALUES (?, ?, ?, ?)",
                [(submission_id, part, m, float(v)) for m, v in values.items()],
            )
        con.execute(
            "UPDATE submissions SET status = ?, message = ?, finished_at = ?, digest = ? WHERE id = ?",
            (status, message, store.now(), digest, submission_id),
        )


def _intake(source: Path, kind: str, files: Path, max_bytes: int) -> None:
    """Copy what was handed in: a CSV becomes predictions.csv; a folder gives its two known files;
    a notebook keeps its name.

    Only ordinary files are taken, never through a link (see matsuri.sandbox.intake): this runs
    as root on a path a participant chose.
    """
    from matsuri.sandbox.intake import copy_in, folder_entries, open_folder
    from matsuri.sandbox.text import quoted

    files.mkdir(parents=True, exist_ok=True)
    if kind in ("file", "notebook"):
        copy_in(source, files / ("predictions.csv" if kind == "file" else source.name), max_bytes)
        return
    with open_folder(source) as folder:
        entries = folder_entries(folder)
        if "predictions.csv" not in entries:
            present = ", ".join(quoted(n) for n in sorted(entries)[:6]) or "nothing"
            raise InvalidSubmission(
                f"The folder {quoted(source.name)} has no predictions.csv (it holds: {present}). Put "
                "your predictions in a file named predictions.csv inside it and submit again."
            )
        for name in runner.OUTPUT_FILES:
            if name in entries:
                copy_in(Path(name), files / name, max_bytes,
                        f"{name} in the folder {source.name}", folder=folder)


def _check_notebook(path: Path) -> None:
    import nbformat

    try:
        nbformat.read(path, as_version=4)
    except Exception:
        raise InvalidSubmission(
            f"{path.name} is not a notebook that Jupyter can open (it may be damaged or not an "
            ".ipynb file at all). Open it in JupyterLab, save it again and submit again."
        ) from None


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
    kind = _kind(source)
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)  # stored in UTC: comparable as text
    submission_id, problem = _reserve(event, team, info.theme, kind, source, now, sandbox)
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
            _intake(source, kind, folder / "source", job.max_bytes)
            _check_notebook(copy)
            user = _require_sandbox(event, info.slot, job) if sandbox else ""
            run = runner.NotebookJob(copy, folder, files, event.settings, job.warehouse, user,
                                     job.max_bytes)
            runner.backend("sandbox" if sandbox else "trusted").run(run)
        else:
            _intake(source, kind, files, job.max_bytes)
        scores = scoring.score_folder(job)
        digest = hashlib.sha256((files / "predictions.csv").read_bytes()).hexdigest()
        _finish(event, submission_id, "scored", None, scores, digest)
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
            _finish(event, submission_id, status if status == "cancelled" else "rejected", message)
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


def get_submission(event: Event, submission_id: int) -> Submission:
    with event.connect() as con:
        row = con.execute("SELECT * FROM submissions WHERE id = ?", (submission_id,)).fetchone()
        if row is None:
            raise NotFound(f"There is no submission {submission_id} in this event.")
        scores = con.execute("SELECT part, metric, value FROM scores WHERE submission_id = ?",
                             (submission_id,)).fetchall()
    parts: dict[str, dict[str, float]] = {"public": {}, "private": {}}
    for part, metric, value in scores:
        parts[part][metric] = value
    return Submission(row["id"], row["team"], row["theme"], row["kind"], row["source"],
                      row["submitted_at"], row["status"], row["message"], parts["public"],
                      parts["private"], event.submission_dir(row["id"]))


def list_submissions(event: Event, team: str) -> list[Submission]:
    get_team(event, team)
    with event.connect() as con:
        ids = [r[0] for r in con.execute("SELECT id FROM submissions WHERE team = ? ORDER BY id", (team,))]
    return [get_submission(event, i) for i in ids]


def remaining(event: Event, team: str, now: dt.datetime | None = None) -> tuple[int, int]:
    """(left today, left in the event) for the team's theme."""
    info = get_team(event, team)
    if not info.theme:
        return 0, 0
    limits = event.settings.theme(info.theme)
    now = now or dt.datetime.now(dt.UTC)
    with event.connect() as con:
        rows = con.execute(
            f"SELECT submitted_at FROM submissions WHERE team = ? AND theme = ? AND status IN {COUNTED}",
            (team, info.theme),
        ).fetchall()
    today = now.astimezone(event.settings.zone).date()
    used_today = sum(1 for r in rows if _local_day(r[0], event) == today)
    total_left = max(0, limits.total_limit - len(rows))
    return min(total_left, max(0, limits.daily_limit - used_today)), total_left


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
            con.execute("DELETE FROM scores WHERE submission_id = ?", (row["id"],))
            for part, values in result.items():
                con.executemany(
                    "INSERT INTO scores (submission_id, part, metric, value) VALUES (?, ?, ?, ?)",
                    [(row["id"], part, m, float(v)) for m, v in values.items()],
                )
    return len(rows)
