"""The hackathon drop box over the event's S3 bucket, for SageMaker, where every participant is
ec2-user on their own notebook instance (so folder permissions cannot tell teams apart).

Who handed an entry in is the prefix it sits under, and IAM decides that, not code of ours: a
participant's role may write only under participants/<name>/ and read only the two objects the
runner publishes for them (infra/sagemaker/iam/participant-policy.json). Which team it counts
for is the event store's members (names as in participants.csv), so nobody can hand in for a
team they are not in.

    participants/<name>/hackathon/<ticket>/<files>  the participant writes, ticket.json last (a
                                                    half entry is never taken in)
    hackathon/status/<name>.json                    the runner writes, only <name> reads: <name>'s
                                                    teams, each as the drop box's status.json
    hackathon/public/board.json                     the runner writes, every participant reads: the
                                                    public board, as <event>/public/board.json

The runner (organiser's credentials) downloads each complete entry of every team member into a
root-owned folder under the event's state, hands it to `service.take_entry` (the same way in as
the folder drop box) with the participant's name as its owner, and then deletes it from S3.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from matsuri.errors import MatsuriError, UsageError
from matsuri.hackathon import dropbox
from matsuri.infra.aws.errors import error_code, explain_aws
from matsuri.infra.participants import USERNAME

ENTRIES = "participants/{name}/hackathon/"
STATUS_KEY = "hackathon/status/{name}.json"
BOARD_KEY = "hackathon/public/board.json"
TICKET = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_FILES = 20                 # files taken from one entry (a theme needs a few; the rest is ignored)
MAX_TICKET_BYTES = 64_000      # read_entry refuses a bigger ticket.json
BOARD_BEAT_SECONDS = 5.0       # the board is uploaded at least this often (the runner's heartbeat)
DEFAULT_REGION = "ap-northeast-1"
MISSING = ("NoSuchKey", "404", "NotFound", "AccessDenied", "403")  # 403: no ListBucket, same thing
log = logging.getLogger(__name__)


def entries_prefix(name: str) -> str:
    return ENTRIES.format(name=name)


def status_key(name: str) -> str:
    return STATUS_KEY.format(name=name)


def _region(region: str | None) -> str:
    """The region given, else the machine's (environment or ~/.aws/config), else Tokyo."""
    if region or os.environ.get("AWS_DEFAULT_REGION"):
        return region or os.environ["AWS_DEFAULT_REGION"]
    import boto3

    return boto3.session.Session().region_name or DEFAULT_REGION


def _aws_failure(what: str, error: BaseException) -> MatsuriError:
    return MatsuriError(f"{what}: {explain_aws(error) or error}")


def _is_aws(error: BaseException) -> bool:
    return explain_aws(error) is not None


def _read_json(s3, bucket: str, key: str) -> dict | None:
    """A published JSON object, or None when it is not there (or not readable by these credentials)."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as error:
        if error_code(error) in MISSING:
            return None
        if _is_aws(error):
            raise _aws_failure(f"Could not read s3://{bucket}/{key}", error) from None
        raise
    try:
        found = json.loads(body)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def entry_files(source: Path, kind: str, files: list[str]) -> list[tuple[Path, str]]:
    """(local file, name in the entry) for what a hand-in sends, as the folder drop box copies it:
    the notebook, a CSV under the theme's first file name, or the theme's files in a folder."""
    if kind == "notebook":
        return [(source, source.name)]
    if kind == "file":
        return [(source, files[0])]
    return [(source / name, name) for name in files if (source / name).is_file()]


# ------------------------------------------------------------------ participant side
class S3Storage:
    """A participant's side on a notebook instance (exchange.here(): bucket and name): hand in
    under their own prefix, read what the runner published for them."""

    def __init__(self, where):
        from matsuri.infra.aws import clients

        self.where = where
        self.s3 = clients.client("s3", _region(where.region), max_attempts=4)

    @property
    def name(self) -> str:
        return self.where.participant

    def board(self) -> dict | None:
        return _read_json(self.s3, self.where.bucket, BOARD_KEY)

    def _own(self) -> dict:
        return _read_json(self.s3, self.where.bucket, status_key(self.name)) or {}

    def status(self, team: str) -> dict | None:
        return (self._own().get("teams") or {}).get(team)

    def no_status(self, team: str) -> str:
        return (f"Team '{team}''s status is not published for you ('{self.name}') yet. The runner "
                "publishes it for each member named in the team (by participant name, as in "
                "participants.csv); if this stays so, ask the organisers.")

    def my_team(self, board: dict, team: str | None = None) -> str:
        """The team named (if this participant is in it), else their only team."""
        teams = board.get("teams", {})
        mine = [t for t in (self._own().get("teams") or {}) if t in teams]
        return dropbox.choose_team(
            teams, mine, team, False,
            f"You ('{self.name}') are not in any team of this event yet, so there is nowhere to "
            "submit. Ask the organisers to add you to your team by this name (and wait a few "
            "seconds for the runner to publish it).")

    def drop(self, team: str, source: Path, kind: str, files: list[str]) -> str:
        """Upload the entry under participants/<name>/hackathon/<ticket>/, ticket.json last."""
        if not USERNAME.match(self.name):
            raise UsageError(f"'{self.name}' is not a participant name (this instance's event file "
                             "is damaged); ask the organisers.")
        ticket = secrets.token_hex(8)
        prefix = f"{entries_prefix(self.name)}{ticket}/"
        bucket = self.where.bucket
        try:
            for path, name in entry_files(source, kind, files):
                self.s3.upload_file(str(path), bucket, prefix + name)
            self.s3.put_object(Bucket=bucket, Key=prefix + dropbox.TICKET_FILE, Body=json.dumps(
                {"kind": kind, "name": source.name, "team": team}).encode())
        except Exception as error:
            if error_code(error) in ("AccessDenied", "403"):
                raise UsageError(f"This notebook instance may not write to s3://{bucket}/{prefix}, so "
                                 "nothing was handed in. Ask the organisers (its role's policy).") from None
            if _is_aws(error):
                raise _aws_failure("Nothing was handed in; the event bucket could not be written", error) from None
            raise
        return ticket


# ------------------------------------------------------------------ runner side
@dataclass
class Pending:
    """A complete entry (ticket.json present) in a participant's prefix."""

    participant: str
    ticket: str
    arrived: dt.datetime                                 # when its ticket.json was written
    files: dict[str, int] = field(default_factory=dict)  # name -> size: what is taken in
    keys: list[str] = field(default_factory=list)        # every object of the entry (all deleted)


