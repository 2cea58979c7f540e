"""Does a team notebook run on SageMaker Processing come back scored exactly as a local run, and
is every way it can go wrong said plainly?

Against a real moto server on 127.0.0.1 started here, behind `ProcessingPlayer`, which plays
each Processing job as SageMaker would (its inputs from S3, its entry point run on them, its
output back to S3). The SDK (`pip install 'matsuri[sagemaker]'`) must be installed for the runs;
the tests of settings and of the missing SDK run without it.
"""

from __future__ import annotations

import importlib.util
import secrets
import sys

import boto3
import pytest
from processing_player import played_aws

from matsuri.errors import InvalidSubmission, MissingDependency, UsageError
from matsuri.hackathon import runner, scoring, submissions
from matsuri.infra import settings as infra_settings
from support.hackathon_kit import WRITE_PUSH_PREDICTIONS, add_team, notebook

REGION = "ap-northeast-1"
ROLE = "arn:aws:iam::123456789012:role/matsuri-processing"
IMAGE = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/matsuri:0.1.0"
HAVE_SDK = importlib.util.find_spec("sagemaker") is not None and \
    importlib.util.find_spec("sagemaker.core") is not None
needs_sdk = pytest.mark.skipif(not HAVE_SDK, reason="the SageMaker SDK is not installed here "
                               "(pip install 'matsuri[sagemaker]'; scripts/setup.sh installs it)")


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    """moto behind the player; boto3 (and so the kit and the SDK) pointed at the player."""
    with played_aws(tmp_path_factory.mktemp("sagemaker-runs")) as player:
        yield player


@pytest.fixture
def telemetry(monkeypatch):
    """Every telemetry event the SDK would send (none may be)."""
    from sagemaker.core.telemetry import telemetry_logging

    sent = []
    monkeypatch.setattr(telemetry_logging, "_send_telemetry_request", lambda *a, **k: sent.append(a))
    monkeypatch.setattr(telemetry_logging, "_requests_helper", lambda *a, **k: sent.append(a))
    return sent


def event_settings(event_id: str, **sagemaker) -> infra_settings.Settings:
    """Infra settings for one event, its bucket made; jobs polled quickly."""
    values = {"region": REGION, "processing_role_arn": ROLE, "processing_image": IMAGE,
              "processing_poll_seconds": 0.2, "processing_start_minutes": 1} | sagemaker
    config = infra_settings.from_dict({"event": {"id": event_id}, "sagemaker": values})
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=config.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return config


def job_for(event, folder, source, team="sushi", submission_id=7) -> runner.NotebookJob:
    scoring = submissions.scoring_job(event, "push-open-rate", folder / "files")
    folder.mkdir(parents=True)
    return runner.NotebookJob(source, folder, folder / "files", event.settings, scoring.warehouse,
                              "", scoring.max_bytes, team, submission_id)


def both(event, tmp_path, source, config):
    """The same notebook run by the local trusted backend and by SageMaker: (local, remote) jobs,
    and what each raised (None if nothing)."""
    from matsuri.infra.aws.notebook_runs import Backend

    jobs, errors = [], []
    for name, backend in (("local", runner.TrustedBackend()), ("sagemaker", Backend(config))):
        job = job_for(event, tmp_path / name, source)
        try:
            backend.run(job)
            errors.append(None)
        except InvalidSubmission as error:
            errors.append(str(error))
        jobs.append(job)
    return jobs, errors


