"""`matsuri infra apply --target sagemaker` for 50 participants against a local moto server.

Median of several runs (moto reset between runs), with 8 parallel workers (the default) against the
obvious alternative measured in the same run: the same requests one after another. Also times
`plan` (every request validated offline against the service model) and a second, idempotent apply.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import median, save  # noqa: E402

from matsuri.infra import participants, settings  # noqa: E402
from matsuri.infra.aws.provisioner import SageMakerProvisioner  # noqa: E402

PEOPLE = 50
RUNS = 3


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reset(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).read()


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
        plans, parallel, sequential, again = [], [], [], []
        for r in range(RUNS):
            reset(url)
            start = time.perf_counter()
            plan = SageMakerProvisioner(config, people, offline=True).plan()
            plans.append(time.perf_counter() - start)
            assert not plan.problems
            for workers, bucket in ((8, parallel), (1, sequential)):
                reset(url)
                provisioner = SageMakerProvisioner(config, people)
                provisioner.workers = workers
                start = time.perf_counter()
                report = provisioner.apply(progress=False)
                bucket.append(time.perf_counter() - start)
                assert not report.failed and len(report.changed) == 2 + 2 * PEOPLE, report.failed
            start = time.perf_counter()
            assert SageMakerProvisioner(config, people).apply(progress=False).changed == []
            again.append(time.perf_counter() - start)
            print(f"  run {r + 1}/{RUNS}: plan {plans[-1]:.2f} s, apply 8 workers {parallel[-1]:.1f} s, "
                  f"1 worker {sequential[-1]:.1f} s, second apply {again[-1]:.1f} s", flush=True)
        requests = sum(len(a.requests) for a in plan.actions)
        results |= {"requests": requests, "plan_s": median(plans), "apply_8_workers_s": median(parallel),
                    "apply_1_worker_s": median(sequential), "second_apply_s": median(again)}
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    print(f"plan ({results['requests']} requests validated offline): median {results['plan_s']:.2f} s")
    print(f"apply, {PEOPLE} participants, 8 workers: median {results['apply_8_workers_s']:.1f} s; "
          f"one at a time: {results['apply_1_worker_s']:.1f} s "
          f"({results['apply_1_worker_s'] / results['apply_8_workers_s']:.1f}× slower)")
    print(f"second apply (nothing to create): median {results['second_apply_s']:.1f} s")
    print(f"saved {save('infra_apply', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
