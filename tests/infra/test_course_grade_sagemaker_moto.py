"""Does `matsuri course grade --on sagemaker` leave the gradebook exactly as a local grade does,
and does a job that fails, or comes back with changed cells, grade nobody wrongly?

One lesson of sql-101 with crafted learners (full marks, partial, blank, tampered check cells, a
deleted setup cell, an endless query), graded twice from the same collected submissions: on this
machine in the sandbox, and through SageMaker Processing jobs played by `ProcessingPlayer` in
front of a moto server started here. The SDK must be installed (`pip install 'matsuri[sagemaker]'`).
"""

from __future__ import annotations

import importlib.util
import secrets
import shutil

import boto3
import nbformat
import pytest
from processing_player import played_aws

from conftest import run_matsuri
from matsuri.grading import course as courses
from matsuri.grading.reference import reference_queries
from support.grading_kit import answered, rows

pytestmark = [pytest.mark.skipif(importlib.util.find_spec("sagemaker") is None or
                                 importlib.util.find_spec("sagemaker.core") is None,
                                 reason="the SageMaker SDK is not installed here (pip install "
                                        "'matsuri[sagemaker]'; scripts/setup.sh installs it)")]
COURSE, LESSON = "sql-101", "01-reading-a-table"
REGION = "ap-northeast-1"
TIMEOUT = "10"


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    with played_aws(tmp_path_factory.mktemp("sagemaker-grade")) as player:
        yield player


def infra_settings(folder, event_id: str) -> dict:
    """An infra settings file for `event_id`, its bucket made; the env the CLI needs for it."""
    path = folder / f"{event_id}.toml"
    path.write_text(f'[event]\nid = "{event_id}"\n[sagemaker]\nregion = "{REGION}"\n'
                    'processing_role_arn = "arn:aws:iam::123456789012:role/matsuri-processing"\n'
                    'processing_image = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/matsuri:0.1.0"\n'
                    "processing_poll_seconds = 0.5\nprocessing_start_minutes = 2\n")
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=f"{event_id}-festival", CreateBucketConfiguration={"LocationConstraint": REGION})
    return {"MATSURI_INFRA_SETTINGS": str(path)}


@pytest.fixture(scope="module")
def collected(public_company, tmp_path_factory):
    """A course work folder with lesson 1 released and six learners' submissions collected."""
    work = tmp_path_factory.mktemp("course-collected")
    warehouse = str(public_company.warehouse)
    run_matsuri(["course", "release", COURSE, "--lesson", LESSON, "--warehouse", warehouse,
                 "--workdir", str(work)])
    refs = reference_queries(courses.load(COURSE).lesson(LESSON))
    released = nbformat.read(work / COURSE / "release" / LESSON / f"{LESSON}.ipynb", as_version=4)
    wrong = dict(refs) | {"q1_result": "SELECT product_id, name FROM products"}
    learners = {
        "solution": answered(released, refs),
        "partial": answered(released, {k: v for k, v in refs.items()
                                       if k in ("q1_result", "q2_result", "q3_result")}),
        "blank": answered(released, {}),
        "tampered": answered(released, wrong, edit={"q1": "pass", "setup": "print('no setup')"}),
        "deleted-setup": answered(released, refs, drop=("setup",)),
        "endless": answered(released, dict(refs) | {
            "q1_result": "SELECT sum(i) AS n FROM range(1000000000000000) t(i)"}),
    }
    subs = tmp_path_factory.mktemp("course-submissions")
    for student, nb in learners.items():
        (subs / student / LESSON).mkdir(parents=True)
        nbformat.write(nb, subs / student / LESSON / f"{LESSON}.ipynb")
    (subs / "broken" / LESSON).mkdir(parents=True)
    (subs / "broken" / LESSON / f"{LESSON}.ipynb").write_text('{"cells": [ oops')
    run_matsuri(["course", "collect", COURSE, "--from", str(subs), "--workdir", str(work)])
    return work


def copy_of(work, tmp_path, name):
    target = tmp_path / name
    shutil.copytree(work, target)
    return target


def grade(work, warehouse, *extra, env=None, exit_code=0):
    return run_matsuri(["course", "grade", COURSE, "--lesson", LESSON, "--cell-timeout", TIMEOUT,
                        "--warehouse", str(warehouse), "--workdir", str(work), *extra],
                       env=env, exit_code=exit_code)


