"""`matsuri hackathon …`: each command parses its options, calls one library function, prints."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from matsuri.funnel.commands import baseline_command, funnel_command
from matsuri.theme_spec import shown

app = typer.Typer(no_args_is_help=True, add_completion=False)
team_app = typer.Typer(no_args_is_help=True, add_completion=False)
app.add_typer(team_app, name="team", help="Add and list teams.")

EVENT_HELP = "Folder holding event.toml (default: $MATSURI_EVENT, else hackathon/ in the project)."


def _event(ctx: typer.Context, must_exist: bool = True):
    from matsuri.hackathon.event import open_event

    return open_event(ctx.obj, must_exist=must_exist)


def _console():
    from rich.console import Console

    return Console()


def _plain(text: str):
    """Participant text (team names, file names, messages) as plain Rich text: printable() drops
    the escape sequences it may carry, and a team called "[red]x" is not read as markup."""
    from rich.text import Text

    from matsuri.sandbox.text import printable

    return Text(printable(text))


def _say(text: str, **style) -> None:
    """Print a line; everything this module prints goes through here or `_row`."""
    from matsuri.sandbox.text import printable

    typer.secho(printable(text), **style)


def _row(table, *cells: str) -> None:
    table.add_row(*(_plain(cell) for cell in cells))


@app.callback()
def main(ctx: typer.Context, event: Path = typer.Option(None, "--event", help=EVENT_HELP)) -> None:
    """Run the hackathon: teams, submissions, leaderboard, judging and the awards report."""
    ctx.obj = event


@app.command("init")
def init_command(ctx: typer.Context) -> None:
    """Check event.toml and create the event's state store (safe to run again)."""
    from matsuri.hackathon.event import init_event
    from matsuri.hackathon.service import prepare_boxes

    event, notes = init_event(ctx.obj)
    notes += prepare_boxes(event)
    _say(f"Event '{event.settings.name}' is ready in {event.root}", fg="green")
    _say(f"Themes: {', '.join(event.settings.themes)}; state store: {event.db}")
    for note in notes:
        _say(note, fg="yellow" if note.startswith("WARNING") else None)


@team_app.command("add")
def team_add(
    ctx: typer.Context,
    team: str = typer.Argument(..., help="Team id: lower-case letters, digits, - or _."),
    member: list[str] = typer.Option(..., "--member", "-m", help="A member's name (repeat for each)."),
    display_name: str = typer.Option("", help="The team's name as shown in the gallery (any language)."),
) -> None:
    """Register a team and its members."""
    from matsuri.hackathon.service import prepare_boxes
    from matsuri.hackathon.teams import add_team

    event = _event(ctx)
    added = add_team(event, team, member, display_name)
    _say(f"Added team '{added.team}' ({added.display_name}): {', '.join(added.members)}", fg="green")
    for note in prepare_boxes(event):
        _say(note, fg="yellow")
    _say(f"Next: matsuri hackathon new {added.team} --theme THEME")


@team_app.command("list")
def team_list(ctx: typer.Context) -> None:
    """List teams, their themes, members and workspaces."""
    from rich.table import Table

    from matsuri.hackathon.teams import list_teams

    table = Table("team", "name", "theme", "members", "workspace")
    for t in list_teams(_event(ctx)):
        _row(table, t.team, t.display_name, t.theme or "-", ", ".join(t.members),
             str(t.workspace) if t.workspace.exists() else "-")
    _console().print(table)


@app.command("themes")
def themes_command() -> None:
    """The themes of this kit (one folder of templates/ each, with its theme.toml)."""
    from rich.table import Table

    from matsuri.theme_spec import all_themes

    table = Table("theme", "title", "files", "metrics (leaderboard first)")
    for spec in all_themes().values():
        files = ", ".join(f.name + ("" if f.required else " (optional)") for f in spec.files)
        metrics = sorted(spec.metrics, key=lambda m: m.name != spec.leaderboard)
        _row(table, spec.id, f"{spec.title['ja']} / {spec.title['en']}", files,
             ", ".join(f"{m.name} ({'higher' if m.higher_is_better else 'lower'} is better)"
                       for m in metrics))
    _console().print(table)