@needs_sdk
def test_a_team_notebook_run_on_sagemaker_is_scored_exactly_like_a_local_run(
        aws, make_event, tmp_path, telemetry):
    event = make_event()
    config = event_settings(f"t{secrets.token_hex(3)}")
    source = notebook(tmp_path / "team" / "try 1.ipynb", WRITE_PUSH_PREDICTIONS, "print('done')")
    (local, remote), errors = both(event, tmp_path, source, config)
    assert errors == [None, None]
    predictions = [(job.files_dir / "predictions.csv").read_bytes() for job in (local, remote)]
    assert predictions[0] == predictions[1] and predictions[0].count(b"\n") > 10
    scores = [scoring.score_folder(submissions.scoring_job(event, "push-open-rate", job.files_dir))
              for job in (local, remote)]
    assert scores[0] == scores[1] and scores[0]["public"]  # the same numbers, from the same scorer
    executed = (remote.out_dir / "executed.ipynb").read_text()
    assert "done" in executed
    log = (remote.out_dir / "log.txt").read_text()
    assert log.startswith("Run on SageMaker Processing: job ") and "Executing" in log

    request = aws.played[-1]  # what SageMaker was asked to run
    assert request["AppSpecification"] == {
        "ImageUri": IMAGE, "ContainerEntrypoint": ["python3", "-m", "matsuri.infra.aws.notebook_entry"],
        "ContainerArguments": ["run", "--timeout", "60", "--deadline", "120", "--max-bytes", "5000000"]}
    assert request["RoleArn"] == ROLE
    assert request["ProcessingResources"]["ClusterConfig"]["InstanceType"] == "ml.m5.large"
    channels = {i["InputName"]: i["S3Input"]["S3Uri"] for i in request["ProcessingInputs"]}
    assert set(channels) == {"notebook", "warehouse"}
    assert {"Key": "matsuri:event", "Value": config.event.id} in request["Tags"]
    assert request["Environment"] == {"PLOOMBER_STATS_ENABLED": "false"}
    # the holdout labels never go to S3; the warehouse goes once, whatever runs after
    job = job_for(event, tmp_path / "again", source)
    from matsuri.infra.aws.notebook_runs import Backend

    Backend(config).run(job)
    keys = [o["Key"] for o in boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=config.bucket)["Contents"]]
    assert sum(k.startswith("processing/warehouse/") for k in keys) == 1
    assert not any("label" in k for k in keys)
    # telemetry off, and no look-up of the account (the SDK's STS call) on the way
    from sagemaker.core.common_utils import resolve_value_from_config
    from sagemaker.core.config.config_schema import TELEMETRY_OPT_OUT_PATH

    from matsuri.infra.aws.notebook_runs import ProcessingJobs

    assert resolve_value_from_config(None, TELEMETRY_OPT_OUT_PATH, default_value=False,
                                     sagemaker_session=ProcessingJobs(config).session) is True
    assert telemetry == []
    assert "GetCallerIdentity" not in aws.requests and "CreateProcessingJob" in aws.requests


@needs_sdk
def test_a_failing_notebook_gets_the_same_plain_message_as_a_local_run(aws, make_event, tmp_path):
    event = make_event()
    config = event_settings(f"t{secrets.token_hex(3)}")
    failing = notebook(tmp_path / "team" / "fails.ipynb", "x = 1",
                       "raise ValueError('the model needs a column that is not there')")
    (_, _), errors = both(event, tmp_path / "fails", failing, config)
    assert errors[0] and errors[0] == errors[1]
    assert "stopped with an error in code cell 3 (ValueError: the model needs a column" in errors[1]
    assert "Traceback" not in errors[1]
    silent = notebook(tmp_path / "team" / "silent.ipynb", "x = 1")
    (_, remote), errors = both(event, tmp_path / "silent", silent, config)
    assert errors[0] == errors[1] and "wrote no predictions.csv" in errors[1]
    assert not remote.files_dir.exists() or not any(remote.files_dir.iterdir())


@needs_sdk
@pytest.mark.parametrize("fault, expected", [
    ("capacity", "could not be run: the SageMaker job that runs it"),
    ("max-runtime", "did not finish within the 2 minutes a run may take, so it was stopped"),
])
def test_a_job_that_sagemaker_fails_or_stops_is_said_plainly(aws, make_event, tmp_path, fault, expected):
    from matsuri.infra.aws.notebook_runs import Backend

    event = make_event()
    config = event_settings(f"t-{fault}-{secrets.token_hex(2)}")
    aws.faults[fault] = fault
    source = notebook(tmp_path / "team" / "ok.ipynb", WRITE_PUSH_PREDICTIONS)
    with pytest.raises(InvalidSubmission) as raised:
        Backend(config).run(job_for(event, tmp_path / "run", source))
    assert expected in str(raised.value) and "Traceback" not in str(raised.value)
    if fault == "capacity":
        assert "not a problem in your notebook" in str(raised.value)


@needs_sdk
def test_a_job_that_never_ends_is_stopped_at_the_limit(aws, tmp_path):
    from matsuri.infra.aws.notebook_runs import ProcessingJobs, job_name

    config = event_settings(f"t-hold-{secrets.token_hex(2)}", processing_start_minutes=0)
    aws.faults["hold"] = "hold"
    jobs = ProcessingJobs(config)
    name = job_name(config.event.id, "run")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.txt").write_text("x")
    jobs.start(name, {"work": tmp_path / "in"}, ["grade", "--timeout", "5"], 60, "test")
    finished = jobs.wait([name], limit_seconds=0.5)[name]
    assert finished.status == "TimedOut"
    assert aws.state[name][0] == "Stopped"  # StopProcessingJob was sent