def report(work) -> dict[str, tuple]:
    return {r["student_id"]: (r["status"], r["score"])
            for r in rows(work / COURSE / "exports" / "grading-report.csv")}


def test_grading_on_sagemaker_leaves_the_gradebook_as_a_local_grade_does(
        aws, collected, public_company, grading_identity, tmp_path):
    here, there = copy_of(collected, tmp_path, "here"), copy_of(collected, tmp_path, "there")
    grade(here, public_company.warehouse, "--workers", "2")
    event_id = f"t{secrets.token_hex(3)}"
    env = infra_settings(tmp_path, event_id)
    jobs_before = len(aws.played)
    out = grade(there, public_company.warehouse, "--workers", "2", "--on", "sagemaker", env=env)
    assert len(aws.played) - jobs_before == 2  # --workers 2: two Processing jobs
    assert "6 graded, 0 unchanged, 1 skipped, 0 failed" in out.out
    local, remote = report(here), report(there)
    assert remote == local
    full = len(courses.load(COURSE).lesson(LESSON).exercises)  # one point per exercise
    assert {s: float(score) if score else None for s, (_, score) in remote.items()} == {
        "solution": full, "partial": 3, "blank": 0, "tampered": full - 1, "deleted-setup": full,
        "endless": full - 1, "broken": None}
    assert "あなたの答え" in (there / COURSE / "feedback" / "solution" / LESSON / f"{LESSON}.html").read_text()
    for name in ("gradebook.csv", "scores.csv"):
        assert (there / COURSE / "exports" / name).read_text() == \
            (here / COURSE / "exports" / name).read_text()
    feedback = there / COURSE / "feedback" / "solution" / LESSON / f"{LESSON}.html"
    assert feedback.is_file()
    # what was sent: sanitised notebooks, the learners' warehouse and check key; never the
    # gradebook, the private keys or the course's sources
    keys = [o["Key"] for page in boto3.client("s3", region_name=REGION).get_paginator(
        "list_objects_v2").paginate(Bucket=f"{event_id}-festival") for o in page.get("Contents", [])]
    assert any(k.endswith(f"/input/keys/{LESSON}.json") for k in keys)
    assert sum(k.endswith(f"/input/work/{LESSON}/solution/{LESSON}.ipynb") for k in keys) == 1
    assert not any(part in k for k in keys for part in ("gradebook", "private", "/source/"))
    # graded again, nothing new: unchanged, as locally
    again = grade(there, public_company.warehouse, "--on", "sagemaker", env=env)
    assert "0 graded, 6 unchanged" in again.out


def test_a_failed_job_or_changed_cells_grade_nobody(aws, collected, public_company, tmp_path):
    work = copy_of(collected, tmp_path, "faults")
    for fault, note in (("capacity", "ended Failed: CapacityError"),
                        ("tamper", "does not have the cells that were sent")):
        env = infra_settings(tmp_path, f"t-{fault}-{secrets.token_hex(2)}")
        aws.faults[fault] = fault
        out = grade(work, public_company.warehouse, "--learner", "solution", "--force",
                    "--on", "sagemaker", env=env)
        got = {r["student_id"]: r for r in rows(work / COURSE / "exports" / "grading-report.csv")}
        assert got["solution"]["status"] == "failed", out.out
        assert note in got["solution"]["notes"]
        assert "Traceback" not in out.err


def test_grading_on_sagemaker_without_settings_says_what_to_set(collected, public_company, tmp_path):
    work = copy_of(collected, tmp_path, "unset")
    path = tmp_path / "infra.toml"
    path.write_text('[event]\nid = "t-unset"\n')
    out = grade(work, public_company.warehouse, "--on", "sagemaker",
                env={"MATSURI_INFRA_SETTINGS": str(path)}, exit_code=2)
    assert "needs processing_role_arn and processing_image in the [sagemaker] table" in out.err
    assert "Traceback" not in out.err
    out = grade(work, public_company.warehouse, "--on", "sagemaker", "--no-sandbox",
                env={"MATSURI_INFRA_SETTINGS": str(path)}, exit_code=2)
    assert "--no-sandbox is for --on local" in out.err
