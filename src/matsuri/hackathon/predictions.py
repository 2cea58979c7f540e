"""Reading and checking prediction files, with messages a non-engineer can act on.

Every problem raises `InvalidSubmission` with one paragraph: what is wrong, where (file, line,
column, example values) and what to do. The fast path reads with pyarrow; only when something is
wrong do we re-read line by line to point at the first bad line.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # tables arrive as DataFrames; pandas itself loads with pyarrow's to_pandas()
    import pandas as pd

from matsuri.errors import InvalidSubmission  # re-exported: several modules import it from here
from matsuri.sandbox.text import quoted  # values from a participant's file, safe in a message

# A column's kind: "id" a whole number, "key" an id kept as text (when the holdout's ids are text,
# e.g. 'D00013353'), "float" a number, "text" free text.
KINDS = {"id": "a whole number", "key": "an id", "float": "a number", "text": "text"}
EXAMPLES = 3


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def examples(values) -> str:
    """A few of these values, quoted safely: "for example '7', '9', '12'"."""
    shown = ", ".join(quoted(v) for v in list(values)[:EXAMPLES])
    return f"for example {shown}"


def _listed(names: list[str], most: int = 8) -> str:
    """Column names from a participant's file, quoted safely; a long list is cut short."""
    shown = ", ".join(quoted(n) for n in names[:most])
    return shown + (", …" if len(names) > most else "")


def _read_header(path: Path, name: str, expected: list[str]) -> list[str]:
    with open(path, "rb") as f:
        first = f.readline(64_000)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidSubmission(
            f"{name} is not a text CSV file: it could not be read as UTF-8 text (it may be a "
            f"spreadsheet, an image or a file saved in another encoding). Save it as a UTF-8 CSV "
            f"whose first line is `{','.join(expected)}` and submit again."
        ) from None
    header = next(csv.reader(io.StringIO(text)), [])
    return [h.strip().lower() for h in header]


def _check_columns(header: list[str], expected: list[str], name: str) -> None:
    if header == expected:
        return
    want = ", ".join(expected)
    if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
        raise InvalidSubmission(
            f"{name} does not separate its columns with commas (its first line is "
            f"`{quoted(header[0], 60)}`). Save it as a comma-separated CSV with the columns {want} and submit again."
        )
    repeated = sorted({quoted(h) for h in header if header.count(h) > 1})
    missing = [c for c in expected if c not in header]
    extra = [h for h in header if h not in expected]
    if not repeated and not missing and not extra:
        return  # same columns, another order: fine
    details = []
    if missing:
        details.append(f"missing: {', '.join(missing)}")
    if extra:
        details.append(f"not expected: {_listed([h or '(blank)' for h in extra])}")
    if repeated:
        details.append(f"appearing twice: {', '.join(repeated)}")
    raise InvalidSubmission(
        f"{name} has the columns {_listed(header) or '(none)'}, but this theme expects exactly "
        f"{want} ({'; '.join(details)}). Fix the first line of the file (the column names) and "
        "submit again."
    )


def _parses(value: str, kind: str) -> bool:
    if kind in ("text", "key"):
        return True
    try:
        number = float(value)
    except ValueError:
        return False
    return kind == "float" or (number.is_integer() and value.strip().lstrip("+-").isdigit())


def _first_bad_line(path: Path, name: str, columns: dict[str, str]) -> InvalidSubmission:
    """Re-read slowly to say which line holds the first value that does not fit its column."""
    data = path.read_bytes()
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        return InvalidSubmission(
            f"{name} line {line} is not UTF-8 text (the file may "
            "have been saved as Shift-JIS or another encoding). Save it as a UTF-8 CSV (in Excel: "
            "'CSV UTF-8') and submit again."
        )
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader)]
        for row in reader:
            line = reader.line_num
            if len(row) != len(header):
                return InvalidSubmission(
                    f"{name} line {line} has {len(row)} values but the first line names "
                    f"{len(header)} columns ({', '.join(header)}). Make every line hold exactly "
                    "these columns, separated by commas, and submit again."
                )
            for column, kind in columns.items():
                value = row[header.index(column)].strip()
                if value and not _parses(value, kind):
                    return InvalidSubmission(
                        f"{name} line {line}: {column} is '{quoted(value)}', which is not "
                        f"{KINDS[kind]}. Every {column} must be {KINDS[kind]}; fix that line "
                        "(and any like it) and submit again."
                    )
    return InvalidSubmission(
        f"{name} could not be read as a CSV table. Save it as a UTF-8, comma-separated CSV with "
        f"the columns {', '.join(columns)} and submit again."
    )


