"""The A/B results CSV, read the way a spreadsheet user made it (its two shapes: see `ab`). Every
problem is one sentence naming the file, the line as the spreadsheet numbers it and the column."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from matsuri.errors import UsageError

GROUP = "group"
ROW_OUTCOME = "converted"
N_NAMES = ("n", "users", "trials")
SUCCESS_NAMES = ("successes", "conversions", "converted", "opens")
CONTROL_NAMES = ("a", "control", "対照", "対照群")
YES = frozenset({"1", "1.0", "true", "yes", "y", "はい"})
NO = frozenset({"0", "0.0", "false", "no", "n", "いいえ"})
EXCEL_UTF8 = "in Excel use Save As → 「CSV UTF-8 (コンマ区切り)」 / \"CSV UTF-8 (Comma delimited)\""


def count(path: Path) -> tuple[str, dict[str, list[int]]]:
    """(the outcome column's name, {group: [n, successes, first line]})."""
    return _count(path, _records(path, _decode(path)))


def split(path: Path, counts: dict[str, list[int]], control: str | None) -> tuple[str, str]:
    """(control, treatment): exactly two groups, each with users, and the control chosen."""
    return _split(path, counts, control)


def _decode(path: Path) -> str:
    """The file's text; a missing file or another encoding is a usage error saying what to do."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist: check the path of the A/B results CSV.") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder: give the A/B results CSV inside it.") from None
    except OSError as error:
        raise UsageError(f"Cannot read {path}: {error.strerror}; check the file and its "
                         "permissions.") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise UsageError(f"{path} line {line} is not UTF-8 text{_encoding_hint(data)}: "
                         f"{EXCEL_UTF8}, then try again.") from None


def _encoding_hint(data: bytes) -> str:
    """Japanese Excel's plain "CSV" is Shift_JIS (cp932): say so when the bytes fit it."""
    try:
        data.decode("cp932")
    except UnicodeDecodeError:
        return ""
    return " (it looks like Shift_JIS, which Excel's plain \"CSV\" writes)"


def _records(path: Path, text: str) -> list[tuple[int, list[str]]]:
    """Non-blank records with their line number as a spreadsheet shows it (header = line 1)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records, line = [], 0
    while True:
        line += 1
        try:
            row = next(reader)
        except StopIteration:
            return records
        except csv.Error as error:
            raise UsageError(f"{path} line {line} cannot be read as CSV ({error}); "
                             "fix that line or save the file again from the spreadsheet.") from None
        if any(cell.strip() for cell in row):
            records.append((line, row))


def _count(path: Path, records: list[tuple[int, list[str]]]) -> tuple[str, dict[str, list[int]]]:
    """Per group [n, successes, first line], from either shape; also the outcome column's name."""
    if not records:
        raise UsageError(f"{path} is empty: it needs a header line (group,converted or "
                         "group,n,successes) and the results below it.")
    header_line, header = records[0]
    columns = _columns(path, header_line, header)
    if len(records) == 1:
        raise UsageError(f"{path} has a header but no results below it: add one row per user "
                         "(or per group) and try again.")
    group = columns[GROUP]
    n_column = _alias(path, header_line, header, columns, N_NAMES)
    if n_column is not None:
        outcome = _alias(path, header_line, header, columns, SUCCESS_NAMES)
        if outcome is None:
            raise _missing(path, header_line, header,
                           f"a successes column ({' or '.join(SUCCESS_NAMES)}) beside {n_column}")
        counts = _count_groups(path, records[1:], header, group, columns[n_column], columns[outcome])
        return outcome, counts
    if ROW_OUTCOME not in columns:
        raise _missing(path, header_line, header, "the column converted (one row per user) "
                       "or n and successes (one row per group)")
    return ROW_OUTCOME, _count_users(path, records[1:], header, group, columns[ROW_OUTCOME])


def _columns(path: Path, line: int, header: list[str]) -> dict[str, int]:
    """Header names (trimmed, lower case) to their positions; `group` is required."""
    columns: dict[str, int] = {}
    for i, cell in enumerate(header):
        name = cell.strip().lower()
        if name in columns and name:
            raise UsageError(f"{path} line {line} has the column {name} twice: keep one and try "
                             "again.")
        columns[name] = i
    if GROUP not in columns:
        raise _missing(path, line, header, "the column group (which group each row belongs to)")
    return columns


def _alias(path: Path, line: int, header: list[str], columns: dict[str, int],
           names: tuple[str, ...]) -> str | None:
    """The one column of `names` the header has; two of them at once are ambiguous."""
    found = [name for name in names if name in columns]
    if len(found) > 1:
        raise UsageError(f"{path} line {line} has both {found[0]} and {found[1]}, which mean the "
                         "same thing: keep one and try again.")
    return found[0] if found else None


def _missing(path: Path, line: int, header: list[str], what: str) -> UsageError:
    found = ", ".join(cell.strip() for cell in header if cell.strip()) or "nothing"
    return UsageError(f"{path} line {line} (the header) lacks {what}: rename the columns "
                      f"(it has {found}) and try again.")


def _cell(row: list[str], column: int) -> str:
    return row[column].strip() if column < len(row) else ""


def _group_name(path: Path, line: int, row: list[str], column: int) -> str:
    name = _cell(row, column)
    if not name:
        raise UsageError(f"{path} line {line}, column group: the group is empty; fill it in or "
                         "delete the row.")
    return name


def _count_users(path: Path, records: list[tuple[int, list[str]]], header: list[str],
                 group: int, outcome: int) -> dict[str, list[int]]:
    """One row per user: each adds 1 to its group's n and 0 or 1 to its successes."""
    counts: dict[str, list[int]] = {}
    for line, row in records:
        name = _group_name(path, line, row, group)
        value = _cell(row, outcome)
        if value.lower() in YES:
            hit = 1
        elif value.lower() in NO:
            hit = 0
        else:
            shown = f"'{value}'" if value else "an empty cell"
            column = header[outcome].strip()
            raise UsageError(f"{path} line {line}, column {column}: {shown} is not 1/0, "
                             "true/false or yes/no; fix that cell and try again.")
        tally = counts.setdefault(name, [0, 0, line])
        tally[0] += 1
        tally[1] += hit
    return counts


def _count_groups(path: Path, records: list[tuple[int, list[str]]], header: list[str],
                  group: int, n: int, successes: int) -> dict[str, list[int]]:
    """One row per group (or several, added up): counts checked row by row."""
    counts: dict[str, list[int]] = {}
    n_name, s_name = header[n].strip(), header[successes].strip()
    for line, row in records:
        name = _group_name(path, line, row, group)
        users = _whole(path, line, n_name, _cell(row, n))
        hits = _whole(path, line, s_name, _cell(row, successes))
        if hits > users:
            raise UsageError(f"{path} line {line}: {s_name} ({hits:,}) is larger than {n_name} "
                             f"({users:,}), which cannot be; check columns {s_name} and {n_name}.")
        tally = counts.setdefault(name, [0, 0, line])
        tally[0] += users
        tally[1] += hits
    return counts


def _whole(path: Path, line: int, column: str, value: str) -> int:
    """A count: a whole number of 0 or more ("1,234" and "1234.0" as spreadsheets write them)."""
    where = f"{path} line {line}, column {column}"
    try:
        number = float(value.replace(",", ""))
    except ValueError:
        shown = f"'{value}'" if value else "an empty cell"
        raise UsageError(f"{where}: {shown} is not a whole number; fix that cell and try "
                         "again.") from None
    if not number.is_integer():
        raise UsageError(f"{where}: {value} is not a whole number; counts are numbers of users.")
    if number < 0:
        raise UsageError(f"{where}: {value} is negative; counts must be 0 or more.")
    return int(number)


def _split(path: Path, counts: dict[str, list[int]], control: str | None) -> tuple[str, str]:
    """(control, treatment): exactly two groups, each with users, and the control chosen."""
    names = sorted(counts)
    if len(names) != 2:
        listed = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        plural = "s" if len(names) != 1 else ""
        raise UsageError(f"{path} has {len(names)} group{plural} ({listed}) in column group, but "
                         "an A/B reading needs exactly two: keep the control and one treatment "
                         "and try again.")
    for name in names:
        if counts[name][0] == 0:
            raise UsageError(f"{path} line {counts[name][2]}: group {name} has no users (n is 0); "
                             "both groups need results before the test can be read.")
    first = _control(path, names, control)
    return first, next(name for name in names if name != first)


def _control(path: Path, names: list[str], control: str | None) -> str:
    if control is not None:
        matches = [name for name in names if name.casefold() == control.strip().casefold()]
        if not matches:
            raise UsageError(f"--control {control} is not a group in {path}; its groups are "
                             f"{names[0]} and {names[1]}.")
        return next((name for name in matches if name == control.strip()), matches[0])
    named = [name for name in names if name.casefold() in CONTROL_NAMES]
    return named[0] if len(named) == 1 else names[0]