_clients: dict[tuple, object] = {}
_problem: dict[str, str] = {}     # bucket -> the last listing failure said (said once, not every poll)


def _s3(region: str):
    """One client per region and credentials for the runner's process (a client is not cheap)."""
    from matsuri.infra.aws import clients

    key = (_region(region), os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_ACCESS_KEY_ID"))
    if key not in _clients:
        _clients[key] = clients.client("s3", key[0], max_attempts=4)
    return _clients[key]


def _safe_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and "\0" not in name \
        and not name.startswith(".") and len(name) <= 255


def pending(s3, bucket: str, names: Iterable[str]) -> list[Pending]:
    """Complete entries under each participant's prefix (one listing each, a few at once),
    oldest first. Entries still without ticket.json are left alone."""
    def listing(name: str) -> list[Pending]:
        prefix = entries_prefix(name)
        found: dict[str, Pending] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                ticket, _, rest = obj["Key"][len(prefix):].partition("/")
                if not rest:
                    continue  # not in a ticket's folder
                entry = found.setdefault(ticket, Pending(name, ticket, dt.datetime.max.replace(tzinfo=dt.UTC)))
                entry.keys.append(obj["Key"])
                if rest == dropbox.TICKET_FILE:
                    entry.arrived = obj["LastModified"]
                if _safe_name(rest) and (rest == dropbox.TICKET_FILE or len(entry.files) < MAX_FILES):
                    entry.files[rest] = obj["Size"]
        return [e for e in found.values() if dropbox.TICKET_FILE in e.files]

    names = sorted(set(names))
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(names)))) as pool:
        found = [entry for entries in pool.map(listing, names) for entry in entries]
    return sorted(found, key=lambda e: (e.arrived, e.participant, e.ticket))


def take_in(event, teams: dict, take: Callable, say=print) -> bool:
    """Every complete entry of every team member into the queue through `take` (service.take_entry),
    then off S3. An entry under a name that is no team's member is not even listed; one naming a
    team its participant is not in is deleted unqueued. Returns whether any entry was there."""
    settings = event.settings
    bucket, s3 = settings.s3_bucket, _s3(settings.s3_region)
    members: dict[str, list[str]] = {}
    for team in teams.values():
        for member in team.members:
            if USERNAME.match(member):
                members.setdefault(member, []).append(team.team)
    try:
        entries = pending(s3, bucket, members)
    except Exception as error:
        if not _is_aws(error):
            raise
        problem = f"The S3 drop box s3://{bucket}/ could not be read: {explain_aws(error)}"
        if _problem.get(bucket) != problem:
            say(problem + " (trying again at every poll)")
        _problem[bucket] = problem
        return False
    if _problem.pop(bucket, None):
        say(f"The S3 drop box s3://{bucket}/ can be read again.")
    for entry in entries:
        try:
            _take_one(event, s3, bucket, entry, members[entry.participant], teams, take, say)
        except Exception as error:
            if not _is_aws(error):
                raise
            say(f"An entry of {entry.participant} ({entry.ticket}) could not be taken in; it stays "
                f"in s3://{bucket}/ for the next try: {explain_aws(error)}")
    return bool(entries)


