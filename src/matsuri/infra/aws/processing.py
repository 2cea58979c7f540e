"""Grading or scoring that outgrows one machine: shard the work into SageMaker Processing jobs.

Each shard's files go to s3://<bucket>/jobs/<run>/shard-<i>/input/, one Processing job per shard
runs the given command in the given image (the kit's image) with the input at
/opt/ml/processing/input and writes to /opt/ml/processing/output, which SageMaker uploads to
.../shard-<i>/output/; `collect` brings every shard's output home. Plain boto3 (one
CreateProcessingJob call per shard) for `matsuri infra jobs`; notebook runs and course grading
(notebook_runs.py) use the SDK's Processing part, the optional extra `matsuri[sagemaker]`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from matsuri.errors import MatsuriError, UsageError
from matsuri.infra.aws import clients
from matsuri.infra.aws.errors import explain_aws
from matsuri.infra.aws.validate import Request, validate

INPUT, OUTPUT = "/opt/ml/processing/input", "/opt/ml/processing/output"
DONE = ("Completed", "Failed", "Stopped")


def shard(items: list[Path], shards: int) -> list[list[Path]]:
    """Balance by size: largest first, each to the lightest shard (empty shards are dropped)."""
    if shards < 1:
        raise UsageError("--shards must be at least 1.")
    bins: list[list[Path]] = [[] for _ in range(min(shards, len(items)) or 1)]
    loads = [0] * len(bins)
    for item in sorted(items, key=lambda p: (-_size(p), p.name)):
        lightest = loads.index(min(loads))
        bins[lightest].append(item)
        loads[lightest] += _size(item)
    return [b for b in bins if b]


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


@dataclass
class ProcessingRun:
    """One sharded run: what to run, where, and the jobs it made."""

    settings: object
    run_id: str
    image_uri: str
    role_arn: str
    command: list[str]
    instance_type: str = "ml.m5.large"
    max_minutes: int = 60
    jobs: dict[str, int] = field(default_factory=dict)   # job name -> shard index

    @staticmethod
    def new_id(kind: str) -> str:
        return f"{kind}-{datetime.now(UTC):%Y%m%d-%H%M%S}"

    @property
    def prefix(self) -> str:
        return f"jobs/{self.run_id}"

    def job_name(self, index: int) -> str:
        return f"{self.settings.event.id}-{self.run_id}-{index}"[:63].rstrip("-")

    def request(self, index: int) -> Request:
        base = f"s3://{self.settings.bucket}/{self.prefix}/shard-{index}"
        return Request("sagemaker", "CreateProcessingJob", {
            "ProcessingJobName": self.job_name(index),
            "ProcessingInputs": [{"InputName": "work", "S3Input": {
                "S3Uri": f"{base}/input/", "LocalPath": INPUT, "S3DataType": "S3Prefix",
                "S3InputMode": "File"}}],
            "ProcessingOutputConfig": {"Outputs": [{"OutputName": "results", "S3Output": {
                "S3Uri": f"{base}/output/", "LocalPath": OUTPUT, "S3UploadMode": "EndOfJob"}}]},
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": self.instance_type,
                                                      "VolumeSizeInGB": 10}},
            "StoppingCondition": {"MaxRuntimeInSeconds": self.max_minutes * 60},
            "AppSpecification": {"ImageUri": self.image_uri, "ContainerEntrypoint": self.command},
            "Environment": {"PLOOMBER_STATS_ENABLED": "false", "MATSURI_SHARD": str(index)},
            "RoleArn": self.role_arn,
            "Tags": [{"Key": "matsuri:event", "Value": self.settings.event.id},
                     {"Key": "matsuri:run", "Value": self.run_id}]})

    @classmethod
    def find(cls, settings, run_id: str) -> ProcessingRun:
        """A run submitted earlier, rebuilt from its jobs' names (nothing is kept locally)."""
        run = cls(settings, run_id, image_uri="", role_arn="", command=[])
        prefix = f"{settings.event.id}-{run_id}-"
        sm = run._client("sagemaker")
        for page in sm.get_paginator("list_processing_jobs").paginate(NameContains=prefix):
            for job in page["ProcessingJobSummaries"]:
                suffix = job["ProcessingJobName"][len(prefix):]
                if job["ProcessingJobName"].startswith(prefix) and suffix.isdigit():
                    run.jobs[job["ProcessingJobName"]] = int(suffix)
        if not run.jobs:
            raise MatsuriError(f"No Processing jobs of run '{run_id}' for event {settings.event.id}.")
        return run

    def _client(self, service: str):
        sm = self.settings.sagemaker
        return clients.client(service, sm.region, sm.max_attempts)

    def submit(self, items: list[Path], shards: int) -> dict[str, str]:
        """Upload each shard and start its job. Returns {job: 'started' or why it failed}."""
        groups = shard(items, shards)
        requests = [self.request(i) for i in range(len(groups))]
        problems = [p for r in requests for p in validate(r)]
        if problems:
            raise UsageError("The jobs would be refused, so nothing was sent:\n  " + "\n  ".join(problems[:10]))
        s3, sm = self._client("s3"), self._client("sagemaker")
        outcome = {}
        for index, (group, request) in enumerate(zip(groups, requests, strict=True)):
            name = request.params["ProcessingJobName"]
            try:
                for item in group:
                    files = sorted(p for p in item.rglob("*") if p.is_file()) if item.is_dir() else [item]
                    for path in files:
                        key = f"{self.prefix}/shard-{index}/input/{path.relative_to(item.parent).as_posix()}"
                        s3.upload_file(str(path), self.settings.bucket, key)
                sm.create_processing_job(**request.params)
                self.jobs[name] = index
                outcome[name] = "started"
            except Exception as error:  # one shard's failure does not stop the others
                outcome[name] = explain_aws(error) or str(error)
        return outcome

    def wait(self, poll_seconds: float = 15, timeout_minutes: float = 120) -> dict[str, str]:
        sm, deadline = self._client("sagemaker"), time.monotonic() + timeout_minutes * 60
        while True:
            status = {name: sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"]
                      for name in self.jobs}
            if all(s in DONE for s in status.values()) or time.monotonic() > deadline:
                return status
            time.sleep(poll_seconds)

    def collect(self, dest: Path) -> dict[int, list[Path]]:
        """Every shard's output under dest/shard-<i>/; a shard with no output is reported."""
        s3, got = self._client("s3"), {}
        for name, index in sorted(self.jobs.items(), key=lambda kv: kv[1]):
            prefix = f"{self.prefix}/shard-{index}/output/"
            paths = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.settings.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    path = Path(dest) / f"shard-{index}" / obj["Key"][len(prefix):]
                    path.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(self.settings.bucket, obj["Key"], str(path))
                    paths.append(path)
            if not paths:
                raise MatsuriError(f"Job {name} (shard {index}) wrote no output to s3://{self.settings.bucket}/"
                                   f"{prefix}; see its logs in CloudWatch (/aws/sagemaker/ProcessingJobs).")
            got[index] = paths
        return got
