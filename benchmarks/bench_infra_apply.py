"""`matsuri infra apply --target sagemaker` for 50 participants against a local moto server.

Median of several runs (moto reset between runs), with 8 parallel workers (the default) against the
obvious alternative measured in the same run: the same requests one after another; both directly
against moto (answers in milliseconds, so this mostly measures our own overhead) and through a
proxy adding 100 ms per request (a typical AWS API round trip). Also times `plan` (every request
validated offline against the service model), a second, idempotent apply, and sharding 200
submissions into Processing jobs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "infra"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # conftest: free_port
from common import median, save  # noqa: E402
from infra_moto import FaultyProxy  # noqa: E402

from matsuri.infra import participants, settings  # noqa: E402
from matsuri.infra.aws.provisioner import SageMakerProvisioner  # noqa: E402

PEOPLE = 50
RUNS = 3
LATENCY = 0.1


def timed_apply(url: str, config, people, workers: int) -> float:
    reset(url)
    provisioner = SageMakerProvisioner(config, people)
    provisioner.workers = workers
    start = time.perf_counter()
    report = provisioner.apply(progress=False)
    seconds = time.perf_counter() - start
    assert not report.failed and len(report.changed) == 2 + 2 * PEOPLE, report.failed
    return seconds


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reset(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).read()


def processing_jobs(config, submissions: int = 200, shards: int = 4) -> dict:
    """Sharding 200 submissions into Processing jobs: upload, create, wait (moto runs nothing)."""
    import tempfile

    import boto3

    from matsuri.infra.aws.processing import ProcessingRun

    boto3.client("s3", region_name="ap-northeast-1").create_bucket(
        Bucket=config.bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    with tempfile.TemporaryDirectory() as folder:
        items = []
        for i in range(submissions):
            item = Path(folder) / f"learner{i:03d}"
            item.mkdir()
            (item / "lesson1.ipynb").write_text("{}" * 2000)
            items.append(item)
        run = ProcessingRun(config, "grade-bench", "matsuri-kit:0.1.0", "arn:aws:iam::123456789012:role/r",
                            ["matsuri", "course", "grade"])
        start = time.perf_counter()
        started = run.submit(items, shards)
        run.wait(poll_seconds=0.1)
        seconds = time.perf_counter() - start
    assert list(started.values()) == ["started"] * shards
    print(f"  {submissions} submissions into {shards} Processing jobs (upload + create + wait): {seconds:.1f} s")
    return {"processing_submissions": submissions, "processing_shards": shards, "processing_submit_s": seconds}


def main() -> int:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ.update({"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "ap-northeast-1"})
    people = participants.parse(["username,email,role,team"] +
                                [f"p{i:03d},p{i}@example.com,learner,team{i % 10}" for i in range(PEOPLE)])
    config = settings.from_dict({"event": {"id": "bench-27"}, "sagemaker": {"region": "ap-northeast-1"}})
    results: dict = {"participants": PEOPLE}
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        plans, parallel, sequential, again, parallel_far, sequential_far = [], [], [], [], [], []
        for r in range(RUNS):
            reset(url)
            start = time.perf_counter()
            plan = SageMakerProvisioner(config, people, offline=True).plan()
            plans.append(time.perf_counter() - start)
            assert not plan.problems
            for workers, bucket in ((8, parallel), (1, sequential)):
                bucket.append(timed_apply(url, config, people, workers))
            for workers, bucket in ((8, parallel_far), (1, sequential_far)):
                with FaultyProxy(url, delay=LATENCY) as proxy:
                    os.environ["AWS_ENDPOINT_URL"] = proxy.url
                    bucket.append(timed_apply(url, config, people, workers))
                os.environ["AWS_ENDPOINT_URL"] = url
            start = time.perf_counter()
            assert SageMakerProvisioner(config, people).apply(progress=False).changed == []
            again.append(time.perf_counter() - start)
            print(f"  run {r + 1}/{RUNS}: plan {plans[-1]:.2f} s, apply 8 workers {parallel[-1]:.1f} s, "
                  f"1 worker {sequential[-1]:.1f} s, with {LATENCY * 1000:.0f} ms latency: 8 workers "
                  f"{parallel_far[-1]:.1f} s, 1 worker {sequential_far[-1]:.1f} s; second apply {again[-1]:.1f} s",
                  flush=True)
        reset(url)
        results |= processing_jobs(config)
        requests = sum(len(a.requests) for a in plan.actions)
        results |= {"requests": requests, "plan_s": median(plans), "apply_8_workers_s": median(parallel),
                    "apply_1_worker_s": median(sequential), "second_apply_s": median(again),
                    "latency_s": LATENCY, "apply_8_workers_latency_s": median(parallel_far),
                    "apply_1_worker_latency_s": median(sequential_far)}
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    print(f"plan ({results['requests']} requests validated offline): median {results['plan_s']:.2f} s")
    print(f"apply, {PEOPLE} participants, straight to moto: 8 workers median {results['apply_8_workers_s']:.1f} s, "
          f"one at a time {results['apply_1_worker_s']:.1f} s "
          f"(ratio {results['apply_1_worker_s'] / results['apply_8_workers_s']:.2f})")
    print(f"apply, {PEOPLE} participants, {LATENCY * 1000:.0f} ms per request: 8 workers median "
          f"{results['apply_8_workers_latency_s']:.1f} s, one at a time {results['apply_1_worker_latency_s']:.1f} s "
          f"(ratio {results['apply_1_worker_latency_s'] / results['apply_8_workers_latency_s']:.2f})")
    print(f"second apply (nothing to create): median {results['second_apply_s']:.1f} s")
    print(f"grading sharded into Processing jobs: {results['processing_submissions']} submissions, "
          f"{results['processing_shards']} jobs, {results['processing_submit_s']:.1f} s to submit")
    print(f"saved {save('infra_apply', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
