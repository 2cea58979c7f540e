"""Does the shared runner keep going after a failure, skip only what depended on it, and say why?"""

from __future__ import annotations

import threading

import pytest

from matsuri.errors import Interrupted, NotFound
from matsuri.infra.base import CREATE, EXISTS, Action, Plan, run_actions


def test_a_failure_skips_its_dependants_only_and_is_explained_in_plain_words():
    done = []

    def fail():
        raise NotFound("the quota form was never sent")

    plan = Plan("test", [
        Action(CREATE, "role", "r1", run=fail),
        Action(CREATE, "role", "r2", run=lambda: done.append("r2")),
        Action(EXISTS, "bucket", "b"),
        Action(CREATE, "instance", "i1", needs=("role:r1",), stage=1, run=lambda: done.append("i1")),
        Action(CREATE, "instance", "i2", needs=("role:r2", "bucket:b"), stage=1, run=lambda: done.append("i2")),
    ])
    report = run_actions(plan, "apply", workers=4, progress=False)
    assert sorted(done) == ["i2", "r2"]
    failed = {o.action.name: o.message for o in report.failed}
    assert failed == {"r1": "the quota form was never sent", "i1": "skipped: role r1 failed"}
    assert [o.action.name for o in report.changed] == ["r2", "i2"]


def test_parallel_workers_really_overlap_and_stages_stay_in_order():
    started, order = threading.Barrier(3, timeout=5), []

    def meet(name):
        def run():
            started.wait()  # all three must be running at once, or this times out
            order.append(name)
        return run

    plan = Plan("test", [Action(CREATE, "x", n, run=meet(n)) for n in "abc"] +
                [Action(CREATE, "y", "last", stage=1, run=lambda: order.append("last"))])
    assert not run_actions(plan, "apply", workers=3, progress=False).failed
    assert order[-1] == "last" and sorted(order[:3]) == ["a", "b", "c"]


def test_ctrl_c_becomes_a_clear_interruption():
    def interrupt():
        raise KeyboardInterrupt

    with pytest.raises(Interrupted, match="run it again: it continues where it stopped"):
        run_actions(Plan("test", [Action(CREATE, "x", "a", run=interrupt)]), "apply", progress=False)