def _take_one(event, s3, bucket: str, entry: Pending, their_teams: list[str], teams: dict,
              take: Callable, say) -> None:
    prefix = f"{entries_prefix(entry.participant)}{entry.ticket}/"
    if not TICKET.match(entry.ticket):
        say(f"An entry of {entry.participant} has a ticket no hand-in makes ({entry.ticket[:70]!r}): removed unqueued.")
        _delete(s3, bucket, entry.keys)
        return
    staging = event.state / "s3-dropbox" / f"{entry.participant}.{entry.ticket}"
    staging.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)  # made by the runner (root): read_entry accepts it from any team
    try:
        max_bytes = int(event.settings.max_file_mb * 1_000_000)
        for name, size in entry.files.items():  # a failure here leaves the entry for the next try
            cap = MAX_TICKET_BYTES if name == dropbox.TICKET_FILE else max_bytes
            _download(s3, bucket, prefix + name, staging / name, size, cap)
        try:  # taken in (or refused) once, like the folder drop box's entries
            team = _team_of(entry, staging / dropbox.TICKET_FILE, their_teams, say)
            if team is not None and _already_taken(event, team, entry):
                say(f"Entry {entry.ticket} of {entry.participant} was taken in before the last stop: removed.")
            elif team is not None:
                take(event, teams[team], dropbox.Entry(team, entry.ticket, staging, entry.participant), say)
        finally:
            _delete(s3, bucket, entry.keys)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _download(s3, bucket: str, key: str, path: Path, size: int, cap: int) -> None:
    """The object; one over `cap` bytes becomes an empty (sparse) file of its size, never
    downloaded, so take_entry refuses it by its size with the real figure. At most cap + 1
    bytes are read even if the object grew since it was listed."""
    with open(path, "wb") as out:
        if size > cap or size == 0:
            try:
                out.truncate(size)
            except OSError:  # bigger than this file system allows: just over the limit will do
                out.truncate(cap + 1)
            return
        body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{cap}")["Body"]
        while chunk := body.read(1 << 20):
            out.write(chunk)


def _team_of(entry: Pending, ticket: Path, their_teams: list[str], say) -> str | None:
    """The team the entry counts for: the one its ticket names, if its participant is in it,
    else the participant's only team. None (and why) when there is no such team."""
    try:
        named = json.loads(ticket.read_text(encoding="utf-8")).get("team")
    except (OSError, ValueError, AttributeError):
        named = None  # take_entry refuses the unreadable ticket, with the reason for the team
    if isinstance(named, str) and named:
        if named in their_teams:
            return named
        say(f"An entry of {entry.participant} names team {named[:40]!r}, which {entry.participant} "
            "is not a member of: removed unqueued.")
        return None
    if len(their_teams) == 1:
        return their_teams[0]
    say(f"An entry of {entry.participant} names no team, and {entry.participant} is in "
        f"{', '.join(their_teams)}: removed unqueued.")
    return None


def _already_taken(event, team: str, entry: Pending) -> bool:
    """Whether this ticket was queued before (the runner stopped before deleting it from S3)."""
    with event.connect() as con:
        row = con.execute("SELECT 1 FROM submissions WHERE team = ? AND submitted_by = ? AND "
                          "substr(source, 1, ?) = ? LIMIT 1",
                          (team, entry.participant, len(entry.ticket) + 1, f"{entry.ticket}/")).fetchone()
    return row is not None


def _delete(s3, bucket: str, keys: list[str]) -> None:
    for key in keys:
        s3.delete_object(Bucket=bucket, Key=key)


# ------------------------------------------------------------------ publishing
_sent: dict[tuple[str, str], tuple[str, float]] = {}  # (bucket, key) -> (digest, when uploaded)


def _digest(data: dict) -> str:
    """What a reader would notice: the data without its time stamps and heartbeat."""
    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if k not in ("updated_at", "beat")}
        return value
    return hashlib.sha256(json.dumps(plain(data), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def publish(settings, board: dict, teams: list, statuses: dict[str, dict]) -> None:
    """Upload the public board (when it changed, and as a heartbeat) and, for each team member,
    their teams' status (when it changed). Each member's object holds only their own teams.
    An S3 failure is logged, not raised: the runner keeps running and tries again."""
    bucket, s3 = settings.s3_bucket, _s3(settings.s3_region)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    per_member: dict[str, dict] = {}
    for team in teams:
        if team.team not in statuses:
            continue
        for member in team.members:
            if USERNAME.match(member):
                per_member.setdefault(member, {})[team.team] = statuses[team.team]
    objects = {BOARD_KEY: board} | {
        status_key(name): {"participant": name, "updated_at": now, "teams": mine}
        for name, mine in per_member.items()}
    try:
        for key, data in objects.items():
            digest, (sent, when) = _digest(data), _sent.get((bucket, key), ("", 0.0))
            if digest == sent and (key != BOARD_KEY or time.monotonic() - when < BOARD_BEAT_SECONDS):
                continue
            s3.put_object(Bucket=bucket, Key=key, ContentType="application/json",
                          Body=json.dumps(data, ensure_ascii=False, indent=1).encode())
            _sent[(bucket, key)] = (digest, time.monotonic())
        for (where, key) in list(_sent):  # someone no longer in any team: their status goes
            if where == bucket and key.startswith("hackathon/status/") and key not in objects:
                s3.delete_object(Bucket=bucket, Key=key)
                del _sent[(where, key)]
    except Exception as error:
        if not _is_aws(error):
            raise
        log.warning("Could not publish to s3://%s/: %s", bucket, explain_aws(error))