@needs_sdk
def test_a_job_the_service_would_refuse_is_refused_here_in_plain_words(aws, tmp_path):
    from matsuri.infra.aws.notebook_runs import ProcessingJobs, job_name

    config = event_settings(f"t{secrets.token_hex(3)}", processing_instance_type="ml.t3.huge")
    jobs = ProcessingJobs(config)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.txt").write_text("x")
    created = aws.requests.count("CreateProcessingJob")
    with pytest.raises(UsageError, match=r"would be refused, so nothing was started:\n.*'ml.t3.huge' "
                                         r"is not one of the accepted values"):
        jobs.start(job_name(config.event.id, "run"), {"work": tmp_path / "in"}, ["grade"], 60, "test")
    assert aws.requests.count("CreateProcessingJob") == created


@needs_sdk
def test_a_team_submits_through_the_event_with_the_sagemaker_backend(aws, make_event, tmp_path,
                                                                     monkeypatch):
    """The runner's `backend = "sagemaker"` path: runner.backend loads it, settings from
    MATSURI_INFRA_SETTINGS, and the submission is scored like the organiser's local one."""
    from matsuri.hackathon.event import open_event

    event_id = f"t{secrets.token_hex(3)}"
    event_settings(event_id)
    path = tmp_path / "infra.toml"
    path.write_text(f'[event]\nid = "{event_id}"\n[sagemaker]\nregion = "{REGION}"\n'
                    f'processing_role_arn = "{ROLE}"\nprocessing_image = "{IMAGE}"\n'
                    "processing_poll_seconds = 0.2\n")
    monkeypatch.setenv(infra_settings.SETTINGS_ENV, str(path))
    local = make_event()
    remote_folder = make_event().root
    toml = remote_folder / "event.toml"
    toml.write_text(toml.read_text().replace("[submissions]\n", "[submissions]\nbackend = \"sagemaker\"\n"))
    remote = open_event(remote_folder)
    assert remote.settings.backend == "sagemaker"
    source = notebook(tmp_path / "team" / "starter.ipynb", WRITE_PUSH_PREDICTIONS)
    scored = []
    for event in (local, remote):
        add_team(event, "sushi", "push-open-rate")
        scored.append(submissions.submit(event, "sushi", source, sandbox=event is remote))
    assert [s.status for s in scored] == ["scored", "scored"]
    assert scored[0].public == scored[1].public and scored[0].public
    assert scored[0].private == scored[1].private
    assert type(runner.backend("sagemaker")).__module__ == "matsuri.infra.aws.notebook_runs"


# --- without AWS: settings and the extra ----------------------------------------------------------

def test_missing_processing_settings_and_bucket_are_named(tmp_path):
    from matsuri.infra.aws.notebook_runs import ProcessingJobs

    config = infra_settings.from_dict({"event": {"id": "t-nothing"}})
    with pytest.raises(UsageError, match=r"needs processing_role_arn and processing_image in the "
                                         r"\[sagemaker\] table"):
        ProcessingJobs(config).require()
    with pytest.raises(UsageError, match=r"`sagemaker.processing_role_arn` is 'matsuri-role': give a "
                                         r"role ARN"):
        infra_settings.from_dict({"event": {"id": "t-bad"},
                                  "sagemaker": {"processing_role_arn": "matsuri-role"}})
    with pytest.raises(UsageError, match=r"did you mean processing_image"):
        infra_settings.from_dict({"event": {"id": "t-bad"}, "sagemaker": {"procesing_image": "x"}})


@needs_sdk
def test_a_bucket_that_does_not_exist_is_named(aws):
    from matsuri.infra.aws.notebook_runs import ProcessingJobs

    config = infra_settings.from_dict({"event": {"id": "t-nobucket"}, "sagemaker": {
        "region": REGION, "processing_role_arn": ROLE, "processing_image": IMAGE}})
    with pytest.raises(UsageError, match="The event's bucket t-nobucket-festival does not exist"):
        ProcessingJobs(config).require()


def test_without_the_sdk_the_message_names_the_extra(monkeypatch):
    from matsuri.infra.aws import notebook_runs

    for name in [m for m in sys.modules if m == "sagemaker" or m.startswith("sagemaker.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sagemaker", None)  # import sagemaker… now fails
    with pytest.raises(MissingDependency, match=r"pip install 'matsuri\[sagemaker\]'"):
        notebook_runs.sdk()
    backend = runner.backend("sagemaker")  # loading the backend needs no SDK; running it does
    assert type(backend).__name__ == "Backend"
