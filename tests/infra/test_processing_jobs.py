"""Does sharded grading go through SageMaker Processing jobs with the right inputs and outputs?

moto records the jobs but runs nothing, so the test plays the container: it downloads each job's
input from the S3 URI the job names, runs the job's own command on it locally, and uploads the
result to the job's output URI, as SageMaker would. Then `collect` brings the results home.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

import boto3
import pytest
from infra_moto import moto_server, reset, using

from matsuri.errors import MatsuriError
from matsuri.infra import settings
from matsuri.infra.aws.processing import INPUT, OUTPUT, ProcessingRun, shard

REGION = "ap-northeast-1"
# The "grader" each container runs: counts the lines of each submission (a stand-in for nbgrader).
GRADER = """import json, os, pathlib
inbox, outbox = pathlib.Path(os.environ["IN"]), pathlib.Path(os.environ["OUT"])
outbox.mkdir(parents=True, exist_ok=True)
for answer in sorted(inbox.rglob("answer.txt")):
    result = {"learner": answer.parent.name, "lines": len(answer.read_text().splitlines())}
    (outbox / f"{answer.parent.name}.json").write_text(json.dumps(result))
"""


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    with moto_server(tmp_path_factory.mktemp("moto-jobs")) as url, using(url):
        yield url


def test_shards_are_balanced_by_size(tmp_path):
    items = []
    for name, size in (("a", 900), ("b", 500), ("c", 400), ("d", 100)):
        (tmp_path / name).write_text("x" * size)
        items.append(tmp_path / name)
    groups = shard(items, 2)
    assert sorted(sorted(p.name for p in g) for g in groups) == [["a", "d"], ["b", "c"]]
    assert len(shard(items[:1], 4)) == 1


def test_grading_is_sharded_into_processing_jobs_and_the_results_come_home(moto, tmp_path):
    reset(moto)
    config = settings.from_dict({"event": {"id": f"t{secrets.token_hex(3)}"}, "sagemaker": {"region": REGION}})
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=config.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    submitted = tmp_path / "submitted"
    learners = [f"learner{i}" for i in range(7)]
    for i, name in enumerate(learners):
        (submitted / name).mkdir(parents=True)
        (submitted / name / "answer.txt").write_text("line\n" * (i + 1))
    (tmp_path / "grade.py").write_text(GRADER)
    run = ProcessingRun(config, ProcessingRun.new_id("grade"), "matsuri-kit:0.1.0",
                        "arn:aws:iam::123456789012:role/matsuri/grader", [sys.executable, str(tmp_path / "grade.py")])
    started = run.submit(sorted(submitted.iterdir()), shards=3)
    assert list(started.values()) == ["started"] * 3
    assert set(run.wait(poll_seconds=0.1).values()) == {"Completed"}

    sm, s3 = boto3.client("sagemaker", region_name=REGION), boto3.client("s3", region_name=REGION)
    for name in run.jobs:  # play the container
        job = sm.describe_processing_job(ProcessingJobName=name)
        source = job["ProcessingInputs"][0]["S3Input"]
        target = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
        assert (source["LocalPath"], target["LocalPath"]) == (INPUT, OUTPUT)
        here = tmp_path / "container" / name
        bucket, prefix = source["S3Uri"].removeprefix("s3://").split("/", 1)
        for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
            path = here / "in" / obj["Key"][len(prefix):]
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(path))
        subprocess.run(job["AppSpecification"]["ContainerEntrypoint"], check=True,
                       env={"IN": str(here / "in"), "OUT": str(here / "out")})
        out_bucket, out_prefix = target["S3Uri"].removeprefix("s3://").split("/", 1)
        for path in (here / "out").iterdir():
            s3.upload_file(str(path), out_bucket, out_prefix + path.name)

    got = run.collect(tmp_path / "results")
    results = [json.loads(p.read_text()) for paths in got.values() for p in paths]
    assert sorted((r["learner"], r["lines"]) for r in results) == [(n, i + 1) for i, n in enumerate(learners)]
    tags = sm.list_tags(ResourceArn=sm.describe_processing_job(ProcessingJobName=next(iter(run.jobs)))["ProcessingJobArn"])
    assert {"Key": "matsuri:event", "Value": config.event.id} in tags["Tags"]


def test_a_bad_job_is_refused_before_anything_is_sent_and_a_silent_shard_is_reported(moto, tmp_path):
    reset(moto)
    config = settings.from_dict({"event": {"id": "t-jobs"}, "sagemaker": {"region": REGION}})
    (tmp_path / "a").write_text("x")
    bad = ProcessingRun(config, "grade-1", "image:1", "arn:aws:iam::123456789012:role/r", ["run"],
                        instance_type="ml.t3.huge")
    with pytest.raises(MatsuriError, match="'ml.t3.huge' is not one of the accepted values"):
        bad.submit([tmp_path / "a"], 1)
    assert boto3.client("sagemaker", region_name=REGION).list_processing_jobs()["ProcessingJobSummaries"] == []
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=config.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    good = ProcessingRun(config, "grade-2", "image:1", "arn:aws:iam::123456789012:role/r", ["run"])
    good.submit([tmp_path / "a"], 1)
    with pytest.raises(MatsuriError, match="wrote no output"):
        good.collect(tmp_path / "out")


def test_the_jobs_commands_submit_follow_and_collect_a_run(moto, tmp_path):
    from infra_moto import aws_env

    from conftest import run_matsuri

    reset(moto)
    event = f"t{secrets.token_hex(3)}"
    (tmp_path / "settings.toml").write_text(f'[event]\nid = "{event}"\n[sagemaker]\nregion = "{REGION}"\n')
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=f"{event}-festival", CreateBucketConfiguration={"LocationConstraint": REGION})
    for name in ("amy", "bo", "cy"):
        (tmp_path / "submitted" / name).mkdir(parents=True)
        (tmp_path / "submitted" / name / "answer.txt").write_text("x\n")
    common = ["--settings", str(tmp_path / "settings.toml")]
    env = aws_env(moto)
    out = run_matsuri(["infra", "jobs", "submit", *[str(p) for p in sorted((tmp_path / "submitted").iterdir())],
                       "--shards", "2", "--image", "matsuri-kit:0.1.0", "--role-arn",
                       "arn:aws:iam::123456789012:role/matsuri/grader", "--command", "matsuri course grade-shard",
                       *common], env=env).out
    run_id = out.split("Run ")[1].split(":")[0]
    assert out.count("\tstarted") == 2
    status = run_matsuri(["infra", "jobs", "status", run_id, *common], env=env).out
    assert status.count("Completed") == 2
    job = boto3.client("sagemaker", region_name=REGION).describe_processing_job(
        ProcessingJobName=f"{event}-{run_id}-0")
    assert job["AppSpecification"]["ContainerEntrypoint"] == ["matsuri", "course", "grade-shard"]
    missing = run_matsuri(["infra", "jobs", "collect", run_id, "--dest", str(tmp_path / "out"), *common],
                          env=env, exit_code=1)
    assert "wrote no output" in missing.err  # moto ran nothing: said plainly, no traceback
    assert "Traceback" not in missing.err
