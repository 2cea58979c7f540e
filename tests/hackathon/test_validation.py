"""Does every malformed submission get one plain paragraph, a 'rejected' record, and change nothing else?

Each case starts from an event where every theme already has a scored submission, submits one
broken thing, and compares every row of the state store before and after (except the new row).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from matsuri.hackathon.submissions import submit
from support.hackathon_kit import (
    add_team,
    assert_rejected,
    call_predictions,
    ordering_predictions,
    push_predictions,
    write_csv,
)

TEAMS = {"push-open-rate": "push", "call-keywords": "calls", "product-ordering": "order"}


@pytest.fixture
def busy_event(make_event, public_company, tmp_path):
    """An event whose three teams each have one scored submission already."""
    event = make_event()
    good = {
        "push-open-rate": push_predictions(public_company),
        "call-keywords": call_predictions(public_company),
        "product-ordering": ordering_predictions(public_company),
    }
    for theme, team in TEAMS.items():
        add_team(event, team, theme)
        assert submit(event, team, write_csv(good[theme], tmp_path / f"good-{team}.csv")).status == "scored"
    return event


def _push(company) -> pd.DataFrame:
    return push_predictions(company)


def _text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _with_line(frame: pd.DataFrame, line: int, new: str) -> str:
    """The frame as CSV text with line `line` (1 = header) replaced."""
    lines = frame.to_csv(index=False).splitlines()
    lines[line - 1] = new
    return "\n".join(lines) + "\n"


def _calls_folder(company, folder: Path, keywords: bytes) -> Path:
    write_csv(call_predictions(company), folder / "sub" / "predictions.csv")
    _bytes(folder / "sub" / "keywords.csv", keywords)
    return folder / "sub"


def _folder_without_predictions(company, folder: Path) -> Path:
    (folder / "sub").mkdir()
    _text(folder / "sub" / "notes.txt", "we will submit tomorrow")
    return folder / "sub"


def _repeat_product(company) -> pd.DataFrame:
    frame = ordering_predictions(company)
    second = frame["rank"] == 2
    frame.loc[second, "product_id"] = frame["product_id"].shift(1)[second].astype(int)
    return frame


def _push_where(company, row: int, value: float) -> pd.DataFrame:
    frame = _push(company)
    frame.loc[row, "probability"] = value
    return frame


TWENTY_FIVE_WORDS = ("rank,keyword\n" + "".join(f"{i},w{i}\n" for i in range(1, 26))).encode()

# Each case: team, build(company, folder) -> the path to submit, fragments the message must hold.
CASES = {
    "missing ids": ("push", lambda c, d: write_csv(_push(c).iloc[5:], d / "p.csv"),
                    ["predictions.csv is missing 5 of the", "holdout_push_deliveries"]),
    "duplicate ids": ("push", lambda c, d: write_csv(pd.concat([_push(c), _push(c).iloc[:3]]), d / "p.csv"),
                      ["more than once", "delivery_id"]),
    "unknown ids": ("push", lambda c, d: write_csv(pd.concat(
        [_push(c), pd.DataFrame({"delivery_id": [987654321], "probability": [0.5]})]), d / "p.csv"),
        ["987654321", "not in holdout_push_deliveries"]),
    "missing column": ("push", lambda c, d: write_csv(_push(c)[["delivery_id"]], d / "p.csv"),
                       ["missing: probability"]),
    "wrong column names": ("push", lambda c, d: write_csv(
        _push(c).rename(columns={"delivery_id": "id", "probability": "prob"}), d / "p.csv"),
        ["not expected: id, prob", "delivery_id, probability"]),
    "extra column": ("push", lambda c, d: write_csv(_push(c).assign(model="gbm"), d / "p.csv"),
                     ["not expected: model"]),
    "probability is text": ("push", lambda c, d: _text(d / "p.csv", _with_line(_push(c), 5, "123,high")),
                            ["line 5", "'high'", "not a number"]),
    "id is text": ("push", lambda c, d: _text(d / "p.csv", _with_line(_push(c), 4, "abc,0.5")),
                   ["line 4", "'abc'", "not a whole number"]),
    "id has decimals": ("push", lambda c, d: _text(d / "p.csv", _with_line(_push(c), 3, "12.5,0.5")),
                        ["line 3", "not a whole number"]),
    "NaN probability": ("push", lambda c, d: write_csv(_push_where(c, 6, float("nan")), d / "p.csv"),
                        ["line 8", "empty or NaN"]),
    "infinite probability": ("push", lambda c, d: write_csv(_push_where(c, 2, float("inf")), d / "p.csv"),
                             ["line 4", "inf (not a finite number)"]),
    "probability above 1": ("push", lambda c, d: write_csv(_push_where(c, 0, 1.7), d / "p.csv"),
                            ["line 2", "1.7", "between 0 and 1"]),
    "negative probability": ("push", lambda c, d: write_csv(
        _push(c).assign(probability=lambda f: f.probability - 0.5), d / "p.csv"),
        ["between 0 and 1", "predict_proba"]),
    "empty file": ("push", lambda c, d: _text(d / "p.csv", ""), ["empty (0 bytes)"]),
    "header only": ("push", lambda c, d: _text(d / "p.csv", "delivery_id,probability\n"), ["no rows"]),
    "an image, not a table": ("push", lambda c, d: _bytes(d / "p.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256))),
                              ["not a text CSV file", "UTF-8"]),
    "prose, not a table": ("push", lambda c, d: _text(d / "p.csv", "Our model is great.\nIt predicts opens.\n"),
                           ["has the columns our model is great.", "delivery_id, probability"]),
    "semicolons": ("push", lambda c, d: _text(d / "p.csv", _push(c).to_csv(index=False, sep=";")),
                   ["does not separate its columns with commas"]),
    "ragged line": ("push", lambda c, d: _text(d / "p.csv", _with_line(_push(c), 6, "1,0.5,extra")),
                    ["line 6 has 3 values"]),
    "very large file": ("push", lambda c, d: _text(d / "p.csv", "delivery_id,probability\n" + "1,0.5\n" * 1_200_000),
                        ["7.2 MB", "more than the 5.0 MB"]),
    "a spreadsheet": ("push", lambda c, d: _bytes(d / "p.xlsx", b"PK\x03\x04 zipped sheets"),
                      ["p.xlsx cannot be submitted", ".ipynb"]),
    "folder without predictions": ("push", _folder_without_predictions, ["has no predictions.csv", "notes.txt"]),
    "keywords not UTF-8": ("calls", lambda c, d: _calls_folder(c, d, "rank,keyword\n1,見積もり\n".encode("shift_jis")),
                           ["keywords.csv line 2 is not UTF-8 text", "Shift-JIS"]),
    "too many keywords": ("calls", lambda c, d: _calls_folder(c, d, TWENTY_FIVE_WORDS),
                          ["keywords.csv has 25 keywords", "at most 20"]),
    "blank keyword": ("calls", lambda c, d: _calls_folder(c, d, 'rank,keyword\n1,見積もり\n2," "\n'.encode()),
                      ["keywords.csv line 3", "blank"]),
    "ranking repeats a product": ("order", lambda c, d: write_csv(_repeat_product(c), d / "p.csv"),
                                  ["same product_id more than once", "lines 2 and 3"]),
    "rank out of range": ("order", lambda c, d: write_csv(ordering_predictions(c).assign(
        rank=lambda f: f["rank"].replace(10, 11)), d / "p.csv"), ["rank is 11", "from 1"]),
    "two products at one rank": ("order", lambda c, d: write_csv(ordering_predictions(c).assign(
        rank=lambda f: f["rank"].replace(3, 2)), d / "p.csv"), ["same rank", "rank 2"]),
    "unknown product": ("order", lambda c, d: write_csv(ordering_predictions(c).assign(
        product_id=lambda f: f.product_id.mask(f.index == 0, 99999)), d / "p.csv"),
        ["99999", "product_id value not found in the warehouse"]),
    "users missing": ("order", lambda c, d: write_csv(ordering_predictions(c).iloc[30:], d / "p.csv"),
                      ["no list for 3 of the", "holdout_ordering_users"]),
    "unknown user": ("order", lambda c, d: write_csv(pd.concat([ordering_predictions(c), pd.DataFrame(
        {"user_id": [123456789], "product_id": [1], "rank": [1]})]), d / "p.csv"),
        ["123456789", "not in holdout_ordering_users"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_submission_is_rejected_plainly_and_changes_nothing(case, busy_event, public_company, tmp_path):
    """Is each malformed input refused with a plain paragraph, recorded, and harmless?"""
    team, build, expected = CASES[case]
    path = build(public_company, tmp_path)
    assert_rejected(busy_event, team, Path(path), *expected)


def test_at_least_twenty_kinds_of_malformed_input():
    """Does the suite cover the twenty-plus malformed inputs the runner promises to explain?"""
    assert len(CASES) >= 20


def test_excel_style_csv_with_bom_and_quotes_is_accepted(busy_event, public_company, tmp_path):
    """Is a CSV saved by a spreadsheet (BOM, quoted header, CRLF) read like any other?"""
    frame = push_predictions(public_company)
    text = '"delivery_id","probability"\r\n' + "".join(f"{i},{p}\r\n" for i, p in frame.itertuples(index=False))
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeff".encode() + text.encode())
    assert submit(busy_event, "push", path).status == "scored"


def test_columns_in_another_order_are_accepted(busy_event, public_company, tmp_path):
    """Are the right columns in a different order fine?"""
    frame = push_predictions(public_company)[["probability", "delivery_id"]]
    assert submit(busy_event, "push", write_csv(frame, tmp_path / "swapped.csv")).status == "scored"