def read_table(path: Path, columns: dict[str, str], max_bytes: int) -> pd.DataFrame:
    """Read a CSV with exactly these columns (name -> kind), refusing anything unreadable."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    name = path.name
    expected = list(columns)
    if not path.is_file():
        raise InvalidSubmission(
            f"The submission has no {name}. Write your predictions to a file named {name} with "
            f"the columns {', '.join(expected)} and submit again."
        )
    size = path.stat().st_size
    if size == 0:
        raise InvalidSubmission(
            f"{name} is empty (0 bytes). It should be a CSV table whose first line is "
            f"`{','.join(expected)}`, followed by one line per prediction. Check that your "
            "notebook wrote the file completely and submit again."
        )
    if size > max_bytes:
        raise InvalidSubmission(
            f"{name} is {_mb(size)}, more than the {_mb(max_bytes)} this event accepts for one "
            f"file. A correct {name} is much smaller: keep only the columns {', '.join(expected)}, "
            "one line per prediction, without extra decimals, and submit again."
        )
    header = _read_header(path, name, expected)
    _check_columns(header, expected, name)
    types = {"id": pa.int64(), "key": pa.string(), "float": pa.float64(), "text": pa.string()}
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, use_threads=False),
            convert_options=pacsv.ConvertOptions(column_types={c: types[k] for c, k in columns.items()}),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        raise _first_bad_line(path, name, columns) from None
    if table.num_rows == 0:
        raise InvalidSubmission(
            f"{name} has its column names but no rows. Add one line per prediction under the "
            "first line and submit again."
        )
    for column in expected:
        if columns[column] != "key" and not table.column(column).null_count:
            continue  # the usual case, known without a pass over the values
        empty = table.column(column).is_null()
        if columns[column] == "key":  # an id read as text is empty when blank
            import pyarrow.compute as pc

            empty = pc.or_(empty, pc.equal(pc.utf8_trim_whitespace(table.column(column)), ""))
        empty = empty.to_numpy(zero_copy_only=False)
        nulls = int(empty.sum())
        if nulls:
            first = int(np.flatnonzero(empty)[0])
            what = "empty or NaN (not a number)" if columns[column] == "float" else "empty"
            raise InvalidSubmission(
                f"{name} line {first + 2}: {column} is {what} ({_count(nulls, 'line')} in all "
                f"are). Give every line a {column} and submit again."
            )
    import pandas as pd

    return pd.DataFrame({c: _values(table.column(c), columns[c]) for c in expected})


def _values(column, kind: str) -> np.ndarray:
    """A column as numpy: ids read as text stay str objects (what the holdout's text ids are)."""
    values = column.to_numpy()
    return values.astype(object) if kind == "key" else values


def check_ids(table: pd.DataFrame, column: str, expected: np.ndarray, name: str,
              source: str) -> np.ndarray | None:
    """Exactly one row per id of the holdout table (sorted `expected`): no repeats, no strangers,
    none missing. Returns the row order that sorts the table by id, or None when the table is in
    id order already. Ids are whole numbers or text, as `expected` (the holdout's) are."""
    ids = table[column].to_numpy(dtype=np.int64 if expected.dtype.kind in "iu" else object)
    if len(ids) == len(expected) and np.array_equal(ids, expected):
        return None  # the usual case: written in id order
    order = np.argsort(ids, kind="stable")
    if len(ids) == len(expected) and np.array_equal(ids[order], expected):
        return order
    unique, counts = np.unique(ids, return_counts=True)
    repeated = unique[counts > 1]
    if len(repeated):
        raise InvalidSubmission(
            f"{name} lists {_count(len(repeated), column + ' value')} more than once "
            f"({examples(repeated)}). Keep exactly one line per {column} and submit again."
        )
    unknown = unique[~np.isin(unique, expected, assume_unique=True)]
    if len(unknown):
        raise InvalidSubmission(
            f"{name} has {_count(len(unknown), column + ' value')} that are not in {source} "
            f"({examples(unknown)}). Predict exactly the rows of {source}, no others, and submit again."
        )
    missing = expected[~np.isin(expected, unique, assume_unique=True)]
    if len(missing):
        raise InvalidSubmission(
            f"{name} is missing {len(missing):,} of the {len(expected):,} {column} values of "
            f"{source} ({examples(missing)}). Add one line for each row of {source} and submit again."
        )
    return order


def check_values(table: pd.DataFrame, column: str, name: str, what: str = "a number") -> np.ndarray:
    """Every value a finite number (a regression file, and the start of a probability check)."""
    values = table[column].to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise InvalidSubmission(
            f"{name} line {bad[0] + 2}: {column} is {values[bad[0]]} (not a finite number); "
            f"{_count(len(bad), 'line')} in all are. Give {what} on every line and submit again."
        )
    return values


def check_probabilities(table: pd.DataFrame, column: str, name: str) -> None:
    values = check_values(table, column, name, "a probability between 0 and 1")
    outside = np.flatnonzero((values < 0) | (values > 1))
    if len(outside):
        raise InvalidSubmission(
            f"{name} line {outside[0] + 2}: {column} is {values[outside[0]]:g}, but a probability "
            f"must be between 0 and 1 ({_count(len(outside), 'line')} in all are outside). If your model gives "
            "scores rather than probabilities, use predict_proba or clip the values, and submit again."
        )


def check_ranking(table: pd.DataFrame, name: str, id: str, item: str, ids: np.ndarray,
                  items: np.ndarray, k: int, source: str) -> None:
    """Long-format ranking: ranks 1..k, every holdout id (`source` lists them), known items, no
    item twice for one id."""
    ranks = table["rank"].to_numpy()
    bad_rank = np.flatnonzero((ranks < 1) | (ranks > k))
    if len(bad_rank):
        raise InvalidSubmission(
            f"{name} line {bad_rank[0] + 2}: rank is {ranks[bad_rank[0]]}, but ranks go from 1 "
            f"(the first recommendation) to {k}. Keep at most {k} {item} values per {id}, "
            f"numbered 1 to {k}, and submit again."
        )
    if _fits_ranking(table, id, item, ids, items, k):
        return  # the usual case; otherwise the checks below name the first problem
    unknown_items = np.setdiff1d(table[item].to_numpy(), items)
    if len(unknown_items):
        raise InvalidSubmission(
            f"{name} recommends {_count(len(unknown_items), item + ' value')} not found in the warehouse "
            f"({examples(unknown_items)}). Recommend only existing ones and submit again."
        )
    repeated = table[table.duplicated([id, item], keep=False)]
    if len(repeated):
        first = repeated.iloc[0]
        lines = [i + 2 for i in repeated.index[
            (repeated[id] == first[id]) & (repeated[item] == first[item])][:2]]
        raise InvalidSubmission(
            f"{name} names the same {item} more than once for one {id}: {id} {first[id]} gets "
            f"{item} {first[item]} on lines {lines[0]} and {lines[1]} "
            f"({_count(repeated[id].nunique(), id + ' value')} in all have repeats). Each list "
            "must name every item at most once; remove the repeats and submit again."
        )
    same_rank = table[table.duplicated([id, "rank"], keep=False)]
    if len(same_rank):
        first = same_rank.iloc[0]
        raise InvalidSubmission(
            f"{name} gives two items the same rank: {id} {first[id]} has more than one {item} at "
            f"rank {first['rank']}. Number each list 1, 2, 3, … without ties and submit again."
        )
    listed = np.unique(table[id].to_numpy())
    unknown = np.setdiff1d(listed, ids)
    if len(unknown):
        raise InvalidSubmission(
            f"{name} has {_count(len(unknown), id + ' value')} that are not in {source} "
            f"({examples(unknown)}). Rank only for the rows of {source} and submit again."
        )
    missing = np.setdiff1d(ids, listed)
    if len(missing):
        raise InvalidSubmission(
            f"{name} has no list for {len(missing):,} of the {len(ids):,} {id} values of {source} "
            f"({examples(missing)}). Give every one of them a list of up to {k} and submit again."
        )


def _fits_ranking(table: pd.DataFrame, id: str, item: str, ids: np.ndarray, items: np.ndarray, k: int) -> bool:
    """True when the lists (ranks already 1..k) pass every check of `check_ranking`: known items
    and ids, no item or rank twice in one list, a list for every id. One hash lookup per column
    and two sorts of whole numbers, instead of the set operations that find the first problem."""
    import pandas as pd

    if len(ids) * (len(items) + k + 1) >= 2**62:
        return False
    at = pd.Index(ids).get_indexer(table[id].to_numpy())           # -1: not a holdout id
    item_at = pd.Index(items).get_indexer(table[item].to_numpy())  # -1: not a known item
    if (at < 0).any() or (item_at < 0).any():
        return False
    at = at.astype(np.int64)
    for pair in (at * len(items) + item_at, at * (k + 1) + table["rank"].to_numpy()):
        pair = np.sort(pair)
        if (pair[1:] == pair[:-1]).any():
            return False
    return bool(np.bincount(at, minlength=len(ids)).all())


def read_keywords(path: Path, max_bytes: int, top: int) -> pd.DataFrame:
    """keywords.csv: rank,keyword with up to `top` rows, ranks 1..n, no blank keyword."""
    name = path.name
    table = read_table(path, {"rank": "id", "keyword": "text"}, max_bytes)
    if len(table) > top:
        raise InvalidSubmission(
            f"{name} has {len(table)} keywords, but at most {top} count. Keep your {top} strongest "
            f"keywords (rank 1 = strongest) and submit again."
        )
    blank = np.flatnonzero(table["keyword"].str.strip().eq("").to_numpy())
    if len(blank):
        raise InvalidSubmission(
            f"{name} line {blank[0] + 2}: the keyword is blank. Write a word on every line (or "
            "remove the line) and submit again."
        )
    ranks = sorted(table["rank"].tolist())
    if ranks != list(range(1, len(ranks) + 1)):
        raise InvalidSubmission(
            f"{name} has the ranks {', '.join(map(str, ranks[:8]))}{'…' if len(ranks) > 8 else ''}, "
            f"but they must be 1, 2, 3, … up to {len(ranks)}, each once. Renumber them and submit again."
        )
    return table.sort_values("rank", ignore_index=True)
