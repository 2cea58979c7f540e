"""Notebooks run in SageMaker Processing jobs, through the `sagemaker` SDK (an optional extra).

For events where the organiser's machine is too small. `Backend` is the hackathon runner's
`sagemaker` backend (`runner.backend("sagemaker")`); `ProcessingJobs` is what it and
`matsuri course grade --on sagemaker` (grading/remote.py) share: the SDK session, uploads,
starting, waiting for and stopping jobs, and bounded downloads.

A run: the notebook and the learners' warehouse go to the event's bucket
(s3://<bucket>/processing/<job>/input/…; the warehouse once per content, under
processing/warehouse/<digest>/), one Processing job runs `python3 -m matsuri.infra.aws.notebook_entry`
in the kit's image, its output comes back from …/<job>/output/results/. Only data comes back:
the executed notebook, its log and the theme's prediction files (regular objects by known names,
each size-bounded); the runner checks and scores them here, as for a local run. Holdout labels
never leave this machine.

The SDK (`sagemaker-core`, the part of the 3.x SDK that holds Processing) is imported only when a
job is run (≈5 s). Its telemetry is off: every session is made here with `TelemetryOptOut: true`
in its own config (no SDK config file is read), and its default bucket is the event's, so it never
looks up the account through STS. `AWS_ENDPOINT_URL` reaches it through boto3, as elsewhere.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from matsuri.errors import InvalidSubmission, MatsuriError, MissingDependency, UsageError
from matsuri.infra.aws import clients
from matsuri.infra.aws.errors import error_code, explain_aws

INSTALL = "pip install 'matsuri[sagemaker]'"
PREFIX = "processing"
BASE = "/opt/ml/processing"
ENTRY = ["python3", "-m", "matsuri.infra.aws.notebook_entry"]
TELEMETRY_OFF = {"SchemaVersion": "1.0",
                 "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}
DONE = ("Completed", "Failed", "Stopped")
START_SECONDS = 300          # beyond a run's own limit: the container starting, its outputs uploaded
SMALL_BYTES = 64_000         # outcome files


def sdk():
    """The SDK's Processing classes, or a message naming the extra to install."""
    try:
        from sagemaker.core.helper.session_helper import Session
        from sagemaker.core.processing import Processor
        from sagemaker.core.shapes import (
            ProcessingInput,
            ProcessingOutput,
            ProcessingS3Input,
            ProcessingS3Output,
        )
    except ImportError as error:
        raise MissingDependency(
            f"Running notebooks on SageMaker needs the SageMaker SDK, which is not installed here "
            f"({error.name or error}). Install it with `{INSTALL}` and run the command again."
        ) from None
    _validate_each_config_once()
    return Session, Processor, ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output


def _validate_each_config_once() -> None:
    """The SDK checks its whole config against its JSON schema (the schema itself included) on
    every look-up: 16 per job started, ≈0.12 s each on an idle machine, 10 s in all on a busy
    one. The check depends only on the config, so one per distinct config is kept."""
    from sagemaker.core.config.config_manager import SageMakerConfig

    check = SageMakerConfig.__dict__["validate_sagemaker_config"].__func__
    if getattr(check, "once", False):
        return
    checked: set[str] = set()

    def once(sagemaker_config=None):
        key = json.dumps(sagemaker_config, sort_keys=True, default=repr)
        if key not in checked:
            check(sagemaker_config)  # raises for an invalid config, as before
            checked.add(key)

    once.once = True
    SageMakerConfig.validate_sagemaker_config = staticmethod(once)


