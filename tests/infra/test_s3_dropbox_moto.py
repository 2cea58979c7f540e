"""On SageMaker, do teams hand in through the event bucket, each only as themselves, and see
only their own team's status and score?

A moto server on 127.0.0.1 with IAM enforcement switched on: each participant acts with the
credentials of their notebook instance's role (assumed, with the inline policy `infra apply`
gives it), the runner with an organiser's keys holding infra/sagemaker/iam/organiser-policy.json.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from infra_moto import moto_server, reset, using

from conftest import BIN
from support.hackathon_kit import DEFAULTS, SETTINGS, add_team, push_predictions

REGION = "ap-northeast-1"
PEOPLE = """username,email,role,team
alice,alice@example.com,learner,alpha
bob,bob@example.com,learner,beta
mallory,mallory@example.com,learner,
"""
TEAMS = {"alpha": "alice", "beta": "bob"}
CREDENTIAL_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def _auth(url: str, after: str) -> None:
    """moto checks signatures and IAM policies for every request after `after` more ("inf": never)."""
    conn = http.client.HTTPConnection(url.removeprefix("http://"))
    conn.request("POST", "/moto-api/reset-auth", body=after.encode())
    assert conn.getresponse().status == 200


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    with moto_server(tmp_path_factory.mktemp("moto")) as url, using(url):
        try:
            yield url
        finally:
            _auth(url, "inf")


@dataclass
class Bucketed:
    """An event whose teams hand in through s3://<bucket>/, and who may act in it."""

    event: object
    bucket: str
    url: str
    folder: Path
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> AWS keys

    @property
    def nowhere(self) -> Path:
        """What a notebook instance has of the event folder: nothing (no store, no drop box)."""
        return self.folder / "not-on-this-instance"

    def event_file(self, name: str) -> Path:
        path = self.folder / f"{name}-event.json"  # what on-create writes on <name>'s instance
        path.write_text(json.dumps({"bucket": self.bucket, "participant": name, "region": REGION}))
        return path

    def env(self, name: str) -> dict[str, str]:
        """The environment of `name`'s notebook instance (or, for "organiser", the runner's)."""
        env = {"AWS_ENDPOINT_URL": self.url, "AWS_DEFAULT_REGION": REGION, **self.credentials[name]}
        if name != "organiser":
            env["MATSURI_EVENT_FILE"] = str(self.event_file(name))
        return env

    @contextlib.contextmanager
    def acting_as(self, name: str):
        wanted = self.env(name)
        keys = (*CREDENTIAL_KEYS, "MATSURI_EVENT_FILE")
        saved = {k: os.environ.get(k) for k in keys}
        for key in keys:
            os.environ.pop(key, None)
        os.environ.update(wanted)
        try:
            yield
        finally:
            for key, value in saved.items():
                os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)

    def s3(self):
        """A client with the credentials of whoever acts now (boto3's default session keeps its first)."""
        return boto3.session.Session().client("s3", region_name=REGION)

    def rows(self) -> list[dict]:
        with self.event.connect() as con:
            return [dict(r) for r in con.execute("SELECT * FROM submissions ORDER BY id")]


@pytest.fixture
def bucketed(moto, tmp_path, public_company, sandbox_user, monkeypatch):
    """The bucket and roles as `infra apply --target sagemaker` makes them, an organiser with
    organiser-policy.json, and an event with teams alpha (alice) and beta (bob); mallory has an
    instance but no team. The runner has published once; then moto enforces IAM."""
    from matsuri.hackathon.event import init_event
    from matsuri.hackathon.service import publish
    from matsuri.infra import participants, settings
    from matsuri.infra.aws.provisioner import SageMakerProvisioner, iam_folder

    reset(moto)
    _auth(moto, "inf")
    eid = f"t{secrets.token_hex(3)}"
    infra = settings.from_dict({"event": {"id": eid, "course": "tiny-course"}, "sagemaker": {"region": REGION}})
    crowd = participants.parse(PEOPLE.splitlines())
    provisioner = SageMakerProvisioner(infra, crowd)
    for request in provisioner.bucket_requests() + [r for p in crowd for r in provisioner.role_requests(p)]:
        provisioner.send(request)
    iam, sts = boto3.client("iam"), boto3.client("sts")
    iam.create_user(UserName="organiser")
    iam.put_user_policy(UserName="organiser", PolicyName="matsuri-organiser",
                        PolicyDocument=(iam_folder() / "organiser-policy.json").read_text())
    keys = iam.create_access_key(UserName="organiser")["AccessKey"]
    made = Bucketed(None, infra.bucket, moto, tmp_path, {"organiser": {
        "AWS_ACCESS_KEY_ID": keys["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"]}})
    for person in crowd:
        role = iam.get_role(RoleName=provisioner.role_name(person.username))["Role"]["Arn"]
        assumed = sts.assume_role(RoleArn=role, RoleSessionName=f"SageMaker-{person.username}")["Credentials"]
        made.credentials[person.username] = {"AWS_ACCESS_KEY_ID": assumed["AccessKeyId"],
                                             "AWS_SECRET_ACCESS_KEY": assumed["SecretAccessKey"],
                                             "AWS_SESSION_TOKEN": assumed["SessionToken"]}

    monkeypatch.setenv("MATSURI_WAREHOUSE", str(public_company.warehouse))
    monkeypatch.setenv("MATSURI_LABELS", str(public_company.labels))
    root = tmp_path / "event"
    root.mkdir()
    toml = SETTINGS.format(**(DEFAULTS | {"run_as": sandbox_user}))
    toml = toml.replace("threads = 1\n", f'threads = 1\ns3_bucket = "{infra.bucket}"\ns3_region = "{REGION}"\n')
    (root / "event.toml").write_text(toml, encoding="utf-8")
    made.event, _ = init_event(root)
    for team, member in TEAMS.items():
        add_team(made.event, team, "push-open-rate", members=[member])
    _auth(moto, "0")
    try:
        with made.acting_as("organiser"):
            publish(made.event, 2, alive=False)  # as `hackathon init` does
        yield made
    finally:
        _auth(moto, "inf")


