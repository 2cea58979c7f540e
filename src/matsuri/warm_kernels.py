"""Learners' kernels forked from a warm process: a lesson's kernel and its setup cell are ready in
a fraction of the time a fresh kernel needs.

A fresh kernel spends seconds importing IPython, pandas, DuckDB, jupysql and the checks before
the setup cell can run. Grading already avoids that with a zygote that imports them once and forks
one kernel per notebook (`grading.forkserver`). This jupyter_server extension gives every learner's
server its own zygote: each kernel is still a new process with the learner's environment and the
notebook's folder, just forked warm. The zygote starts in the background, so the server is not
slower to start; kernels opened before it is ready, and kernels that are not ipykernel's (the
hackathon's sandboxed ones), start the normal way.

Enabled for learners in `learners_lab/jupyter_server_config.json` (the hub's and Kubernetes
servers read the same file); MATSURI_WARM_KERNELS=off turns it off (benchmarks compare both).
"""

from __future__ import annotations

import atexit
import os
import threading

ENV = "MATSURI_WARM_KERNELS"


def _jupyter_server_extension_points():
    return [{"module": "matsuri.warm_kernels"}]


def _load_jupyter_server_extension(serverapp) -> None:
    if os.environ.get(ENV, "on").lower() in ("off", "0", "no"):
        serverapp.log.info("matsuri: kernels start the normal way (%s=off)", ENV)
        return
    stop = threading.Event()
    keeper = threading.Thread(target=_keep_warm, args=(stop, serverapp.log), name="matsuri-zygote",
                              daemon=True)
    keeper.start()

    def shut_down() -> None:
        stop.set()
        keeper.join(15)

    atexit.register(shut_down)


def _keep_warm(stop: threading.Event, log) -> None:
    from matsuri.grading import forkserver

    with forkserver.running() as pid:
        if pid:
            log.info("matsuri: kernels are forked warm from process %s", pid)
        stop.wait()
