"""`matsuri hackathon runner`: the service that takes teams' submissions from the drop box, runs
them with N slots, scores and records them, and publishes what teams may read.

One loop, every `poll` seconds: take new drop box entries in (each becomes a `queued` row, or a
rejected one with the reason: limits are checked at the door), claim queued submissions for free
slots (queue.claim: teams take turns), start each in its own process (so a crashing run cannot
take the service down; forked from the service, which imported the heavy libraries once, so a
run starts in milliseconds instead of 4 s), reap the finished ones, and publish the teams' status
files and the public board (dropbox.py) with a heartbeat. Stopping the service
(Ctrl-C, SIGTERM from systemd) stops its runs; each goes back to the queue once (queue.py).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path

from matsuri import theme_spec
from matsuri.errors import InvalidSubmission
from matsuri.hackathon import dropbox, handin, leaderboard, limits, queue, records, store
from matsuri.hackathon.event import Event
from matsuri.hackathon.teams import Team, list_teams
from matsuri.sandbox.box import this_process
from matsuri.sandbox.text import printable, quoted
from matsuri.stopping import stoppable

HEARTBEAT_SECONDS = 2.0      # the board is rewritten at least this often while the service runs
STALE_SECONDS = 15.0         # a heartbeat older than this means the service is not running
STOP_GRACE_SECONDS = 30.0    # runs get this long to put themselves back in the queue
SHOWN_SUBMISSIONS = 50       # the latest ones in a team's status file
FORK = multiprocessing.get_context("fork")


def serve(event: Event, slots: int | None = None, poll: float = 0.5, until_idle: bool = False,
          say=print) -> None:
    """Run until stopped (or, with `until_idle`, until nothing is waiting or running)."""
    store.create(event.db)
    _warm_up()
    slots = slots or event.settings.slots
    me = this_process()
    runs: dict[int, multiprocessing.Process] = {}
    for submission_id in queue.recover(event):
        say(f"Submission {submission_id} was cut off by the last stop: queued again (once) or rejected.")
    last_publish = 0.0
    with stoppable():
        try:
            while True:
                changed = _take_in(event, say, every_time=until_idle)
                for submission_id, process in list(runs.items()):
                    if not process.is_alive():
                        process.join()
                        runs.pop(submission_id)
                        say(f"Submission {submission_id} finished: {records.get_submission(event, submission_id).status}.")
                        changed = True
                while len(runs) < slots and (chosen := queue.claim(event, me)) is not None:
                    runs[chosen] = _start(event, chosen)
                    say(f"Submission {chosen} started ({len(runs)}/{slots} slots busy).")
                    changed = True
                if changed or time.monotonic() - last_publish >= HEARTBEAT_SECONDS:
                    publish(event, slots, alive=True)
                    last_publish = time.monotonic()
                if until_idle and not runs and not queue.queued_count(event) \
                        and not dropbox.pending(event.root, _team_ids(event)):
                    break
                time.sleep(poll)
        except KeyboardInterrupt:
            say(f"Stopping: {len(runs)} run(s) go back to the queue.")
            _stop(runs)
            raise
        finally:
            publish(event, slots, alive=False)


def _warm_up() -> None:
    """Import what every run needs once, before forking (about 4 s a run saves); no thread or
    open database is made here, so forking stays safe."""
    import nbclient  # noqa: F401
    import sklearn.metrics  # noqa: F401

    from matsuri.hackathon import scoring, submissions  # noqa: F401
    from matsuri.sandbox import notebooks  # noqa: F401


def _start(event: Event, submission_id: int) -> multiprocessing.Process:
    process = FORK.Process(target=_child, args=(event, submission_id), name=f"submission-{submission_id}")
    process.start()
    return process


def _child(event: Event, submission_id: int) -> None:
    """A run's own process: its own session (a terminal's Ctrl-C reaches the service first)."""
    from matsuri.errors import MatsuriError

    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        run_queued(event, submission_id)
    except (MatsuriError, KeyboardInterrupt):
        sys.exit(1)  # already recorded with its reason


def _stop(runs: dict[int, multiprocessing.Process]) -> None:
    for process in runs.values():
        if process.is_alive():
            process.terminate()  # SIGTERM: the run puts itself back in the queue
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in runs.values():
        process.join(max(0.1, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def run_queued(event: Event, submission_id: int) -> records.Submission:
    """One claimed submission, in its own process: run, check, score, record."""
    from matsuri.hackathon.submissions import carry_out, settling

    queue.hand_over(event, submission_id, this_process())
    row = records.get_submission(event, submission_id)
    with stoppable(), settling(event, submission_id, Path(row.source).name, retry=True):
        carry_out(event, submission_id)
    return records.get_submission(event, submission_id)


def prepare_boxes(event: Event) -> list[str]:
    """Make every team's drop box and group (root only), and publish the board once, so teams
    see the event (and that the runner is not running yet) before it starts."""
    if os.geteuid() != 0:
        return ["Teams cannot hand in by themselves until the drop boxes are made: run "
                "`sudo matsuri hackathon init`."]
    notes = dropbox.prepare(event.root, {t.team: t.members for t in list_teams(event)})
    publish(event, event.settings.slots, alive=False)
    return notes


# ------------------------------------------------------------------ taking entries in
def _team_ids(event: Event) -> list[str]:
    return [t.team for t in list_teams(event)]


S3_POLL_SECONDS = 3.0        # listing every member's prefix costs requests: not every loop
_s3_listed = 0.0


def _take_in(event: Event, say, every_time: bool = False) -> bool:
    global _s3_listed
    teams = {t.team: t for t in list_teams(event)}
    entries = dropbox.pending(event.root, list(teams))
    for entry in entries:
        try:
            take_entry(event, teams[entry.team], entry, say)
        finally:
            dropbox.remove_entry(entry)
    if event.settings.s3_bucket and (every_time or time.monotonic() - _s3_listed >= S3_POLL_SECONDS):
        from matsuri.infra.aws import s3_dropbox  # SageMaker: the event bucket is a drop box too

        _s3_listed = time.monotonic()
        return s3_dropbox.take_in(event, teams, take_entry, say) or bool(entries)
    return bool(entries)


def take_entry(event: Event, team: Team, entry: dropbox.Entry, say) -> None:
    """One entry (a folder with ticket.json and the files) into the queue, or rejected with the
    reason; the drop box and the S3 drop box on SageMaker both come through here."""
    from matsuri.sandbox.intake import copy_in, folder_entries

    max_bytes = int(event.settings.max_file_mb * 1_000_000)
    now = dt.datetime.now(dt.UTC)
    theme = team.theme or ""
    try:
        ticket, fd = dropbox.read_entry(entry, max_bytes)
    except InvalidSubmission as error:
        _reject(event, team, theme, "unsupported", f"{entry.ticket}/?", now, str(error), entry.owner)
        say(printable(f"Team {team.team}: an entry was refused: {error}"))
        return
    try:
        name, kind = Path(ticket["name"]).name, ticket["kind"]
        if not theme:
            _reject(event, team, theme, kind, f"{entry.ticket}/{name}", now,
                    f"Team '{team.team}' has not chosen a theme yet, so there is nothing to score "
                    "against. Ask the organisers to run `matsuri hackathon new`.", entry.owner)
            return
        submission_id, problem = records.reserve(event, team.team, theme, kind, Path(f"{entry.ticket}/{name}"),
                                                 now, submitted_by=entry.owner)
        if problem:
            say(printable(f"Team {team.team}: {problem}"))
            return
        folder = event.submission_dir(submission_id)
        try:
            present = folder_entries(fd)
            folder.mkdir(parents=True)
            if kind == "notebook":
                (folder / "source").mkdir()
                if name not in present or not name.endswith(".ipynb"):  # a link: copy_in says so
                    raise InvalidSubmission(f"The entry holds no notebook named {quoted(name)}. "
                                            "Submit again with `matsuri hackathon submit`.")
                copy_in(Path(name), folder / "source" / name, max_bytes, folder=fd)
                handin.check_notebook(folder / "source" / name)
            else:
                spec = theme_spec.get(theme)
                (folder / "files").mkdir()
                for file in spec.files:
                    if file.name in present:
                        copy_in(Path(file.name), folder / "files" / file.name, max_bytes, folder=fd)
                    elif file.required:
                        raise InvalidSubmission(f"The submission has no {file.name}. Put your "
                                                f"predictions in {file.name} and submit again.")
        except InvalidSubmission as error:
            records.finish(event, submission_id, "rejected",
                           f"Submission {submission_id} was not accepted. {error}")
            return
        say(printable(f"Team {team.team}: submission {submission_id} ({kind} from {entry.owner}) queued."))
    finally:
        os.close(fd)


def _reject(event: Event, team: Team, theme: str, kind: str, source: str, now: dt.datetime,
            message: str, owner: str) -> None:
    """Record an entry that cannot even be queued, so the team sees why."""
    with event.connect() as con, store.write(con):
        cursor = con.execute(
            "INSERT INTO submissions (team, theme, kind, source, submitted_at, finished_at, status, "
            "message, submitted_by) VALUES (?, ?, ?, ?, ?, ?, 'rejected', ?, ?)",
            (team.team, theme, kind, source, now.isoformat(timespec="microseconds"),
             now.isoformat(timespec="microseconds"), "", owner))
        con.execute("UPDATE submissions SET message = ? WHERE id = ?",
                    (f"Submission {cursor.lastrowid} was not accepted. {message}", cursor.lastrowid))


# ------------------------------------------------------------------ what teams may read
def publish(event: Event, slots: int, alive: bool) -> None:
    """Write the public board and every team's status file (only what that team may see), and
    on SageMaker the same in the event bucket (s3_dropbox.publish)."""
    settings = event.settings
    now = dt.datetime.now(dt.UTC)
    teams = list_teams(event)
    waiting = queue.waiting(event, slots)
    boards = {}
    for theme in settings.themes:
        metric, higher = leaderboard.primary_metric(event, theme)
        boards[theme] = {"metric": metric, "higher_is_better": higher, "entries": [
            {"rank": e.rank, "team": e.display_name, "score": e.score,
             "shown": theme_spec.shown(theme, metric, e.score), "entries": e.entries,
             "sandboxed": e.sandboxed} for e in leaderboard.public_board(event, theme)]}
    board = {
        "event": settings.name, "updated_at": now.isoformat(timespec="seconds"),
        "runner": {"alive": alive, "slots": slots, "beat": time.time()},
        "open": settings.is_open(now), "starts": str(settings.starts), "ends": str(settings.ends),
        "timezone": settings.timezone, "queued": len(waiting), "max_queued": settings.max_queued,
        "max_file_mb": settings.max_file_mb, "timeout_seconds": settings.timeout_seconds,
        "teams": {t.team: {"display_name": t.display_name, "group": dropbox.team_group(t.team, event.root),
                           "theme": t.theme} for t in teams},
        "leaderboards": boards,
    }
    path = dropbox.board_path(event.root)
    path.parent.mkdir(parents=True, exist_ok=True)
    dropbox.publish_json(path, board, None)
    statuses = {}
    for team in teams:
        folder = dropbox.box(event.root, team.team)
        if folder.is_dir() or settings.s3_bucket:
            statuses[team.team] = _team_status(event, team, waiting, now)
        if folder.is_dir():
            dropbox.publish_json(folder / dropbox.STATUS_FILE, statuses[team.team],
                                  dropbox.team_group(team.team, event.root))
    if settings.s3_bucket:  # SageMaker: the same, each member's status under their own name
        from matsuri.infra.aws import s3_dropbox

        s3_dropbox.publish(settings, board, teams, statuses)


def _team_status(event: Event, team: Team, waiting: list[queue.Waiting], now: dt.datetime) -> dict:
    subs = records.list_submissions(event, team.team)[-SHOWN_SUBMISSIONS:]
    left_today, left_event = (0, 0)
    if team.theme:
        with event.connect() as con:
            left_today, left_event = limits.left(con, event, team.team, team.theme, now)
    places = {w.id: w for w in waiting}
    metric = leaderboard.primary_metric(event, team.theme)[0] if team.theme else ""
    return {
        "team": team.team, "theme": team.theme, "metric": metric, "updated_at": now.isoformat(timespec="seconds"),
        "left_today": left_today, "left_event": left_event,
        "submissions": [{
            "id": s.id, "ticket": Path(s.source).parent.name, "submitted_at": s.submitted_at,
            "kind": s.kind, "status": s.status, "message": s.message,
            "public": {k: theme_spec.shown(s.theme, k, v) for k, v in sorted(s.public.items())},
            "position": places[s.id].position if s.id in places else None,
            "estimate_seconds": places[s.id].estimate_seconds if s.id in places else None,
        } for s in subs],
    }


def runner_state(event: Event) -> dict:
    """What the public board says about the service: alive (with a fresh heartbeat) or not."""
    board = dropbox.read_json(dropbox.board_path(event.root)) or {}
    beat = board.get("runner", {}).get("beat", 0)
    return {"alive": bool(board.get("runner", {}).get("alive")) and time.time() - beat < STALE_SECONDS,
            "beat": beat, "board": board}
