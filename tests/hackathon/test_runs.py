"""Do submission notebooks really run with papermill in a confined kernel, and fail in plain words?

Every test here runs a real papermill process whose kernel starts as an unprivileged system user
with a memory limit, exactly as `matsuri hackathon submit` does for participants.
"""

from __future__ import annotations

import hashlib
import json
import pwd
import shutil

import nbformat

from matsuri.hackathon.submissions import get_submission, list_submissions, submit
from support.hackathon_kit import WRITE_PUSH_PREDICTIONS, add_team, assert_rejected, notebook

SEARCH_FOR_LABELS = """
import hashlib, json, os

found, opened, checked = [], [], 0
for top, dirs, files in os.walk("/"):
    if top == "/":
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev", "run")]
    for name in files:
        path = os.path.join(top, name)
        try:
            if os.path.islink(path) or os.path.getsize(path) != SIZE:
                continue
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        checked += 1
        if hashlib.sha256(data).hexdigest() == DIGEST:
            found.append(path)
for path in (os.environ.get("MATSURI_LABELS", ""), KNOWN_PLACE):
    try:
        open(path, "rb").close()
        opened.append(path)
    except OSError:
        pass
print(json.dumps({"found": found, "opened": opened, "checked": checked, "uid": os.getuid(),
                  "env": sorted(k for k in os.environ if "LABEL" in k.upper())}))
"""


def _printed_json(executed) -> dict:
    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("name") == "stdout" and output["text"].lstrip().startswith("{"):
                return json.loads(output["text"])
    raise AssertionError("the notebook printed no findings")


def test_notebook_runs_confined_and_finds_no_labels_it_can_read(make_event, public_company, sandbox_user, tmp_path):
    """Does a notebook searching the whole filesystem for the labels find nothing it may read?"""
    event = make_event()
    add_team(event, "alpha", "push-open-rate")
    secret = public_company.labels.read_bytes()
    search = (f"SIZE = {len(secret)}\nDIGEST = {hashlib.sha256(secret).hexdigest()!r}\n"
              f"KNOWN_PLACE = {str(public_company.labels)!r}\n" + SEARCH_FOR_LABELS)
    nb = notebook(tmp_path / "ws" / "model.ipynb", WRITE_PUSH_PREDICTIONS, search)
    result = submit(event, "alpha", nb)
    assert result.status == "scored" and result.public["roc_auc"] > 0.5
    findings = _printed_json(result.folder / "executed.ipynb")
    assert findings["uid"] == pwd.getpwnam(f"{sandbox_user}-1").pw_uid != 0
    assert findings["found"] == [] and findings["opened"] == [] and findings["env"] == []
    executed = nbformat.read(result.folder / "executed.ipynb", as_version=4)
    injected = next(c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert f"warehouse = {str(public_company.warehouse)!r}" in injected.source.replace('"', "'")
    assert (result.folder / "log.txt").read_text().count("Executing Cell") >= 3


def test_a_failing_notebook_names_the_cell_and_error(make_event, sandbox_user, tmp_path):
    """Is a notebook that raises rejected with the cell number and the error in plain words?"""
    event = make_event()
    add_team(event, "alpha", "push-open-rate")
    nb = notebook(tmp_path / "fails.ipynb", "x = 1", "raise ValueError('the model needs more data')")
    message = assert_rejected(event, "alpha", nb, "fails.ipynb stopped with an error in code cell 3",
                              "(ValueError: the model needs more data)", "Restart Kernel and Run All Cells")
    assert "Traceback" not in message
    record = list_submissions(event, "alpha")[-1]
    assert (record.folder / "executed.ipynb").is_file() and (record.folder / "source" / "fails.ipynb").is_file()


def test_a_notebook_that_never_ends_is_stopped_at_the_timeout(make_event, sandbox_user, tmp_path):
    """Is an endless loop stopped after the configured time, and explained?"""
    event = make_event(timeout=6)
    add_team(event, "alpha", "push-open-rate")
    nb = notebook(tmp_path / "forever.ipynb", "while True:\n    pass")
    assert_rejected(event, "alpha", nb, "did not finish within the 6 seconds", "endless loop")


def test_a_notebook_that_exhausts_memory_hits_the_limit_not_the_machine(make_event, sandbox_user, tmp_path):
    """Does the kernel's memory limit stop a runaway notebook with a plain message?"""
    event = make_event(memory_mb=2048)
    add_team(event, "alpha", "push-open-rate")
    hog = "blocks = []\nwhile True:\n    blocks.append(bytearray(200 * 2**20))"
    nb = notebook(tmp_path / "hog.ipynb", hog)
    assert_rejected(event, "alpha", nb, "ran out of memory in code cell 2", "2,048 MB", "filter in SQL")


def test_a_notebook_that_writes_nothing_is_told_where_to_write(make_event, sandbox_user, tmp_path):
    """Is a notebook that runs but writes no predictions told to use output_dir?"""
    event = make_event()
    add_team(event, "alpha", "push-open-rate")
    nb = notebook(tmp_path / "quiet.ipynb", "print('done')")
    assert_rejected(event, "alpha", nb, "wrote no predictions.csv", "output_dir")


def test_a_link_to_the_labels_is_refused_and_nothing_is_copied(make_event, public_company, sandbox_user, tmp_path):
    """Can a notebook get the labels out by linking predictions.csv to them? It must not."""
    event = make_event()
    add_team(event, "alpha", "push-open-rate")
    link = (f"import os\nfrom pathlib import Path\n"
            f"os.symlink({str(public_company.labels)!r}, Path(output_dir) / 'predictions.csv')")
    nb = notebook(tmp_path / "sneaky.ipynb", link)
    message = assert_rejected(event, "alpha", nb, "is not an ordinary file")
    record = list_submissions(event, "alpha")[-1]
    assert not (record.folder / "files" / "predictions.csv").exists()
    assert "push_open_labels" not in message


def test_a_labels_copy_left_readable_beside_the_warehouse_is_not_even_visible(
        make_event, public_company, sandbox_user, tmp_path):
    """A world-readable copy of the labels next to the warehouse: does the sandbox still not see it?"""
    event = make_event()
    add_team(event, "alpha", "push-open-rate")
    exposed = public_company.folder / f"exposed-{tmp_path.name}.duckdb"
    shutil.copyfile(public_company.labels, exposed)
    exposed.chmod(0o644)
    try:
        look = (f"import os, json\nprint(json.dumps({{'exists': os.path.exists({str(exposed)!r}), "
                f"'beside': sorted(os.listdir({str(public_company.folder)!r}))}}))")
        nb = notebook(tmp_path / "look.ipynb", WRITE_PUSH_PREDICTIONS, look)
        result = submit(event, "alpha", nb, labels=exposed)
        seen = _printed_json(result.folder / "executed.ipynb")
        assert seen == {"exists": False, "beside": ["company.duckdb"]}
    finally:
        exposed.unlink()


def test_a_damaged_notebook_is_rejected_before_running(make_event, sandbox_user, tmp_path):
    """Is a file named .ipynb that is not a notebook refused with a plain message?"""
    event = make_event()
    add_team(event, "alpha", "push-open-rate")
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [', encoding="utf-8")
    assert_rejected(event, "alpha", broken, "broken.ipynb is not a notebook that Jupyter can open")
    assert get_submission(event, 1).status == "rejected"