@app.command("new")
def new_command(
    ctx: typer.Context,
    team: str = typer.Argument(..., help="The team id."),
    theme: str = typer.Option(..., help="A theme id: a folder of templates/ with a theme.toml (see `matsuri hackathon themes`)."),
    templates: Path = typer.Option(None, help="Folder with one template per theme (default: templates/)."),
    language: str = typer.Option("", "--language", help="ja or en: the language of the team's notebooks "
                                 "(default: event.toml's [event] language), for a team that reads the other."),
) -> None:
    """Choose the team's theme and copy that theme's template into the team's workspace."""
    from matsuri.hackathon.teams import new_workspace

    made = new_workspace(_event(ctx), team, theme, templates, language)
    _say(f"Team '{team}' works on {theme}; workspace: {made.workspace}", fg="green")


def _organiser(ctx: typer.Context) -> bool:
    """Whether this account can write the event store (the organiser); participants cannot."""
    import os

    from matsuri.hackathon.event import event_dir

    db = event_dir(ctx.obj) / "state" / "event.sqlite"
    return os.access(db.parent, os.W_OK | os.X_OK) and os.access(db, os.W_OK)


def _team_here(team: str | None) -> str | None:
    """The team named, else the one whose workspace (<event>/teams/<team>/) we are in."""
    if team:
        return team
    parts = Path.cwd().resolve().parts
    return parts[parts.index("teams") + 1] if "teams" in parts[:-1] else None


