"""Does the SageMaker target create, find, survive faults in, and tear down exactly the event's resources?

Everything runs through the real boto3 code path against a moto server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import secrets

import boto3
import pytest
from botocore.stub import Stubber
from infra_moto import FaultyProxy, aws_env, moto_server, reset, using

from conftest import run_matsuri
from matsuri.infra import participants, settings
from matsuri.infra.aws.exchange import Where, collect, submit
from matsuri.infra.aws.provisioner import TAG_EVENT, PresignedUnavailable, SageMakerProvisioner

REGION = "ap-northeast-1"
PEOPLE = """username,email,role,team
alice,alice@example.com,learner,kaizen
bob,bob@example.com,learner,kaizen
carol,carol@example.com,instructor,
judy,judy@example.com,judge,
"""


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    with moto_server(tmp_path_factory.mktemp("moto")) as url, using(url):
        yield url


@pytest.fixture
def event(moto):
    """Fresh moto state and a test-unique event id."""
    reset(moto)
    return settings.from_dict({"event": {"id": f"t{secrets.token_hex(3)}", "course": "tiny-course"},
                               "sagemaker": {"region": REGION, "max_attempts": 4}})


def crowd(text: str = PEOPLE):
    return participants.parse(text.splitlines())


def sm():
    return boto3.client("sagemaker", region_name=REGION)


def test_apply_creates_one_locked_down_instance_per_participant_and_a_second_run_creates_nothing(event):
    report = SageMakerProvisioner(event, crowd()).apply(progress=False)
    assert not report.failed, report.failed
    made = sorted(o.action.resource for o in report.changed)
    assert made.count("notebook instance") == 4 and made.count("role") == 4
    assert {"bucket", "lifecycle config"} <= set(made)

    described = sm().describe_notebook_instance(NotebookInstanceName=f"{event.event.id}-alice")
    assert described["RootAccess"] == "Disabled"
    assert described["NotebookInstanceLifecycleConfigName"] == f"{event.event.id}-lifecycle"
    assert described["RoleArn"].endswith(f"role/matsuri/{event.event.id}/{event.event.id}-alice")
    tags = {t["Key"]: t["Value"] for t in sm().list_tags(ResourceArn=described["NotebookInstanceArn"])["Tags"]}
    assert tags == {TAG_EVENT: event.event.id, "matsuri:participant": "alice", "matsuri:role": "learner",
                    "matsuri:team": "kaizen"}
    s3 = boto3.client("s3", region_name=REGION)
    block = s3.get_public_access_block(Bucket=event.bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())

    again = SageMakerProvisioner(event, crowd()).apply(progress=False)
    assert again.changed == [] and not again.failed
    rows = SageMakerProvisioner(event, crowd()).status()
    assert [(r.who, r.state) for r in rows] == [(n, "InService") for n in ("alice", "bob", "carol", "judy")]
    assert rows[0].url == f"https://{event.event.id}-alice.notebook.{REGION}.sagemaker.aws"


def test_the_course_release_is_uploaded_for_on_create_to_sync(event, tmp_path, monkeypatch):
    lesson = tmp_path / "tiny-course" / "release" / "week1"
    lesson.mkdir(parents=True)
    (lesson / "week1.ipynb").write_text("{}")
    monkeypatch.setenv("MATSURI_COURSE_WORK", str(tmp_path))
    report = SageMakerProvisioner(event, crowd()[:1]).apply(progress=False)
    assert ("course release", "1 files") in [(o.action.resource, o.message) for o in report.changed]
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=event.bucket, Key="releases/tiny-course/week1/week1.ipynb")
    assert body["Body"].read() == b"{}"
    on_create = base64.b64decode(SageMakerProvisioner(event, []).lifecycle_request().params["OnCreate"][0]["Content"])
    assert b'RELEASE="releases/$COURSE/"' in on_create and b'LANGUAGE=""' in on_create
    assert b'aws s3 sync --only-show-errors "s3://$BUCKET/\\$RELEASE"' in on_create


def test_a_participant_who_reads_english_gets_the_english_copy_and_their_own_lifecycle(event, tmp_path, monkeypatch):
    """participants.csv `language`: the copy in that language is uploaded beside the course's, and
    the instance's lifecycle config (one per language read) syncs it and records the language."""
    for folder, text in (("release", "course language"), ("release-by-language/en", "English")):
        lesson = tmp_path / "tiny-course" / folder / "week1"
        lesson.mkdir(parents=True)
        (lesson / "week1.ipynb").write_text(text)
    monkeypatch.setenv("MATSURI_COURSE_WORK", str(tmp_path))
    people = crowd(PEOPLE.replace("username,email,role,team", "username,email,role,team,language")
                   .replace("bob,bob@example.com,learner,kaizen", "bob,bob@example.com,learner,kaizen,en"))
    eid = event.event.id
    assert not SageMakerProvisioner(event, people).apply(progress=False).failed
    s3 = boto3.client("s3", region_name=REGION)
    for key, text in (("releases/tiny-course/week1/week1.ipynb", b"course language"),
                      ("releases/en/tiny-course/week1/week1.ipynb", b"English")):
        assert s3.get_object(Bucket=event.bucket, Key=key)["Body"].read() == text
    configs = {name: sm().describe_notebook_instance(NotebookInstanceName=f"{eid}-{name}")["NotebookInstanceLifecycleConfigName"]
               for name in ("alice", "bob")}
    assert configs == {"alice": f"{eid}-lifecycle", "bob": f"{eid}-lifecycle-en"}
    scripts = {name: base64.b64decode(sm().describe_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName=name)["OnCreate"][0]["Content"]) for name in configs.values()}
    assert b'LANGUAGE="en"' in scripts[configs["bob"]] and b'LANGUAGE=""' in scripts[configs["alice"]]
    assert b'"language": "$LANGUAGE"' in scripts[configs["bob"]]  # on-create's event file
    assert not [o for o in SageMakerProvisioner(event, people).apply(progress=False).changed
                if o.action.resource == "lifecycle config"]
    gone = SageMakerProvisioner(event, []).destroy(progress=False)
    assert sorted(o.action.name for o in gone.changed if o.action.resource == "lifecycle config") == sorted(configs.values())


