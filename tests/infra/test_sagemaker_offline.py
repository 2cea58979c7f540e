"""Offline checks for SageMaker: request validation, lifecycle scripts (sizes, syntax, auto-stop
decisions with a fake clock) and the dated cost estimate."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys

import pytest

from matsuri.errors import UsageError
from matsuri.infra import participants, settings
from matsuri.infra.aws import lifecycle, pricing
from matsuri.infra.aws.provisioner import SageMakerProvisioner
from matsuri.infra.aws.validate import Request, validate

PEOPLE = "username,email,role,team\nann,ann@example.com,learner,赤組\nivy,ivy@example.com,instructor,\n"


def event(**sagemaker):
    return settings.from_dict({"event": {"id": "fest-27", "starts": dt.date(2027, 2, 1), "ends": dt.date(2027, 2, 5),
                                         "hours_per_day": 6},
                               "sagemaker": {"region": "ap-northeast-1", **sagemaker}})


@pytest.mark.parametrize("params, expected", [
    ({"NotebookInstanceName": "ok-name", "InstanceType": "ml.t3.giant", "RoleArn": "arn:aws:iam::123456789012:role/r"},
     "'ml.t3.giant' is not one of the accepted values"),
    ({"NotebookInstanceName": "bad_name", "InstanceType": "ml.t3.medium", "RoleArn": "arn:aws:iam::123456789012:role/r"},
     "'bad_name' does not match the pattern"),
    ({"NotebookInstanceName": "a" * 64, "InstanceType": "ml.t3.medium", "RoleArn": "arn:aws:iam::123456789012:role/r"},
     "64 characters, more than the maximum 63"),
    ({"NotebookInstanceName": "ok", "InstanceType": "ml.t3.medium", "RoleArn": "arn:aws:iam::123456789012:role/r",
      "Tags": [{"Key": "k", "Value": "v;"}]}, "Tags[0].Value: 'v;' does not match"),
    ({"NotebookInstanceName": "ok", "InstanceType": "ml.t3.medium", "RoleArn": "arn:aws:iam::123456789012:role/r",
      "Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]}, "51 items, more than the maximum 50"),
    ({"NotebookInstanceName": "ok", "InstanceType": "ml.t3.medium"}, "Missing required parameter"),
])
def test_requests_are_checked_for_enums_patterns_and_maximums(params, expected):
    problems = validate(Request("sagemaker", "CreateNotebookInstance", params))
    assert any(expected in p for p in problems), problems


def test_japanese_tag_values_pass_and_japanese_iam_descriptions_do_not():
    tag = {"NotebookInstanceName": "ok", "InstanceType": "ml.t3.medium",
           "RoleArn": "arn:aws:iam::123456789012:role/r", "Tags": [{"Key": "matsuri:team", "Value": "赤組 2027"}]}
    assert validate(Request("sagemaker", "CreateNotebookInstance", tag)) == []
    role = {"RoleName": "r", "AssumeRolePolicyDocument": "{}", "Description": "機械学習まつり"}
    assert any("Description" in p for p in validate(Request("iam", "CreateRole", role)))
    assert validate(Request("sagemaker", "NoSuchCall", {}))[0].endswith("no such operation in the sagemaker service model")


def test_every_planned_request_is_valid_for_the_shipped_settings():
    people = participants.parse(PEOPLE.splitlines())
    plan = SageMakerProvisioner(settings.load(), people, offline=True).plan()
    assert plan.problems == []
    sent = [r for a in plan.actions for r in a.requests]
    assert {str(r) for r in sent} >= {"s3.CreateBucket", "iam.CreateRole", "iam.PutRolePolicy",
                                     "sagemaker.CreateNotebookInstanceLifecycleConfig",
                                     "sagemaker.CreateNotebookInstance"}


def test_lifecycle_scripts_fit_aws_limits_and_are_valid_bash(tmp_path):
    scripts = lifecycle.render(event(kit_spec="matsuri==0.1.0", idle_minutes=45))
    hooks = scripts.hooks()
    for name in ("OnCreate", "OnStart"):
        content = hooks[name][0]["Content"]
        assert len(content) <= lifecycle.MAX_CHARS
        text = base64.b64decode(content).decode()
        (tmp_path / f"{name}.sh").write_text(text)
        check = subprocess.run(["bash", "-n", str(tmp_path / f"{name}.sh")], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        assert "@@" not in text
    assert 'KIT_SPEC="matsuri==0.1.0"' in scripts.on_create and 'BUCKET="fest-27-festival"' in scripts.on_create
    assert "nohup" in scripts.on_create  # the installs outlive AWS's 5-minute limit
    assert "IDLE_SECONDS=2700" in scripts.on_start and "def idle_for" in scripts.on_start


def test_a_script_over_the_limit_is_refused_before_anything_is_sent():
    with pytest.raises(UsageError, match="at most 16,384"):
        lifecycle.render(event(pip_index_url="https://mirror.invalid/" + "x" * 13000))


def autostop(tmp_path, sessions, now, started, idle=3600):
    (tmp_path / "sessions.json").write_text(json.dumps(sessions))
    (tmp_path / "meta.json").write_text(json.dumps({"ResourceName": "fest-27-ann"}))
    script = lifecycle.folder() / "autostop.py"
    return subprocess.run([sys.executable, str(script), "--sessions-file", str(tmp_path / "sessions.json"),
                           "--metadata-file", str(tmp_path / "meta.json"), "--now", str(now),
                           "--started", str(started), "--idle-seconds", str(idle), "--dry-run"],
                          capture_output=True, text=True, check=True).stdout


def kernel(state, last):
    return {"kernel": {"execution_state": state, "last_activity": last}}


def test_auto_stop_decides_from_kernel_activity_and_a_fake_clock(tmp_path):
    ten = dt.datetime(2027, 2, 1, 10, 0, tzinfo=dt.UTC).timestamp()
    morning = ten - 4 * 3600
    assert "stopping fest-27-ann" in autostop(tmp_path, [kernel("idle", "2027-02-01T08:30:00.000Z")], ten, morning)
    assert "active: idle for 1800 s" in autostop(tmp_path, [kernel("idle", "2027-02-01T09:30:00.000Z")], ten, morning)
    assert "a kernel is busy" in autostop(tmp_path, [kernel("busy", "2027-02-01T06:00:00.000Z")], ten, morning)
    assert "active" in autostop(tmp_path, [], ten, ten - 600)  # just started, no kernels yet
    assert "stopping" in autostop(tmp_path, [], ten, ten - 7200)  # started and never used


def test_the_cost_estimate_uses_the_dated_table_for_the_events_dates():
    cost = pricing.estimate(event(instance_type="ml.t3.large", volume_gb=20), instances=50)
    assert cost.currency == "USD" and cost.as_of == pricing.load_table()["as_of"]
    compute, storage = cost.lines
    assert compute[1] == pytest.approx(50 * 5 * 6 * 0.13)
    assert storage[1] == pytest.approx(50 * 20 * 0.168 * 5 / 30)
    assert cost.worst_case == pytest.approx(50 * 5 * 24 * 0.13 + storage[1])
    table = pricing.load_table() | {"as_of": dt.date(2026, 1, 1)}
    assert any("check current prices" in w for w in pricing.estimate(event(), 3, table).warnings)
    missing = pricing.estimate(event(instance_type="ml.p5.48xlarge"), 3)
    assert any("no price for ml.p5.48xlarge" in w for w in missing.warnings)


def test_a_vpc_only_event_sends_its_subnet_and_security_groups_and_they_are_checked():
    people = participants.parse(PEOPLE.splitlines())
    vpc = event(direct_internet_access=False, subnet_id="subnet-0abc", security_group_ids=["sg-1", "sg-2"])
    request = SageMakerProvisioner(vpc, people, offline=True).instance_request(people[0])
    assert request.params["DirectInternetAccess"] == "Disabled"
    assert (request.params["SubnetId"], request.params["SecurityGroupIds"]) == ("subnet-0abc", ["sg-1", "sg-2"])
    assert validate(request) == []
    bad = event(direct_internet_access=False, subnet_id="subnet_0abc!", security_group_ids=[f"sg-{i}" for i in range(6)])
    problems = validate(SageMakerProvisioner(bad, people, offline=True).instance_request(people[0]))
    assert any("SubnetId" in p for p in problems) and any("6 items, more than the maximum 5" in p for p in problems)