def job_name(event_id: str, kind: str) -> str:
    """<event>-<kind>-<UTC time>-<4 hex>: unique, at most 63 characters, as SageMaker wants."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{event_id}-{kind}-{stamp}-{secrets.token_hex(2)}"[-63:].lstrip("-")


@dataclass
class Finished:
    """A job that ended (or was given up on): its status and, if it failed, why."""

    name: str
    status: str              # Completed | Failed | Stopped | TimedOut (we stopped it)
    reason: str = ""


class ProcessingJobs:
    """The event's Processing jobs through one SDK session (infra settings: [sagemaker])."""

    def __init__(self, settings):
        self.settings = settings
        self.sm = settings.sagemaker

    # --- set-up ------------------------------------------------------------------------------
    def require(self) -> None:
        """Settings complete, the SDK installed and the bucket there; else what to do, plainly."""
        missing = [key for key, value in (("processing_role_arn", self.sm.processing_role_arn),
                                          ("processing_image", self.sm.processing_image)) if not value]
        if missing:
            where = self.settings.source or "infra/settings.toml"
            raise UsageError(
                f"SageMaker Processing needs {' and '.join(missing)} in the [sagemaker] table of "
                f"{where}: the IAM role the jobs run as and the kit's container image (see "
                "infra/README.md, 'Runs on SageMaker Processing').")
        sdk()
        try:
            self.s3.head_bucket(Bucket=self.settings.bucket)
        except Exception as error:
            if error_code(error) in ("404", "NoSuchBucket", "NotFound"):
                raise UsageError(
                    f"The event's bucket {self.settings.bucket} does not exist: create it with "
                    "`matsuri infra apply --target sagemaker`, or set [sagemaker] bucket to an "
                    "existing one.") from None
            raise MatsuriError(f"Could not reach the bucket {self.settings.bucket}: "
                               f"{explain_aws(error) or error}") from None

    @cached_property
    def s3(self):
        return clients.client("s3", self.sm.region, self.sm.max_attempts)

    @cached_property
    def session(self):
        """The SDK session: the event's region, bucket and retries; telemetry off; no config files."""
        import boto3

        Session = sdk()[0]
        validate_first = _validated(Session)
        return validate_first(
            boto_session=boto3.session.Session(region_name=self.sm.region),
            sagemaker_client=clients.client("sagemaker", self.sm.region, self.sm.max_attempts),
            default_bucket=self.settings.bucket, default_bucket_prefix=PREFIX,
            sagemaker_config=copy.deepcopy(TELEMETRY_OFF))

    def uri(self, *parts: str) -> str:
        return "s3://" + "/".join([self.settings.bucket, PREFIX, *parts])

    # --- inputs ----------------------------------------------------------------------------
    def shared(self, path: Path) -> str:
        """An S3 folder holding `path` (the warehouse), uploaded once per content."""
        key = f"{PREFIX}/warehouse/{_digest(path)}/{path.name}"
        try:
            self.s3.head_object(Bucket=self.settings.bucket, Key=key)
        except Exception as error:
            if error_code(error) not in ("404", "NoSuchKey", "NotFound"):
                raise MatsuriError(f"Could not look in s3://{self.settings.bucket}/{key}: "
                                   f"{explain_aws(error) or error}") from None
            self.session.upload_data(str(path), self.settings.bucket, key.rsplit("/", 1)[0])
        return f"s3://{self.settings.bucket}/{key.rsplit('/', 1)[0]}"

    # --- jobs ------------------------------------------------------------------------------
    def start(self, name: str, inputs: dict[str, str | Path], arguments: list[str],
              max_seconds: int, kind: str) -> str:
        """Start one job; `inputs` maps a channel (under /opt/ml/processing/input/) to a local
        folder (the SDK uploads it under the job's input/) or an s3:// folder. Returns the job's
        output URI."""
        _, Processor, Input, Output, S3Input, S3Output = sdk()
        output = self.uri(name, "output", "results")
        processor = Processor(
            role=self.sm.processing_role_arn, image_uri=self.sm.processing_image, instance_count=1,
            instance_type=self.sm.processing_instance_type, entrypoint=ENTRY,
            volume_size_in_gb=self.sm.processing_volume_gb, max_runtime_in_seconds=max_seconds,
            sagemaker_session=self.session, env=_job_env(),
            tags=[{"Key": "matsuri:event", "Value": self.settings.event.id},
                  {"Key": "matsuri:kind", "Value": kind}])
        channels = [Input(input_name=channel, s3_input=S3Input(
            s3_uri=str(source), local_path=f"{BASE}/input/{channel}", s3_data_type="S3Prefix",
            s3_input_mode="File")) for channel, source in inputs.items()]
        results = Output(output_name="results", s3_output=S3Output(
            s3_uri=output, local_path=f"{BASE}/output", s3_upload_mode="EndOfJob"))
        try:
            processor.run(inputs=channels, outputs=[results], arguments=arguments, wait=False,
                          logs=False, job_name=name)
        except MatsuriError:
            raise
        except Exception as error:
            raise MatsuriError(f"SageMaker did not start the job {name}: "
                               f"{explain_aws(error) or error}") from None
        return output

    def wait(self, names: list[str], limit_seconds: float) -> dict[str, Finished]:
        """Poll until every job has ended; a job still going after `limit_seconds` (plus the time
        SageMaker may take to start a machine) is stopped and reported as TimedOut. Interrupted
        (Ctrl-C, the runner stopped), the jobs are stopped too: nothing is left running on AWS."""
        try:
            return self._wait(names, limit_seconds)
        except BaseException as error:
            for name in names:
                self.stop(name)
            if isinstance(error, Exception) and explain_aws(error):
                raise MatsuriError(f"Could not follow the SageMaker jobs ({explain_aws(error)}); "
                                   f"they were stopped: {', '.join(names)}.") from None
            raise

    def _wait(self, names: list[str], limit_seconds: float) -> dict[str, Finished]:
        deadline = time.monotonic() + limit_seconds + self.sm.processing_start_minutes * 60
        client, ended = self.session.sagemaker_client, {}
        while True:
            for name in [n for n in names if n not in ended]:
                job = client.describe_processing_job(ProcessingJobName=name)
                if job["ProcessingJobStatus"] in DONE:
                    ended[name] = Finished(name, job["ProcessingJobStatus"],
                                           job.get("FailureReason") or job.get("ExitMessage") or "")
            if len(ended) == len(names):
                return ended
            if time.monotonic() > deadline:
                for name in [n for n in names if n not in ended]:
                    self.stop(name)
                    ended[name] = Finished(name, "TimedOut", f"not finished after {limit_seconds / 60:.0f} "
                                           f"minutes plus {self.sm.processing_start_minutes:g} to start")
                return ended
            time.sleep(self.sm.processing_poll_seconds)

    def stop(self, name: str) -> None:
        try:
            self.session.sagemaker_client.stop_processing_job(ProcessingJobName=name)
        except Exception:  # already ended, or stopping: the job is given up either way
            pass

    # --- outputs ---------------------------------------------------------------------------
    def listing(self, output: str) -> dict[str, int]:
        """{key under the job's output: size} for every object it wrote."""
        bucket, prefix = output.removeprefix("s3://").split("/", 1)
        prefix = prefix.rstrip("/") + "/"
        found = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                found[obj["Key"][len(prefix):]] = obj["Size"]
        return found

    def fetch(self, output: str, key: str, dest: Path, max_bytes: int) -> bool:
        """Copy one output object to `dest` if it is at most `max_bytes` (False if larger)."""
        bucket, prefix = output.removeprefix("s3://").split("/", 1)
        body = self.s3.get_object(Bucket=bucket, Key=f"{prefix.rstrip('/')}/{key}")["Body"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.part")
        with body, open(partial, "wb") as target:
            size = 0
            while chunk := body.read(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    break
                target.write(chunk)
        if size > max_bytes:
            partial.unlink()
            return False
        partial.replace(dest)
        return True


def _job_env() -> dict[str, str]:
    """What the container's processes need from here: no telemetry, the learners' language."""
    import os

    return {"PLOOMBER_STATS_ENABLED": "false"} | {
        k: v for k, v in os.environ.items() if k == "MATSURI_LANG"}


def _validated(Session):
    """The SDK's Session, whose create requests are checked against the service model first
    (validate.py): a wrong instance type is refused here, in plain words, before anything runs."""
    from matsuri.infra.aws.validate import Request, validate

    class Checked(Session):
        def _intercept_create_request(self, request, create, func_name=None):
            problems = validate(Request("sagemaker", "CreateProcessingJob", request))
            if problems:
                raise UsageError("The Processing job would be refused, so nothing was started:\n  "
                                 + "\n  ".join(problems[:10]))
            return super()._intercept_create_request(request, create, func_name)

    return Checked


_DIGESTS: dict[tuple, str] = {}


def _digest(path: Path) -> str:
    info = path.stat()
    known = (str(path.resolve()), info.st_size, info.st_mtime_ns)
    if known not in _DIGESTS:
        sha = hashlib.sha256()
        with open(path, "rb") as source:
            while block := source.read(1 << 22):
                sha.update(block)
        _DIGESTS[known] = sha.hexdigest()[:20]
    return _DIGESTS[known]


# --- the hackathon runner's backend ------------------------------------------------------------

class Backend:
    """runner.Backend on SageMaker: the submission runs in a Processing job of its own."""

    def __init__(self, settings=None):
        self._settings = settings

    def jobs(self) -> ProcessingJobs:
        """The given settings, else infra/settings.toml read again for each run (the runner
        service keeps one Backend for its whole life)."""
        from matsuri.infra import settings as infra_settings

        return ProcessingJobs(self._settings or infra_settings.load())

    def run(self, job):
        from matsuri.hackathon import runner
        from matsuri.sandbox.text import quoted

        started = time.monotonic()
        jobs = self.jobs()
        jobs.require()
        settings = job.settings
        deadline = settings.timeout_seconds + runner.GRACE_SECONDS
        name = job_name(jobs.settings.event.id, "run")
        shown = f"The notebook {quoted(job.notebook.name, 80)}"
        log = job.out_dir / "log.txt"
        log.write_text(f"Run on SageMaker Processing: job {name} ({jobs.sm.processing_instance_type}, "
                       f"image {jobs.sm.processing_image}, region {jobs.sm.region}).\n", encoding="utf-8")
        with tempfile.TemporaryDirectory(prefix="matsuri-upload-") as upload:
            shutil.copyfile(job.notebook, Path(upload) / "submission.ipynb")
            output = jobs.start(
                name, {"notebook": upload, "warehouse": jobs.shared(Path(job.warehouse))},
                ["run", "--timeout", str(settings.timeout_seconds), "--deadline", str(deadline),
                 "--max-bytes", str(job.max_bytes)], deadline + START_SECONDS, "hackathon-run")
        finished = jobs.wait([name], deadline + START_SECONDS)[name]
        executed = job.out_dir / "executed.ipynb"
        outcome = _collect(jobs, job, output, executed, log, settings.folder_mb * 1_000_000)
        where = (f"`matsuri hackathon submissions {job.team} --id {job.submission_id}` shows where "
                 "its run log is kept" if job.team else f"its run log is {log}")
        if finished.status != "Completed" or outcome is None:
            raise InvalidSubmission(_job_failure(shown, finished, deadline))
        if not outcome.get("ok"):
            kind = str(outcome.get("error") or "Error")[:80]  # the error's class name, as there
            error = type(kind, (Exception,), {})(str(outcome.get("message", "")))
            raise InvalidSubmission(runner.failure_message(
                settings, executed, error, _no_usage(), shown, where))
        _take_files(jobs, job, output, outcome, shown)
        return runner.RunResult(executed, log, time.monotonic() - started)


def _collect(jobs: ProcessingJobs, job, output: str, executed: Path, log: Path,
             max_bytes: int) -> dict | None:
    """The executed notebook and the log (appended to ours); the outcome, or None if the job left
    none."""
    listing = jobs.listing(output)
    if "log.txt" in listing:
        remote_log = job.out_dir / ".log.remote"
        if jobs.fetch(output, "log.txt", remote_log, max_bytes):
            with open(log, "a", encoding="utf-8") as ours:
                ours.write(remote_log.read_text(encoding="utf-8", errors="replace"))
            remote_log.unlink()
    if "executed.ipynb" in listing:
        jobs.fetch(output, "executed.ipynb", executed, max_bytes)
    outcome = job.out_dir / ".outcome.json"
    if "outcome.json" not in listing or not jobs.fetch(output, "outcome.json", outcome, SMALL_BYTES):
        return None
    try:
        return json.loads(outcome.read_text(encoding="utf-8"))
    except ValueError:
        return None
    finally:
        outcome.unlink()


def _take_files(jobs: ProcessingJobs, job, output: str, outcome: dict, shown: str) -> None:
    """The prediction files, by the themes' names only, each at most the event's limit."""
    from matsuri import theme_spec

    allowed = set(theme_spec.output_files())
    listing = jobs.listing(output)
    files = {key.removeprefix("files/"): size for key, size in listing.items()
             if key.startswith("files/") and key.removeprefix("files/") in allowed}
    too_large = {k: v for k, v in (outcome.get("too_large") or {}).items() if k in allowed}
    too_large |= {k: v for k, v in files.items() if v > job.max_bytes}
    if too_large:
        file_name, size = sorted(too_large.items())[0]
        raise InvalidSubmission(
            f"{file_name} written by {shown} is {int(size) / 1e6:.1f} MB, more than the "
            f"{job.max_bytes / 1e6:.1f} MB this event accepts. Keep only the expected columns, "
            "one line per prediction, and submit again.")
    refused = [n for n in outcome.get("refused") or [] if n in allowed]
    if refused:
        raise InvalidSubmission(
            f"{refused[0]} written by {shown} is not an ordinary file (it is a link or a "
            "special file). Write the predictions themselves into the file and submit again.")
    if "predictions.csv" not in files:
        raise InvalidSubmission(
            f"{shown} ran to the end but wrote no predictions.csv into its working folder. Save "
            "your predictions with something like "
            "`predictions.to_csv(Path(output_dir) / \"predictions.csv\", index=False)` "
            "(output_dir is a parameter the runner sets) and submit again.")
    job.files_dir.mkdir(parents=True, exist_ok=True)
    for file_name in sorted(files):
        if not jobs.fetch(output, f"files/{file_name}", job.files_dir / file_name, job.max_bytes):
            raise InvalidSubmission(f"{file_name} written by {shown} changed while it was "
                                    "being collected. Submit again.")


def _no_usage():
    """What the run's cgroup saw: nothing (the container has no cgroup of ours)."""
    from matsuri.sandbox.cgroups import Usage

    return Usage(False, False)


def _job_failure(shown: str, finished: Finished, deadline: float) -> str:
    """The team's message when the job itself ended badly (not the notebook)."""
    reason = " ".join(finished.reason.split())[:200]
    if finished.status == "TimedOut" or "MaxRuntime" in reason or finished.status == "Stopped":
        return (f"{shown} did not finish within the {deadline / 60:.0f} minutes a run may take, so "
                "it was stopped. Make the slow steps faster (use less data or a simpler model while "
                "you try ideas) and check that the notebook has no endless loop, then submit again.")
    return (f"{shown} could not be run: the SageMaker job that runs it (job {finished.name}) "
            f"stopped with an error{f' ({reason})' if reason else ''}. This is not a problem in "
            "your notebook; submit again, and tell the organisers if it happens again.")