@app.command("submit")
def submit_command(
    ctx: typer.Context,
    path: Path = typer.Argument(None, help="A notebook (.ipynb), a predictions CSV, or a folder "
                                "(default: the notebook in this folder)."),
    team: str = typer.Option(None, "--team", help="The team (default: yours, from your account or workspace)."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow the submission until it is scored."),
    warehouse: Path = typer.Option(None, help="Organisers: the learners' warehouse (default: the built one)."),
    labels: Path = typer.Option(None, help="Organisers: the labels store (default: the built one)."),
    no_sandbox: bool = typer.Option(
        False, "--no-sandbox",
        help="Organisers: run a notebook as yourself, without the sandbox: only for code you trust "
             "(a rehearsal). The log and the leaderboard say so."),
) -> None:
    """Hand in a submission and see its public score.

    Participants: it goes through your team's drop box to the runner service, and this command
    follows it (queued, running, scored). Organisers (who can write the event store) run it here
    and now, in the sandbox, for the team given with --team.
    """
    from matsuri.hackathon import participant
    from matsuri.hackathon.event import event_dir

    path = path or participant.default_source(Path.cwd())
    if not _organiser(ctx):
        _hand_in(event_dir(ctx.obj), path, _team_here(team), wait)
        return
    team = _team_here(team)
    if not team:
        from matsuri.errors import UsageError

        raise UsageError("Say which team this submission is for: --team TEAM.")
    from matsuri.hackathon.leaderboard import primary_metric
    from matsuri.hackathon.submissions import remaining, submit

    event = _event(ctx)
    if no_sandbox:
        _say("WARNING: --no-sandbox: a notebook runs as you and can read all you can.", fg="yellow")
    from matsuri.stopping import stoppable

    with stoppable(), \
            _console().status(_plain(f"Checking and scoring {path.name} for team '{team}'…")):
        result = submit(event, team, path, warehouse, labels, sandbox=not no_sandbox)
    metric, _ = primary_metric(event, result.theme)
    today, total = remaining(event, team)
    _say(f"Submission {result.id} scored: public {metric} = "
         f"{shown(result.theme, metric, result.public[metric])}", fg="green")
    others = ", ".join(f"{k} {shown(result.theme, k, v)}" for k, v in sorted(result.public.items())
                       if k != metric)
    if others:
        _say(f"Also on the public part: {others}")
    _say(f"Submissions left: {today} today, {total} in the event.")


def _hand_in(root: Path, path: Path, team: str | None, wait: bool) -> None:
    """A participant's submit: through the drop box, then one line per change until scored."""
    from matsuri.errors import InvalidSubmission
    from matsuri.hackathon import participant

    team, ticket = participant.hand_in(root, path, team)
    _say(f"Handed in {path.name} for team '{team}'.", fg="green")
    if not participant.runner_alive(participant.board(root)):
        _say("It is queued; the runner is not running, so it waits until the organisers start it. "
             "Tell them; see it later with `matsuri hackathon submissions`.", fg="yellow")
        return
    if not wait:
        _say("Follow it with `matsuri hackathon submissions`.")
        return
    last = None
    try:
        for last in participant.follow(root, team, ticket):
            if not last.final:
                _say(last.text)
    except KeyboardInterrupt:
        _say("Stopped following; your submission stays in the queue. See it with "
             "`matsuri hackathon submissions`.")
        return
    if last is not None and last.state == "scored":
        _say(last.text, fg="green")
    elif last is not None:
        raise InvalidSubmission(last.text)


@app.command("runner")
def runner_command(
    ctx: typer.Context,
    slots: int = typer.Option(None, min=1, help="Notebooks run at once (default: submissions.slots)."),
    until_idle: bool = typer.Option(False, help="Stop once nothing is waiting or running."),
) -> None:
    """The runner service: take teams' submissions from the drop box, run, score and publish.

    Run it as root (it starts sandboxes), under systemd (infra/systemd/matsuri-runner.service) or
    as a JupyterHub service; Ctrl-C or SIGTERM stops it, and unfinished runs go back to the queue.
    """
    from matsuri.hackathon.service import serve

    event = _event(ctx)
    _say(f"Runner for '{event.settings.name}': drop box {event.root / 'dropbox'}; Ctrl-C stops it.")
    try:
        serve(event, slots, until_idle=until_idle, say=lambda line: _say(line))
    except KeyboardInterrupt:
        _say("Runner stopped.")


@app.command("status")
def status_command(ctx: typer.Context) -> None:
    """For organisers: is the runner running, what is queued, can every team hand in?"""
    from matsuri.hackathon import dropbox, queue, service
    from matsuri.hackathon.teams import list_teams

    event = _event(ctx)
    state = service.runner_state(event)
    if state["alive"]:
        _say(f"The runner is running ({state['board']['runner']['slots']} slots).", fg="green")
    else:
        _say("The runner is not running: teams' submissions wait in the drop box. Start it with "
             "`sudo matsuri hackathon runner` (or `systemctl start matsuri-runner`).", fg="yellow")
    waiting = queue.waiting(event, event.settings.slots)
    _say(f"Queued: {len(waiting)}" + "".join(f"\n  {w.position}. submission {w.id} ({w.team})" for w in waiting))
    for problem in dropbox.problems(event.root, [t.team for t in list_teams(event)]):
        _say(problem, fg="yellow")


@app.command("submissions")
def submissions_command(
    ctx: typer.Context,
    team: str = typer.Argument(None, help="The team id (default: yours)."),
    submission: int = typer.Option(None, "--id", help="Show one submission in full (message, files)."),
    private: bool = typer.Option(False, help="Also show private scores (organisers, after the event)."),
) -> None:
    """List a team's submissions: time, kind, status and public score (and why one was rejected)."""
    from rich.table import Table

    from matsuri.hackathon.submissions import get_submission, list_submissions

    if not _organiser(ctx):
        _own_submissions(ctx, _team_here(team))
        return
    if not team:
        from matsuri.errors import UsageError

        raise UsageError("Say which team: matsuri hackathon submissions TEAM.")
    event = _event(ctx)
    if submission is not None:
        s = get_submission(event, submission)
        _say(f"Submission {s.id} by {s.team} ({s.theme}, {s.kind}) at {s.submitted_at}: {s.status}")
        if s.message:
            _say(s.message)
        for part in ("public", "private") if private else ("public",):
            scores = getattr(s, part)
            if scores:
                _say(f"{part}: " + ", ".join(f"{k} {shown(s.theme, k, v)}" for k, v in sorted(scores.items())))
        _say(f"Files and run log: {s.folder}")
        return
    zone = event.settings.zone
    table = Table("id", f"submitted ({event.settings.timezone})", "kind", "status", "public",
                  *(["private"] if private else []), "message")
    for s in list_submissions(event, team):
        public = ", ".join(f"{k} {shown(s.theme, k, v)}" for k, v in sorted(s.public.items()))
        extra = [", ".join(f"{k} {shown(s.theme, k, v)}" for k, v in sorted(s.private.items()))] if private else []
        stamp = dt.datetime.fromisoformat(s.submitted_at)  # stored in UTC
        when = (stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)).astimezone(zone)
        when = when.strftime("%Y-%m-%d %H:%M:%S")
        _row(table, str(s.id), when, s.kind, s.status, public, *extra, s.message or "")
    _console().print(table)