def _csv(bucketed: Bucketed, company, name: str, seed: int) -> Path:
    path = bucketed.folder / name / "predictions.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    push_predictions(company, seed=seed).to_csv(path, index=False)
    return path


def _denied(call, *args, **kwargs) -> bool:
    try:
        call(*args, **kwargs)
    except Exception as error:
        return "AccessDenied" in str(error)
    return False


def _policy(bucketed: Bucketed, name: str) -> dict:
    """The inline policy `infra apply` gives `name`'s instance role."""
    from matsuri.infra import participants, settings
    from matsuri.infra.aws.provisioner import SageMakerProvisioner

    eid = bucketed.bucket.removesuffix("-festival")
    infra = settings.from_dict({"event": {"id": eid, "course": "tiny-course"}, "sagemaker": {"region": REGION}})
    person = next(p for p in participants.parse(PEOPLE.splitlines()) if p.username == name)
    return json.loads(SageMakerProvisioner(infra, [], offline=True).policy(person))


def _runner(bucketed: Bucketed) -> list[str]:
    from matsuri.hackathon.service import serve

    said: list[str] = []
    with bucketed.acting_as("organiser"):
        serve(bucketed.event, poll=0.2, until_idle=True, say=said.append)
    return said


def test_two_teams_hand_in_through_the_bucket_and_each_sees_only_its_own(bucketed, public_company):
    from matsuri.errors import UsageError
    from matsuri.hackathon import participant
    from matsuri.hackathon.records import get_submission

    tickets = {}
    for seed, (team, name) in enumerate(TEAMS.items()):
        with bucketed.acting_as(name):
            got, tickets[team] = participant.hand_in(bucketed.nowhere, _csv(bucketed, public_company, name, seed))
            assert got == team
            waiting = participant.look(bucketed.nowhere, team, tickets[team])
            assert waiting.state == "waiting" and "the runner is not running" in waiting.text

    said = _runner(bucketed)
    rows = bucketed.rows()
    assert [(r["team"], r["status"], r["submitted_by"]) for r in rows] == [
        ("alpha", "scored", "alice"), ("beta", "scored", "bob")], said
    with bucketed.acting_as("organiser"):  # taken in, then gone from the bucket
        left = bucketed.s3().list_objects_v2(Bucket=bucketed.bucket, Prefix="participants/")
        assert left.get("KeyCount") == 0, left.get("Contents")

    for row in rows:
        team, name = row["team"], row["submitted_by"]
        other, other_name = next((t, n) for t, n in TEAMS.items() if t != team)
        with bucketed.acting_as(name):
            update = participant.look(bucketed.nowhere, team, tickets[team])
            score = f"{get_submission(bucketed.event, row['id']).public['roc_auc']:.4f}"
            assert update.state == "scored" and f"Public score: roc_auc {score}" in update.text, update.text
            status = participant.team_status(bucketed.nowhere, team)
            assert [s["id"] for s in status["submissions"]] == [row["id"]] and status["left_today"] == 49
            s3 = bucketed.s3()
            own = s3.get_object(Bucket=bucketed.bucket, Key=f"hackathon/status/{name}.json")["Body"].read().decode()
            assert list(json.loads(own)["teams"]) == [team]
            assert other not in own and other_name not in own and "private" not in own
            board = json.loads(s3.get_object(Bucket=bucketed.bucket, Key="hackathon/public/board.json")["Body"].read())
            entries = board["leaderboards"]["push-open-rate"]["entries"]
            assert sorted(e["team"] for e in entries) == ["alpha", "beta"] and board["runner"]["alive"] is False
            # the role's policy: nothing of the other team readable, nothing outside its own prefix writable
            for call, kwargs in (
                    (s3.get_object, {"Key": f"hackathon/status/{other_name}.json"}),
                    (s3.get_object, {"Key": f"participants/{other_name}/hackathon/x/ticket.json"}),
                    (s3.put_object, {"Key": f"participants/{other_name}/hackathon/x/ticket.json", "Body": b"{}"}),
                    (s3.put_object, {"Key": f"hackathon/status/{name}.json", "Body": b"{}"}),
                    (s3.put_object, {"Key": "hackathon/public/board.json", "Body": b"{}"}),
                    (s3.delete_object, {"Key": f"hackathon/status/{name}.json"})):
                assert _denied(call, Bucket=bucketed.bucket, **kwargs), (name, call, kwargs)
            # moto ignores the condition that limits listing to one's own prefix: the document says it
            listing = next(st for st in _policy(bucketed, name)["Statement"] if st["Action"] == "s3:ListBucket")
            assert listing["Condition"] == {"StringLike": {"s3:prefix": ["releases/*", f"participants/{name}/*"]}}
            with pytest.raises(UsageError, match=f"You are not a member of team '{other}'.*your team is '{team}'"):
                participant.hand_in(bucketed.nowhere, _csv(bucketed, public_company, name, 5), team=other)


