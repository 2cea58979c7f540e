"""SageMaker's part of a Processing job, played on this machine in front of a moto server.

moto records Processing jobs (as Completed at once) but runs nothing. `ProcessingPlayer` is a
small proxy on 127.0.0.1 that passes every request to moto and, for each CreateProcessingJob that
moto accepted, does what SageMaker would: downloads each input from its S3 URI into the job's
own folder (standing for the container's /), runs the job's entry point there (the image's
`python3` is this Python; `MATSURI_PROCESSING_ROOT` points /opt/ml/processing into that folder),
and uploads the output folder to the output URI. Until then DescribeProcessingJob says
InProgress; after, Completed, or Failed with the entry point's last error line, as SageMaker does.

`faults` make a job (by a part of its name) end as SageMaker can: "capacity" (Failed before it
runs), "max-runtime" (Stopped by its MaxRuntimeInSeconds), "hold" (never ends until stopped); or
"tamper": code in the container changes the cells of the notebooks it wrote before they go back.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
from infra_moto import moto_server, using

from conftest import free_port

FAULTS = {
    "capacity": ("Failed", "CapacityError: Unable to provision requested ML compute capacity. "
                           "Please retry using a different ML instance type."),
    "max-runtime": ("Stopped", "MaxRuntimeExceeded: Job exceeded MaxRuntimeInSeconds"),
}


@contextlib.contextmanager
def played_aws(folder: Path):
    """A moto server behind a player; boto3 (so the kit and the SDK) pointed at the player."""
    with moto_server(folder) as url, ProcessingPlayer(url, folder / "containers") as player, \
            using(player.url):
        yield player


class ProcessingPlayer:
    def __init__(self, upstream: str, root: Path, faults: dict[str, str] | None = None):
        self.upstream = upstream.removeprefix("http://")
        self.root = root
        self.faults = dict(faults or {})
        self.state: dict[str, tuple[str, str]] = {}    # job -> (status, failure reason)
        self.played: list[dict] = []                    # the create requests, in order
        self.requests: list[str] = []   # every call seen: its operation, or "PUT /bucket/key" (S3)
        self.port = free_port()
        self.jobs: queue.Queue = queue.Queue()
        player = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # answers "Expect: 100-continue" (S3 uploads) at once

            def log_message(self, *args):
                pass

            def do_GET(self):
                self._forward()

            do_PUT = do_DELETE = do_HEAD = do_POST = do_GET

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "").split(".")[-1]
                action = body.decode(errors="replace").partition("Action=")[2].split("&")[0]
                player.requests.append(target or action or f"{self.command} {self.path.split('?')[0]}")
                if target == "StopProcessingJob":
                    name = json.loads(body)["ProcessingJobName"]
                    player.state[name] = ("Stopped", "Stopped by the client")
                    return self._answer(200, b"{}", "application/x-amz-json-1.1")
                status, headers, data = player._upstream(self.command, self.path, body, self.headers)
                if target == "CreateProcessingJob" and status == 200:
                    player._accepted(json.loads(body))
                if target == "DescribeProcessingJob" and status == 200:
                    data = player._describe(json.loads(data))
                self._answer(status, data, headers.get("content-type", "application/octet-stream"),
                             headers)

            def _answer(self, status, data, ctype, headers=None):
                self.send_response(status)
                for key, value in (headers or {}).items():
                    if key not in ("transfer-encoding", "connection", "content-length", "content-type"):
                        self.send_header(key, value)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.threads = [threading.Thread(target=self.server.serve_forever, daemon=True),
                        threading.Thread(target=self._play_all, daemon=True)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.jobs.put(None)
        self.server.shutdown()
        self.server.server_close()

    # --- the proxy ---------------------------------------------------------------------------
    def _upstream(self, method, path, body, headers):
        conn = http.client.HTTPConnection(self.upstream, timeout=120)
        conn.request(method, path, body=body, headers={k: v for k, v in headers.items()
                                                       if k.lower() not in ("host", "expect")})
        answer = conn.getresponse()
        data = answer.read()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, data

    def _accepted(self, request: dict) -> None:
        name = request["ProcessingJobName"]
        self.played.append(request)
        fault = next((f for part, f in self.faults.items() if part in name), None)
        if fault in FAULTS:
            self.state[name] = FAULTS[fault]
        else:
            self.state[name] = ("InProgress", "")
            if fault != "hold":
                self.jobs.put(request)

    def _describe(self, job: dict) -> bytes:
        status, reason = self.state.get(job["ProcessingJobName"], (job["ProcessingJobStatus"], ""))
        job["ProcessingJobStatus"] = status
        if reason:
            job["FailureReason"] = reason
        return json.dumps(job).encode()

    # --- the container ----------------------------------------------------------------------
    def _play_all(self) -> None:
        while (request := self.jobs.get()) is not None:
            name = request["ProcessingJobName"]
            try:
                self.state[name] = self.play(request)
            except Exception as error:  # the test sees it as a failed job, with the reason
                self.state[name] = ("Failed", f"InternalServerError: the player failed: {error}")

    def play(self, request: dict) -> tuple[str, str]:
        s3 = boto3.client("s3", endpoint_url=f"http://{self.upstream}")
        here = self.root / request["ProcessingJobName"]
        for channel in request.get("ProcessingInputs", []):
            bucket, prefix = channel["S3Input"]["S3Uri"].removeprefix("s3://").split("/", 1)
            local = here / channel["S3Input"]["LocalPath"].lstrip("/")
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    path = local / obj["Key"][len(prefix):].lstrip("/")
                    path.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket, obj["Key"], str(path))
        outputs = request["ProcessingOutputConfig"]["Outputs"]
        for output in outputs:
            (here / output["S3Output"]["LocalPath"].lstrip("/")).mkdir(parents=True, exist_ok=True)
        app = request["AppSpecification"]
        command = [sys.executable if part == "python3" else part
                   for part in app["ContainerEntrypoint"] + app.get("ContainerArguments", [])]
        env = dict(os.environ) | request.get("Environment", {}) | {"MATSURI_PROCESSING_ROOT": str(here)}
        proc = subprocess.run(command, env=env, cwd=here, capture_output=True, text=True, timeout=900)
        (here / "container.log").write_text(proc.stdout + proc.stderr)
        if any(part in request["ProcessingJobName"] and fault == "tamper"
               for part, fault in self.faults.items()):
            for path in (here / "opt/ml/processing/output").rglob("*.ipynb"):
                path.write_text(path.read_text().replace("SELECT", "SELECT /* changed */", 1))
        for output in outputs:
            bucket, prefix = output["S3Output"]["S3Uri"].removeprefix("s3://").split("/", 1)
            local = here / output["S3Output"]["LocalPath"].lstrip("/")
            for path in sorted(p for p in local.rglob("*") if p.is_file()):
                s3.upload_file(str(path), bucket, f"{prefix.rstrip('/')}/{path.relative_to(local).as_posix()}")
        if proc.returncode:
            last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            return "Failed", f"AlgorithmError: {last[:300]}"
        return "Completed", ""