def _own_submissions(ctx: typer.Context, team: str | None) -> None:
    """A participant's view: the team's status file, published by the runner service."""
    from rich.table import Table

    from matsuri.hackathon import participant
    from matsuri.hackathon.event import event_dir

    root = event_dir(ctx.obj)
    store = participant.storage(root)
    found = participant.board(root, store)
    team = participant.my_team(root, found, team, store)
    status = participant.team_status(root, team, store)
    table = Table("id", "submitted (UTC)", "kind", "status", "public", "message")
    for s in status["submissions"]:
        state = s["status"] + (f" (#{s['position']})" if s.get("position") else "")
        _row(table, str(s["id"]), s["submitted_at"][:19].replace("T", " "), s["kind"], state,
             ", ".join(f"{k} {v}" for k, v in s["public"].items()), s["message"] or "")
    _console().print(table)
    _say(f"Submissions left: {status['left_today']} today, {status['left_event']} in the event.")
    if not participant.runner_alive(found):
        _say("The runner is not running: queued submissions wait. Tell the organisers.", fg="yellow")


@app.command("leaderboard")
def leaderboard_command(
    ctx: typer.Context,
    theme: str = typer.Option(None, help="One theme (default: every enabled theme)."),
    private: bool = typer.Option(False, help="The final ranking on the private part (organisers)."),
) -> None:
    """Show the public leaderboard (or, with --private, the final private one)."""
    from rich.table import Table

    from matsuri.hackathon import leaderboard

    if not _organiser(ctx):
        _public_leaderboard(ctx, theme)
        return
    event = _event(ctx)
    themes = [theme] if theme else list(event.settings.themes)
    for theme_id in themes:
        metric, higher = leaderboard.primary_metric(event, theme_id)
        board = (leaderboard.final_board if private else leaderboard.public_board)(event, theme_id)
        part = "private (final)" if private else "public"
        table = Table("rank", "team", f"{metric} ({'higher' if higher else 'lower'} is better)",
                      "submission", "entries", *(["chosen"] if private else []),
                      title=f"{theme_id}: {part} leaderboard")
        for e in board:
            score = shown(theme_id, metric, e.score) + ("" if e.sandboxed else " (no sandbox)")
            _row(table, str(e.rank), e.display_name, score, str(e.submission_id),
                 str(e.entries), *([e.chosen] if private else []))
        _console().print(table)
        if not all(e.sandboxed for e in board):
            _say("(no sandbox): run with --no-sandbox as the organiser, a trusted rehearsal only.",
                 fg="yellow")


def _public_leaderboard(ctx: typer.Context, theme: str | None) -> None:
    """A participant's view: the public board the runner service publishes."""
    from rich.table import Table

    from matsuri.hackathon import participant
    from matsuri.hackathon.event import event_dir

    found = participant.board(event_dir(ctx.obj))
    for theme_id, board in found["leaderboards"].items():
        if theme and theme_id != theme:
            continue
        table = Table("rank", "team", f"{board['metric']} ({'higher' if board['higher_is_better'] else 'lower'} is better)",
                      "entries", title=f"{theme_id}: public leaderboard (as of {found['updated_at']})")
        for e in board["entries"]:
            _row(table, str(e["rank"]), e["team"], e["shown"] + ("" if e["sandboxed"] else " (no sandbox)"),
                 str(e["entries"]))
        _console().print(table)