def test_entries_count_only_for_their_own_participants_team(bucketed, public_company):
    """A name in no team gets nothing queued, an entry naming another team is not queued for
    it, and an entry without its ticket.json (half uploaded) is left alone."""
    from matsuri.errors import UsageError
    from matsuri.hackathon import participant

    csv = _csv(bucketed, public_company, "any", 0).read_bytes()

    def entry(s3, name: str, ticket: str, team: str | None, complete: bool = True) -> None:
        prefix = f"participants/{name}/hackathon/{ticket}/"
        s3.put_object(Bucket=bucketed.bucket, Key=prefix + "predictions.csv", Body=csv)
        if complete:
            body = {"kind": "file", "name": "predictions.csv"} | ({"team": team} if team else {})
            s3.put_object(Bucket=bucketed.bucket, Key=prefix + "ticket.json", Body=json.dumps(body).encode())

    with bucketed.acting_as("mallory"):
        with pytest.raises(UsageError, match="You \\('mallory'\\) are not in any team"):
            participant.hand_in(bucketed.nowhere, _csv(bucketed, public_company, "mallory", 0))
        entry(bucketed.s3(), "mallory", "0123456789abcdef", "alpha")  # her own prefix: allowed
        entry(bucketed.s3(), "mallory", "fedcba9876543210", None)
    with bucketed.acting_as("alice"):
        entry(bucketed.s3(), "alice", "00000000000000aa", "beta")
        entry(bucketed.s3(), "alice", "00000000000000bb", None, complete=False)

    said = _runner(bucketed)
    assert bucketed.rows() == [], said
    assert any("names team 'beta', which alice is not a member of" in line for line in said), said
    with bucketed.acting_as("organiser"):
        left = bucketed.s3().list_objects_v2(Bucket=bucketed.bucket, Prefix="participants/")
        keys = sorted(o["Key"] for o in left.get("Contents", []))
    assert keys == ["participants/alice/hackathon/00000000000000bb/predictions.csv",
                    "participants/mallory/hackathon/0123456789abcdef/predictions.csv",
                    "participants/mallory/hackathon/0123456789abcdef/ticket.json",
                    "participants/mallory/hackathon/fedcba9876543210/predictions.csv",
                    "participants/mallory/hackathon/fedcba9876543210/ticket.json"]


