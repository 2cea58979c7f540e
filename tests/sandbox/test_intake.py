"""Does `submit` (run as root) take in only ordinary files of the allowed size, and does nothing a
participant wrote reach the organiser's terminal as escape sequences?

Hostile hand-ins found in practice: a link to /dev/zero (1 GiB copied in 3 s), a link to a
root-only file (its first line came back in the error), a pipe (a long traceback), escape
sequences in a CSV value or a team name.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from conftest import run_matsuri  # noqa: E402
from matsuri.errors import InvalidSubmission  # noqa: E402
from matsuri.hackathon.submissions import get_submission, submit  # noqa: E402
from matsuri.sandbox.intake import copy_in  # noqa: E402
from matsuri.sandbox.text import printable  # noqa: E402
from support.hackathon_kit import add_team, assert_rejected, push_predictions, write_csv  # noqa: E402

QUICK = 5.0  # seconds: a refusal reads nothing, so it is immediate
HOSTILE_NAME = "\x1b[2J\x1b]0;pwned\x07アルファ\u202e🎉"
TERMINAL_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e", "pwned")


@pytest.fixture
def event(make_event):
    """One submission a day: a refusal that counted would block the honest one after it."""
    event = make_event(daily_limit=1, total_limit=1)
    add_team(event, "alpha", "push-open-rate", display_name=HOSTILE_NAME)
    return event


def _bytes_under(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _honest_submission_scores(event, company, folder: Path) -> None:
    good = write_csv(push_predictions(company), folder / "honest" / "good.csv")
    assert submit(event, "alpha", good).status == "scored"


def _cli(event, *args: str, code: int = 0):
    """The real command, wide enough that table cells are not cut."""
    return run_matsuri(["hackathon", "--event", str(event.root), *args], exit_code=code,
                       env={"COLUMNS": "250"}, timeout=120)


@pytest.mark.parametrize("name", ["zero.csv", "zero.ipynb"])
def test_a_link_to_an_endless_device_is_refused_at_once(name, event, public_company, tmp_path):
    """Is `ln -s /dev/zero zero.csv` refused in no time, with nothing large written?"""
    zero = tmp_path / name
    zero.symlink_to("/dev/zero")
    started = time.monotonic()
    assert_rejected(event, "alpha", zero, f"{name} is a link", "Submit the file itself, not a link to it")
    assert time.monotonic() - started < QUICK
    assert _bytes_under(event.state) < 1_000_000
    _honest_submission_scores(event, public_company, tmp_path)


def test_a_device_named_like_a_csv_is_refused_without_being_opened(event, public_company, tmp_path):
    """Is a device node (here a copy of /dev/zero) called predictions.csv refused as a special file?"""
    device = tmp_path / "device.csv"
    os.mknod(device, stat.S_IFCHR | 0o600, os.makedev(1, 5))
    assert_rejected(event, "alpha", device, "device.csv is a special file", "not an ordinary file")
    assert _bytes_under(event.state) < 1_000_000
    _honest_submission_scores(event, public_company, tmp_path)


def test_a_root_only_file_behind_a_link_never_shows_up_anywhere(event, public_company, tmp_path):
    """Linked as a CSV, as a folder's predictions.csv, or as the folder itself: is the secret's
    first line absent from every message, log and file of the event?"""
    marker = "db_password=MARKER-7f3e9c"
    private = tmp_path / "organiser"
    private.mkdir(mode=0o700)
    secret = private / "secret.txt"
    secret.write_text(f"{marker}\nsecond line\n", encoding="utf-8")
    secret.chmod(0o600)
    as_file = tmp_path / "secret.csv"
    as_file.symlink_to(secret)
    folder = tmp_path / "handed-in"
    folder.mkdir()
    (folder / "predictions.csv").symlink_to(secret)
    linked_folder = tmp_path / "linked-folder"
    linked_folder.symlink_to(folder)

    messages = [
        assert_rejected(event, "alpha", as_file, "secret.csv is a link", "not a link to it"),
        assert_rejected(event, "alpha", folder, "predictions.csv in the folder handed-in is a link"),
        assert_rejected(event, "alpha", linked_folder, "The folder linked-folder is a link",
                        "Submit the folder itself, not a link to it"),
    ]
    assert not any(marker in m or "MARKER" in m for m in messages)
    logs = sorted(event.state.rglob("log.txt"))
    assert len(logs) == 3 and all("not accepted" in log.read_text() for log in logs)
    for path in event.root.rglob("*"):  # messages, logs, the store itself, any copied file
        if path.is_file() and not path.is_symlink():
            assert b"MARKER" not in path.read_bytes(), path
    _honest_submission_scores(event, public_company, tmp_path)


def test_a_pipe_is_refused_plainly_and_does_not_hang(event, public_company, tmp_path):
    """Does the real command refuse a named pipe in one line, without waiting for a writer?"""
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    run = _cli(event, "submit", str(pipe), "--team", "alpha", code=7)  # a hang fails on the timeout
    assert run.err.startswith("error: Submission 1 was not accepted. pipe.csv is a special file")
    assert "Traceback" not in run.err and len(run.err.strip().splitlines()) == 1, run.err
    record = get_submission(event, 1)
    assert record.status == "rejected" and "special file" in record.message
    _honest_submission_scores(event, public_company, tmp_path)


def test_a_file_over_the_size_limit_is_refused_before_it_is_copied(event, public_company, tmp_path):
    """Is a 6 MB file refused against the 5 MB limit, saying both sizes, with nothing copied?"""
    big = tmp_path / "big.csv"
    big.write_text("delivery_id,probability\n" + "1,0.5\n" * 1_000_000, encoding="utf-8")
    assert_rejected(event, "alpha", big, "big.csv is 6.0 MB, more than the 5.0 MB", "one line per prediction")
    assert _bytes_under(event.state) < 1_000_000
    _honest_submission_scores(event, public_company, tmp_path)


def test_a_link_in_a_folder_is_refused_even_to_an_honest_file(event, public_company, tmp_path):
    """Is a folder whose predictions.csv links to a valid CSV refused, and the real folder fine?"""
    real = write_csv(push_predictions(public_company), tmp_path / "elsewhere" / "good.csv")
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "predictions.csv").symlink_to(real)
    assert_rejected(event, "alpha", folder, "predictions.csv in the folder sub is a link")
    (folder / "predictions.csv").unlink()
    write_csv(push_predictions(public_company), folder / "predictions.csv")
    assert submit(event, "alpha", folder).status == "scored"


def test_a_file_that_grows_while_read_cannot_pass_the_limit(tmp_path):
    """A /proc file says it is 0 bytes and then gives more: is the copy cut at the limit, with
    neither the destination nor a partial file left behind?"""
    dest = tmp_path / "copy.txt"
    with pytest.raises(InvalidSubmission, match="grew past 0.0 MB while it was being read"):
        copy_in(Path("/proc/self/status"), dest, max_bytes=100)
    assert list(tmp_path.iterdir()) == []
    source = tmp_path / "ordinary.csv"
    source.write_bytes(b"a,b\n1,2\n")
    assert copy_in(source, dest, max_bytes=100) == 8 and dest.read_bytes() == b"a,b\n1,2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.txt", "ordinary.csv"]


def test_escape_sequences_never_reach_the_terminal(event, public_company, tmp_path):
    """A CSV value, a file name and a team name carrying escape sequences: does the real CLI show
    them stripped, with Japanese and emoji intact?"""
    frame = push_predictions(public_company).astype({"probability": object})
    frame.loc[3, "probability"] = "\x1b[2J\x1b]8;;http://evil.example\x07high\x1b]8;;\x07"
    hostile_csv = write_csv(frame, tmp_path / "values.csv")
    refused = _cli(event, "submit", str(hostile_csv), "--team", "alpha", code=7)
    assert "probability is 'high', which is not a number" in refused.err
    hostile_file = tmp_path / "\x1b[31mred\x1b[0m.xlsx"
    hostile_file.write_bytes(b"PK\x03\x04")
    refused_name = _cli(event, "submit", str(hostile_file), "--team", "alpha", code=7)
    assert "red.xlsx cannot be submitted" in refused_name.err
    assert "\x1b" in get_submission(event, 2).message  # stored as given: shown through printable()
    scored = _cli(event, "submit", str(write_csv(push_predictions(public_company), tmp_path / "ok.csv")), "--team", "alpha")
    outputs = [refused.err, refused_name.err, scored.out, _cli(event, "team", "list").out,
               _cli(event, "submissions", "alpha").out, _cli(event, "leaderboard").out,
               _cli(event, "submissions", "alpha", "--id", "2").out]
    for output in outputs:
        assert not any(c in output for c in TERMINAL_CONTROLS), repr(output)
    assert "アルファ🎉" in outputs[3] and "アルファ🎉" in outputs[5]
    assert "red.xlsx cannot be submitted" in outputs[6]


def test_printable_keeps_text_and_drops_controls():
    """Are CSI, OSC, C0/C1 controls and bidi overrides removed, and Japanese, emoji, tabs kept?"""
    assert printable("寿司チーム 🍣👩\u200d💻\tok\n") == "寿司チーム 🍣👩\u200d💻\tok\n"
    assert printable("a\x1b[2Jb\x1b[38;5;196mc") == "abc"
    assert printable("x\x1b]0;title\x07y\x1b]8;;http://e.example\x1b\\z") == "xyz"
    assert printable("a\x9b2Jb\x85c\rd\x00e\x7f") == "abcde"
    assert printable("name\u202egnp.exe\u2066\u2069") == "namegnp.exe"
    assert printable("\x1b]0;never ended, rest kept") == "0;never ended, rest kept"