@app.command("select")
def select_command(
    ctx: typer.Context,
    team: str = typer.Argument(..., help="The team id."),
    submission: int = typer.Argument(..., help="The id of a scored submission of this team."),
) -> None:
    """Pick the team's final submission (otherwise its best public one counts)."""
    from matsuri.hackathon.leaderboard import select

    select(_event(ctx), team, submission)
    _say(f"Submission {submission} is now team '{team}''s final submission.", fg="green")


@app.command("judge")
def judge_command(
    ctx: typer.Context,
    judge: str = typer.Option(..., help="The judge's name."),
    team: str = typer.Option(..., help="The team id to mark."),
    mark: list[str] = typer.Option(None, help="criterion=value (repeat); asked for if not given."),
    note: str = typer.Option(None, help="A short comment for the team (asked for if not given)."),
) -> None:
    """Enter one judge's rubric marks for one team from the terminal."""
    from matsuri.errors import UsageError
    from matsuri.hackathon.rubric import marks_of, save_marks

    event = _event(ctx)
    low, high = event.settings.scale
    marks: dict[str, float] = {}
    if mark:
        for item in mark:
            key, sep, value = item.partition("=")
            try:
                marks[key.strip()] = float(value)
            except ValueError:
                raise UsageError(f"--mark takes criterion=number (e.g. impact=4), not '{item}'.") from None
            if not sep:
                raise UsageError(f"--mark takes criterion=number (e.g. impact=4), not '{item}'.")
    else:
        before, old_note = marks_of(event, judge, team)
        for c in event.settings.criteria:
            _say(f"{c.name}: {c.description}" if c.description else c.name)
            while True:
                value = typer.prompt(f"  mark {low}-{high}", type=int, default=before.get(c.id))
                if low <= value <= high:
                    break
                _say(f"  Please give a whole number from {low} to {high}.")
            marks[c.id] = value
        if note is None:
            note = typer.prompt("Comment (optional)", default=old_note, show_default=False)
    save_marks(event, judge, team, marks, note or "")
    _say(f"Saved {judge}'s marks for '{team}'.", fg="green")


@app.command("report")
def report_command(
    ctx: typer.Context,
    out: Path = typer.Option(None, help="Where to write the page (default: state/awards.html)."),
    lang: str = typer.Option(None, "--lang", help="ja or en (default: event.toml's [event] language)."),
) -> None:
    """Write the awards report: one self-contained HTML page for the company meeting."""
    from matsuri.hackathon.report import write
    from matsuri.language import LANGUAGES

    if lang is not None and lang not in LANGUAGES:
        raise typer.BadParameter(f"must be one of {', '.join(LANGUAGES)}, not {lang!r}", param_hint="--lang")
    path = write(_event(ctx), out, lang)
    _say(f"Awards report: {path}", fg="green")


app.command("funnel")(funnel_command)
app.command("baseline")(baseline_command)


@app.command("rescore")
def rescore_command(
    ctx: typer.Context,
    submission: list[int] = typer.Option(None, "--id", help="Only these submissions (repeat)."),
    workers: int = typer.Option(2, help="Parallel scoring processes."),
    warehouse: Path = typer.Option(None, help="The learners' warehouse (default: the built one)."),
    labels: Path = typer.Option(None, help="The organiser labels store (default: the built one)."),
) -> None:
    """Score accepted submissions again from their kept files (gives the same numbers)."""
    from matsuri.hackathon.submissions import rescore

    count = rescore(_event(ctx), submission or None, warehouse, labels, workers)
    _say(f"Scored {count} submission(s) again.", fg="green")