@pytest.mark.slow
def test_the_commands_work_unchanged_on_a_notebook_instance(bucketed, public_company):
    """`matsuri hackathon submit/submissions/leaderboard` as alice on her instance (her role's
    credentials, on-create's event file, no event folder) against the runner service."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "MATSURI_EVENT_FILE"}
    base |= {"COLUMNS": "250", "MATSURI_EVENT": str(bucketed.nowhere)}
    log = bucketed.folder / "runner.log"
    with open(log, "w") as out:
        runner = subprocess.Popen([str(BIN / "matsuri"), "hackathon", "--event", str(bucketed.event.root),
                                   "runner"], env=base | {"MATSURI_EVENT": str(bucketed.event.root)}
                                  | bucketed.env("organiser"), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        board = bucketed.event.root / "public" / "board.json"
        while '"alive": true' not in (board.read_text() if board.exists() else ""):
            assert runner.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)

        def matsuri(name: str, *args: str, code: int = 0) -> str:
            done = subprocess.run([str(BIN / "matsuri"), "hackathon", *args], env=base | bucketed.env(name),
                                  cwd=bucketed.folder / name, capture_output=True, text=True, timeout=180)
            assert done.returncode == code, (done.stdout, done.stderr, log.read_text())
            return done.stdout + done.stderr

        _csv(bucketed, public_company, "alice", 0)
        _csv(bucketed, public_company, "bob", 1)
        out = matsuri("alice", "submit", "predictions.csv")
        assert "Handed in predictions.csv for team 'alpha'" in out and "scored. Public score: roc_auc 0." in out, out
        assert "Submissions left: 49 today" in matsuri("alice", "submissions")
        assert "push-open-rate: public leaderboard" in matsuri("alice", "leaderboard")
        refused = matsuri("bob", "submit", "predictions.csv", "--team", "alpha", code=2)
        assert "You are not a member of team 'alpha'" in refused and "your team is 'beta'" in refused
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(60)
    assert [(r["team"], r["status"], r["submitted_by"]) for r in bucketed.rows()] == [("alpha", "scored", "alice")]


def test_a_file_over_the_limit_is_refused_unread_and_a_ticket_counts_once(bucketed, public_company):
    """The runner refuses an entry's oversized file by its size without downloading it; an entry
    uploaded again under a ticket already taken in (as after a stop before the delete) is not
    queued twice."""
    from matsuri.hackathon import participant

    big = bucketed.folder / "alice" / "big" / "predictions.csv"
    big.parent.mkdir(parents=True)
    with open(big, "wb") as out:  # over max_file_mb (5) but under the door's 4× check
        out.write(_csv(bucketed, public_company, "alice", 0).read_bytes())
        out.write(b"\n" * 6_000_000)
    with bucketed.acting_as("alice"):
        team, ticket = participant.hand_in(bucketed.nowhere, big)
    _runner(bucketed)
    [row] = bucketed.rows()
    assert row["status"] == "rejected" and "is 6.1 MB, more than the 5.0 MB" in row["message"], row
    with bucketed.acting_as("alice"):
        update = participant.look(bucketed.nowhere, team, ticket)
        assert update.state == "rejected" and "6.1 MB" in update.text
        prefix = f"participants/alice/hackathon/{ticket}/"
        s3 = bucketed.s3()
        s3.put_object(Bucket=bucketed.bucket, Key=prefix + "predictions.csv", Body=b"delivery_id,probability\n")
        s3.put_object(Bucket=bucketed.bucket, Key=prefix + "ticket.json",
                      Body=b'{"kind": "file", "name": "predictions.csv", "team": "alpha"}')
    said = _runner(bucketed)
    assert [r["id"] for r in bucketed.rows()] == [row["id"]]
    assert any(f"Entry {ticket} of alice was taken in before" in line for line in said), said


def test_an_unreadable_bucket_is_said_once_and_nothing_is_taken_in(bucketed):
    """A wrong s3_bucket (or credentials that may not read it): the runner says so once, with
    what to do, instead of at every poll, and keeps going."""
    from matsuri.hackathon.service import take_entry
    from matsuri.hackathon.teams import list_teams
    from matsuri.infra.aws import s3_dropbox

    event = bucketed.event
    event.settings = dataclasses.replace(event.settings, s3_bucket=f"{bucketed.bucket}-gone")
    teams = {t.team: t for t in list_teams(event)}
    said: list[str] = []
    with bucketed.acting_as("organiser"):
        for _ in range(3):
            assert s3_dropbox.take_in(event, teams, take_entry, said.append) is False
    # a name the organiser's policy does not cover (…-festival): AWS says AccessDenied, and what to ask for
    assert len(said) == 1 and "could not be read: AccessDenied" in said[0] and "organiser-policy.json" in said[0], said


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("s3_bucket", "My_Bucket", "`submissions.s3_bucket` must be an S3 bucket name"),
    ("s3_region", "tokyo", "`submissions.s3_region` must be an AWS region such as ap-northeast-1"),
    ("s3_bukcet", "x-festival", "`submissions.s3_bukcet` is not a setting"),
])
def test_the_bucket_settings_are_checked_by_their_key(key, value, expected, tmp_path):
    """Is a wrong bucket or region in event.toml named by its key (before the runner starts)?"""
    import tomllib

    from matsuri.errors import UsageError
    from matsuri.hackathon import settings

    data = tomllib.loads(SETTINGS.format(**DEFAULTS))
    data["submissions"][key] = value
    with pytest.raises(UsageError, match=expected):
        settings.parse(data, tmp_path / "event.toml")
    data["submissions"].pop(key)
    data["submissions"] |= {"s3_bucket": "t1a2b3c-festival", "s3_region": "us-east-1"}
    parsed = settings.parse(data, tmp_path / "event.toml")
    assert (parsed.s3_bucket, parsed.s3_region) == ("t1a2b3c-festival", "us-east-1")