def test_each_role_policy_reaches_only_the_event_bucket_and_writes_only_its_own_prefix(event):
    SageMakerProvisioner(event, crowd()).apply(progress=False)
    iam = boto3.client("iam")
    for name, role in (("alice", "learner"), ("carol", "instructor")):
        document = iam.get_role_policy(RoleName=f"{event.event.id}-{name}",
                                       PolicyName=f"{event.event.id}-bucket")["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        for statement in document["Statement"]:
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for arn in resources:
                assert arn.startswith(f"arn:aws:s3:::{event.bucket}") or arn.endswith(
                    f"notebook-instance/{event.event.id}-{name}"), arn
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "s3:PutObject" in actions and role == "learner":
                assert resources == [f"arn:aws:s3:::{event.bucket}/participants/alice/*"]
        assume = iam.get_role(RoleName=f"{event.event.id}-{name}")["Role"]["AssumeRolePolicyDocument"]
        assert "sagemaker.amazonaws.com" in json.dumps(assume)


def test_one_failure_does_not_stop_the_others_and_throttling_is_retried_with_backoff(event, moto):
    eid = event.event.id
    faults = {("CreateRole", f"{eid}-alice"): ["Throttling", "Throttling"],
              ("CreateNotebookInstance", f"{eid}-bob"): ["ResourceLimitExceeded"]}
    with FaultyProxy(moto, faults) as proxy, using(proxy.url):
        report = SageMakerProvisioner(event, crowd()).apply(progress=False)
    assert proxy.seen[("CreateRole", f"{eid}-alice")] == 3  # two throttles, then through
    failed = {(o.action.resource, o.action.participant): o.message for o in report.failed}
    assert list(failed) == [("notebook instance", "bob")]
    assert "quota" in failed[("notebook instance", "bob")]
    names = {i["NotebookInstanceName"] for i in sm().list_notebook_instances()["NotebookInstances"]}
    assert names == {f"{eid}-alice", f"{eid}-carol", f"{eid}-judy"}

    rerun = SageMakerProvisioner(event, crowd()).apply(progress=False)
    assert [(o.action.resource, o.action.participant) for o in rerun.changed] == [("notebook instance", "bob")]


def test_plan_finds_what_botocore_would_send_but_aws_would_refuse(event):
    from botocore.validate import ParamValidator

    bad = event.replace("sagemaker", instance_type="ml.t3.mediun", volume_gb=20000)
    provisioner = SageMakerProvisioner(bad, crowd(), offline=True)
    request = provisioner.instance_request(crowd()[0])
    shape = boto3.client("sagemaker", region_name=REGION).meta.service_model.operation_model(
        "CreateNotebookInstance").input_shape
    assert not ParamValidator().validate(request.params, shape).has_errors()  # botocore lets it through
    plan = provisioner.plan()
    assert any("'ml.t3.mediun' is not one of the accepted values" in p for p in plan.problems)
    assert any("VolumeSizeInGB: 20000 is above the maximum 16384" in p for p in plan.problems)
    assert any("(participant alice)" in p for p in plan.problems)
    with pytest.raises(Exception, match="would be refused, so nothing was created"):
        provisioner.apply(progress=False)
    assert sm().list_notebook_instances()["NotebookInstances"] == []


def test_destroy_removes_only_what_carries_the_event_tag_and_keeps_the_data_unless_asked(event):
    eid = event.event.id
    SageMakerProvisioner(event, crowd()).apply(progress=False)
    sm().create_notebook_instance(NotebookInstanceName=f"{eid}-zed", InstanceType="ml.t3.medium",
                                  RoleArn="arn:aws:iam::123456789012:role/someone-else")
    boto3.client("iam").create_role(RoleName="unrelated", Path=f"/matsuri/{eid}/",
                                    AssumeRolePolicyDocument="{}")
    boto3.client("s3", region_name=REGION).put_object(Bucket=event.bucket, Key="participants/alice/x", Body=b"1")

    plan = SageMakerProvisioner(event, []).teardown()
    names = {(a.resource, a.name) for a in plan.actions}
    assert (("notebook instance", f"{eid}-zed") not in names) and (("role", "unrelated") not in names)
    assert any("kept bucket" in n for n in plan.notes)
    report = SageMakerProvisioner(event, []).destroy(progress=False)
    assert not report.failed and len(report.changed) == 9  # 4 instances, 4 roles, lifecycle
    left = {i["NotebookInstanceName"] for i in sm().list_notebook_instances()["NotebookInstances"]}
    assert left == {f"{eid}-zed"}
    assert [r["RoleName"] for r in boto3.client("iam").list_roles(PathPrefix=f"/matsuri/{eid}/")["Roles"]] == ["unrelated"]
    assert boto3.client("s3", region_name=REGION).head_bucket(Bucket=event.bucket)

    final = SageMakerProvisioner(event, [], include_data=True).destroy(progress=False)
    assert [o.action.resource for o in final.changed] == ["bucket"]


def test_presigned_urls_come_from_aws_and_moto_says_plainly_it_has_none(event):
    SageMakerProvisioner(event, crowd()).apply(progress=False)
    provisioner = SageMakerProvisioner(event, crowd())
    with pytest.raises(PresignedUnavailable, match="does not implement presigned"):
        provisioner.presigned_url("alice")
    rows = provisioner.status(presigned=True)
    assert "does not implement presigned" in rows[0].detail and rows[0].url.startswith("https://")

    # AWS's answer, through botocore's Stubber on the same client the provisioner uses.
    client = provisioner.client("sagemaker", quick=True)
    signed = "https://t.notebook.ap-northeast-1.sagemaker.aws?authToken=abc"
    with Stubber(client) as stub:
        stub.add_response("create_presigned_notebook_instance_url", {"AuthorizedUrl": signed},
                          {"NotebookInstanceName": f"{event.event.id}-alice",
                           "SessionExpirationDurationInSeconds": 43200})
        assert provisioner.presigned_url("alice") == signed


def test_learners_submit_under_their_own_prefix_and_the_instructor_collects_them_by_name(event, tmp_path):
    SageMakerProvisioner(event, crowd()).apply(progress=False)
    from datetime import UTC, datetime

    for name, text, when in (("alice", "first", 1), ("bob", "bob's", 2), ("alice", "second", 3)):
        work = tmp_path / name / "week1"
        work.mkdir(parents=True, exist_ok=True)
        (work / "week1.ipynb").write_text(text)
        (work / ".ipynb_checkpoints").mkdir(exist_ok=True)
        (work / ".ipynb_checkpoints" / "junk").write_text("x")
        url = submit(Where(event.bucket, name, REGION), "tiny-course", "week1", work,
                     now=datetime(2027, 2, 1, 10, when, tzinfo=UTC))
        assert url.startswith(f"s3://{event.bucket}/participants/{name}/submissions/tiny-course/week1/")
    course = tmp_path / "course"
    got = collect(Where(event.bucket, "carol", REGION), "tiny-course", "week1", course)
    assert got == {"alice": "2027-02-01 10:03:00.000000 UTC", "bob": "2027-02-01 10:02:00.000000 UTC"}
    assert (course / "submitted" / "alice" / "week1" / "week1.ipynb").read_text() == "second"
    assert (course / "submitted" / "bob" / "week1" / "week1.ipynb").read_text() == "bob's"
    assert not (course / "submitted" / "alice" / "week1" / ".ipynb_checkpoints").exists()
    assert collect(Where(event.bucket, "carol", REGION), "tiny-course", "week1", course) == got  # idempotent


def test_the_cli_plans_with_a_cost_applies_shows_status_and_destroys(moto, tmp_path):
    reset(moto)
    eid = f"t{secrets.token_hex(3)}"
    (tmp_path / "settings.toml").write_text(
        f'[event]\nid = "{eid}"\nstarts = 2027-02-01\nends = 2027-02-02\nhours_per_day = 10\n'
        f'[sagemaker]\nregion = "{REGION}"\ninstance_type = "ml.t3.large"\nvolume_gb = 5\n')
    (tmp_path / "people.csv").write_text(PEOPLE)
    common = ["--target", "sagemaker", "--participants", str(tmp_path / "people.csv"),
              "--settings", str(tmp_path / "settings.toml")]
    env = aws_env(moto)
    planned = run_matsuri(["infra", "plan", *common], env=env).out
    assert "4 × ml.t3.large × 2 days × 10 h at 0.13 /h" in planned and "10.40" in planned
    assert "prices as of" in planned
    applied = run_matsuri(["infra", "apply", *common], env=env)
    assert "10 created, 0 already there, 0 failed" in applied.out
    assert "apply sagemaker" in applied.err  # the progress bar
    assert "0 created, 10 already there" in run_matsuri(["infra", "apply", *common], env=env).out
    status = run_matsuri(["infra", "status", *common], env=env).out
    assert status.count("InService") == 4
    gone = run_matsuri(["infra", "destroy", *common, "--yes"], env=env).out
    assert f"removed notebook instance {eid}-alice" in gone and "kept bucket" in gone
    assert "missing" in run_matsuri(["infra", "status", *common], env=env).out


def test_the_exchange_commands_work_from_a_notebook_instance_and_from_the_instructors_desk(event, moto, tmp_path):
    SageMakerProvisioner(event, crowd()).apply(progress=False)
    env = aws_env(moto)
    release = tmp_path / "release" / "week1"
    release.mkdir(parents=True)
    (release / "week1.ipynb").write_text("the released notebook")
    common = ["--bucket", event.bucket, "--region", REGION]
    run_matsuri(["infra", "exchange", "release", "tiny-course", "week1", "--folder", str(release), *common], env=env)
    # On the instance, on-create's event file says which bucket and who this is.
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps({"bucket": event.bucket, "participant": "bob", "region": REGION}))
    learner_env = env | {"MATSURI_EVENT_FILE": str(event_file)}
    home = tmp_path / "bob"
    home.mkdir()
    run_matsuri(["infra", "exchange", "fetch", "tiny-course", "week1"], env=learner_env, cwd=home)
    assert (home / "week1" / "week1.ipynb").read_text() == "the released notebook"
    (home / "week1" / "week1.ipynb").write_text("bob's answer")
    out = run_matsuri(["infra", "exchange", "submit", "tiny-course", "week1"], env=learner_env, cwd=home).out
    assert "Submitted week1 as bob" in out
    collected = run_matsuri(["infra", "exchange", "collect", "tiny-course", "week1", "--course-dir",
                             str(tmp_path / "course"), *common], env=env).out
    assert "Collected 1 submission(s)" in collected
    assert (tmp_path / "course" / "submitted" / "bob" / "week1" / "week1.ipynb").read_text() == "bob's answer"
    missing = run_matsuri(["infra", "exchange", "fetch", "tiny-course", "week9"], env=learner_env, cwd=home, exit_code=3)
    assert "has not been released yet" in missing.err

    # A participant who reads English fetches the English copy once it is released; others the course's.
    english = tmp_path / "release-by-language" / "en" / "week1"
    english.mkdir(parents=True)
    (english / "week1.ipynb").write_text("the English notebook")
    out = run_matsuri(["infra", "exchange", "release", "tiny-course", "week1", "--folder", str(english),
                       "--language", "en", *common], env=env).out
    assert f"s3://{event.bucket}/releases/en/tiny-course/week1/" in out
    for name, language, expected in (("alice", "en", "the English notebook"), ("carol", "", "the released notebook")):
        event_file.write_text(json.dumps({"bucket": event.bucket, "participant": name, "region": REGION,
                                          "language": language}))
        (tmp_path / name).mkdir()
        run_matsuri(["infra", "exchange", "fetch", "tiny-course", "week1"], env=learner_env, cwd=tmp_path / name)
        assert (tmp_path / name / "week1" / "week1.ipynb").read_text() == expected


def test_unreachable_aws_is_one_clear_sentence_and_offline_plan_still_works(tmp_path):
    from conftest import free_port

    (tmp_path / "people.csv").write_text(PEOPLE)
    args = ["infra", "plan", "--target", "sagemaker", "--participants", str(tmp_path / "people.csv")]
    env = aws_env(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    run = run_matsuri(args, env=env, exit_code=1)
    assert "Could not look up what exists in AWS: could not reach AWS" in run.err and "Traceback" not in run.err
    assert "would be refused" not in run_matsuri([*args, "--offline"], env=env).out
