"""A theme's data contract: the tables and columns its template reads, checked when the data opens.

Each theme's spec (`[data.<table>]` in theme.toml) lists, under our names, every table the template
reads and each column's type, meaning and whether it may be empty. A company's export rarely
matches it exactly, so `inspect` compares the company's tables with the contract and returns, per
table, the SELECT that presents them under our names and types, plus findings:

    accepted as is     ISO date strings, epoch seconds or milliseconds, TIMESTAMPTZ and DATE
                       (cast to the event's local time); ids as integers or as strings (kept);
                       true/false as 0/1 or text; numbers stored as text
    fixed, and said    missing values in a required column (rows dropped), duplicate rows or
                       keys in a training table (one kept)
    stop               a column that cannot be read as its type, an empty table, a holdout with
                       duplicate ids or missing values (each needs one prediction)

Every finding names the company's table and column, our name for it, what was found and what to
do, so a data team can fix an export before the event (`matsuri data check`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the spec reads this module at every start; pandas and DuckDB load when used
    import duckdb
    import pandas as pd

TYPES = {  # contract type -> what it needs, in plain words
    "id": "integer or text ids",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN (true/false)",
    "integer": "a whole number",
    "number": "a number",
    "text": "text",
    "category": "text (a few repeating values)",
}
ZONE_ENV = "MATSURI_TIME_ZONE"  # the event's zone, set by the hackathon runner for its sandboxes
TINY_HOLDOUT = 30  # fewer rows to predict than this: scores will say little
EPOCH_MS = 10**11  # epoch values above this are milliseconds (10**11 s is the year 5138)
EPOCH_US = 10**14


@dataclass(frozen=True)
class ColumnContract:
    name: str
    type: str                      # a key of TYPES
    meaning: dict[str, str]        # ja and en
    nullable: bool = False         # may be NULL (e.g. opened_at: NULL means not opened)


@dataclass(frozen=True)
class TableContract:
    name: str
    meaning: dict[str, str]
    columns: tuple[ColumnContract, ...]
    key: tuple[str, ...] = ()      # one row per key (duplicates reported)
    holdout: bool = False          # rows to predict: nothing may be dropped
    history_days: int = 0          # the template learns from at least this many days of it
    history_parameter: str = ""    # the starter's parameter that changes how much it needs

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @classmethod
    def plain(cls, name: str, columns) -> TableContract:
        """Columns that must exist, with no type checked (what a caller without a spec needs)."""
        return cls(name, {}, tuple(ColumnContract(c, "", {}, True) for c in columns))


@dataclass
class Finding:
    """One thing found in the company's data and what the template does about it."""

    where: str                     # "crm.push_log.send_time (our push_notifications.sent_at)"
    found: str
    action: str                    # a key of Findings.ACTIONS
    todo: str                      # what to do (the parameter, a view)
    ja: tuple[str, str] = ("", "")  # found and todo in Japanese

    @property
    def stops(self) -> bool:
        return self.action == "stop"

    def line(self, language: str = "en") -> str:
        if language == "ja" and self.ja[0]:
            return f"{self.where}: {self.ja[0]} — {self.ja[1]}"
        return f"{self.where}: {self.found} — {self.todo}"


@dataclass
class Presentation:
    """How one of the company's tables is read under our names and types."""

    table: TableContract
    source: str                    # the company's relation, quoted and qualified
    select: list[str] = field(default_factory=list)    # expressions AS our columns
    where: list[str] = field(default_factory=list)     # rows kept
    distinct_on: tuple[str, ...] = ()                  # one row per these of our columns
    plain: bool = True             # same names and types, nothing dropped: no view needed
    names: dict[str, str] = field(default_factory=dict)  # our column -> the company's

    def sql(self) -> str:
        body = f"SELECT {', '.join(self.select)} FROM {self.source}"
        if self.where:  # on our names and types
            body = f"SELECT * FROM ({body}) WHERE " + " AND ".join(self.where)
        if not self.distinct_on:
            return body
        keys = ", ".join(f'"{k}"' for k in self.distinct_on)
        return f"SELECT DISTINCT ON ({keys}) * FROM ({body}) ORDER BY ALL"


class Findings(list):
    """The findings as a short table in the notebook (what was found, what the template does)."""

    HEADERS = {"en": ("where", "found", "the template", "to change it"),
               "ja": ("場所", "見つかったこと", "テンプレートの対応", "変えるには")}
    ACTIONS = {"stop": ("stops", "止まります"), "drop": ("drops those rows", "その行を除きます"),
               "keep one": ("keeps one row per key", "キーごとに 1 行残します"),
               "cast": ("reads them as our type", "こちらの型として読みます"), "note": ("goes on", "続けます"),
               "allowed": ("reads empty as the contract says", "空を契約どおりに読みます")}

    @property
    def worth_showing(self) -> bool:
        """Anything beyond empty values the contract allows (opened_at: not opened)."""
        return any(f.action != "allowed" for f in self)

    def frame(self, language: str = "en") -> pd.DataFrame:
        import pandas as pd

        ja = language == "ja"
        return pd.DataFrame([(f.where, f.ja[0] if ja and f.ja[0] else f.found, self.ACTIONS[f.action][ja],
                              f.ja[1] if ja and f.ja[1] else f.todo) for f in self],
                            columns=self.HEADERS["ja" if ja else "en"])

    def _repr_html_(self) -> str:
        from matsuri.language import configured

        language = configured()
        title = ("What we found in the data, and what the template does about it" if language == "en"
                 else "データで見つかったことと、テンプレートの対応")
        return f"<p><b>{html.escape(title)}</b></p>{self.frame(language).to_html(index=False)}"

    def __str__(self) -> str:
        return "\n".join(f"- [{f.action}] {f.line()}" for f in self)

    __repr__ = __str__  # the notebook's plain-text output, and papermill's


def inspect(con: duckdb.DuckDBPyConnection, tables: Mapping[str, TableContract],
            sources: Mapping[str, tuple[str, str]], column_names: Mapping[str, str],
            zone: str) -> tuple[list[Presentation], Findings]:
    """Compare each table the contract names with the company's relation that stands for it.

    sources: our table -> (the company's name as shown, the relation's quoted qualified name).
    column_names: "our_table.our_column" -> the company's column name.
    """
    presentations, findings = [], Findings()
    for ours, contract in tables.items():
        shown, relation = sources[ours]
        types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {relation})").fetchall())
        view = Presentation(contract, relation)
        for column in contract.columns:
            theirs = view.names[column.name] = column_names.get(f"{ours}.{column.name}", column.name)
            where = _where(shown, theirs, ours, column.name)
            expression, problem = _read_as(con, relation, theirs, types[theirs], column, zone, where)
            if problem:
                findings.append(problem)
            view.select.append(f'{expression} AS "{column.name}"')
            if expression != f'"{theirs}"' or theirs != column.name:
                view.plain = False
        if shown != ours:
            view.plain = False
        unreadable = {f.where for f in findings if f.stops}
        findings.extend(f for f in _quality(con, view, shown, ours) if f.where not in unreadable)
        presentations.append(view)
    return presentations, findings


def _where(table: str, column: str, our_table: str, our_column: str) -> str:
    ours = f"{our_table}.{our_column}"
    return f"{table}.{column}" + ("" if f"{table}.{column}" == ours else f" (our {ours})")


def _read_as(con, relation: str, column: str, found: str, contract: ColumnContract, zone: str,
             where: str) -> tuple[str, Finding | None]:
    """The SQL expression that reads `column` as the contract's type, and a finding if needed."""
    quoted = f'"{column}"'
    kind, found_upper = contract.type, found.upper()
    numeric = found_upper in _NUMERIC or found_upper.startswith("DECIMAL")
    text = found_upper == "VARCHAR"
    if not kind or kind in ("text", "category"):
        return (quoted if (text or not kind) else f"CAST({quoted} AS VARCHAR)"), None
    if kind == "id":
        if numeric and found_upper in _INTEGERS or text:
            return quoted, None
        if found_upper == "UUID":
            return f"CAST({quoted} AS VARCHAR)", None
        return quoted, Finding(where, f"is {found}; ids must be integers or text", "stop",
                               "Make a view that CASTs it to BIGINT or VARCHAR.",
                               (f"{found} 型です。ID は整数か文字列である必要があります",
                                "BIGINT か VARCHAR に CAST するビューを作ってください。"))
    if kind == "timestamp":
        return _timestamp(con, relation, quoted, found_upper, numeric, text, zone, where)
    if kind == "boolean":
        if found_upper == "BOOLEAN":
            return quoted, None
        if numeric:
            return f"({quoted} <> 0)", None
        if text:
            cast = f"try_cast(nullif(trim({quoted}), '') AS BOOLEAN)"
            return cast, _unreadable(con, relation, quoted, cast, found, "BOOLEAN", where)
    if kind in ("integer", "number"):
        if numeric:
            return quoted, None
        if text:
            cast = f"try_cast(nullif(trim({quoted}), '') AS DOUBLE)"
            return cast, _unreadable(con, relation, quoted, cast, found, "a number", where)
    return quoted, Finding(where, f"is {found}; {TYPES[kind]} needed", "stop",
                           f"Make a view that CASTs it to {TYPES[kind]}.",
                           (f"{found} 型です。{kind} 型が必要です", f"{kind} 型に CAST するビューを作ってください。"))


_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
             "UBIGINT", "UHUGEINT"}
_NUMERIC = _INTEGERS | {"FLOAT", "DOUBLE", "REAL"}


def _timestamp(con, relation, quoted, found, numeric, text, zone, where) -> tuple[str, Finding | None]:
    local = f"'{zone}'"
    if found == "TIMESTAMP":
        return quoted, None
    if found in ("DATE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"):
        return f"CAST({quoted} AS TIMESTAMP)", None
    if found == "TIMESTAMP WITH TIME ZONE":
        return f"timezone({local}, {quoted})", None
    if numeric:
        biggest = con.execute(f"SELECT max(abs({quoted})) FROM {relation}").fetchall()[0][0] or 0
        divisor = 1_000_000 if biggest >= EPOCH_US else 1000 if biggest >= EPOCH_MS else 1
        unit, unit_ja = {1: ("seconds", "秒"), 1000: ("milliseconds", "ミリ秒"),
                         1_000_000: ("microseconds", "マイクロ秒")}[divisor]
        return (f"timezone({local}, to_timestamp({quoted} / {divisor}))",
                Finding(where, f"holds epoch {unit} ({found})", "cast",
                        f"Read as {zone} time; set time_zone to change the zone.",
                        (f"エポック{unit_ja}（{found}）です",
                         f"{zone} の時刻として読みます。タイムゾーンは time_zone で変えられます。")))
    if text:  # a value that names its zone is converted to the event's; others are local already
        value = f"nullif(trim({quoted}), '')"
        cast = (f"CASE WHEN regexp_matches({value}, ':[0-9]{{2}}(\\.[0-9]+)? ?(Z|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$') "
                f"THEN timezone({local}, try_cast({value} AS TIMESTAMPTZ)) "
                f"ELSE try_cast({value} AS TIMESTAMP) END")
        problem = _unreadable(con, relation, quoted, cast, found, "TIMESTAMP", where)
        return cast, problem or Finding(where, "holds dates as text", "cast",
                                        f"Read as {zone} time unless a value names its zone; "
                                        "set time_zone to change the zone.",
                                        ("日時が文字列で入っています",
                                         f"タイムゾーンが書かれていない値は {zone} の時刻として読みます。"
                                         "タイムゾーンは time_zone で変えられます。"))
    return quoted, Finding(where, f"is {found}; TIMESTAMP needed", "stop",
                           "Make a view with CAST(... AS TIMESTAMP).",
                           (f"{found} 型です。TIMESTAMP が必要です", "CAST(... AS TIMESTAMP) するビューを作ってください。"))


def _unreadable(con, relation, quoted, cast, found, needed, where) -> Finding | None:
    """A stop finding, with an example, if some non-empty value cannot be read as `needed`."""
    bad, example = con.execute(
        f"SELECT count(*), any_value({quoted}) FROM {relation} "
        f"WHERE nullif(trim(CAST({quoted} AS VARCHAR)), '') IS NOT NULL AND {cast} IS NULL").fetchall()[0]
    if not bad:
        return None
    return Finding(where, f"is {found}, and {bad:,} values (e.g. {example!r}) are not {needed}", "stop",
                   "Make a view that converts them (for dates, strptime(column, 'format')), "
                   "or fix the export.",
                   (f"{found} 型で、{bad:,} 個の値（例: {example!r}）が {needed} として読めません",
                    "値を変換するビューを作るか（日時なら strptime(列, '書式')）、エクスポートを直してください。"))


def _quality(con, view: Presentation, shown: str, ours: str) -> list[Finding]:
    """Missing values, duplicates and emptiness, counted on the table as our names present it."""
    contract = view.table
    body = f"SELECT {', '.join(view.select)} FROM {view.source}"
    required = [c.name for c in contract.columns if not c.nullable]
    counts = ", ".join([f'count(*) FILTER (WHERE "{c}" IS NULL)' for c in required] or ["0"])
    key = ", ".join(f'"{k}"' for k in contract.key)
    distinct = f"count(DISTINCT ({key}))" if key else "0"
    rows, distinct_keys, *nulls = con.execute(f"SELECT count(*), {distinct}, {counts} FROM ({body})").fetchall()[0]
    nulls = nulls[:len(required)]  # (a table with no required column counted one placeholder)
    findings = []

    def at(column: str) -> str:
        return _where(shown, view.names[column], ours, column)

    what = "rows to predict" if contract.holdout else "rows"
    if rows == 0:
        return [Finding(shown, f"is empty: no {what}", "stop",
                        "Point the template at the table that holds them (table_names), or fix the export.",
                        ("空です。" + ("予測する行がありません" if contract.holdout else "行がありません"),
                         "データのあるテーブルを table_names で指定するか、エクスポートを直してください。"))]
    optional = [c for c in contract.columns if c.nullable]
    if optional:
        counts = ", ".join(f'count(*) FILTER (WHERE "{c.name}" IS NULL)' for c in optional)
        empty = con.execute(f"SELECT {counts} FROM ({body})").fetchall()[0]
        findings += [Finding(at(c.name), f"is empty in {n:,} of {rows:,} rows ({n / rows:.1%})", "allowed",
                             f"Allowed: {c.meaning['en']}.",
                             (f"{rows:,} 行のうち {n:,} 行（{n / rows:.1%}）が空です", f"空でもかまいません（{c.meaning['ja']}）。"))
                     for c, n in zip(optional, empty, strict=True) if n and c.meaning]
    for column, missing in zip(required, nulls, strict=True):
        if not missing:
            continue
        share = f"{missing:,} of {rows:,} rows ({missing / rows:.1%})"
        empty_ja = f"{rows:,} 行のうち {missing:,} 行（{missing / rows:.1%}）が空です"
        if contract.holdout:
            findings.append(Finding(at(column), f"is empty in {share}", "stop",
                                    "Every row to predict needs it: fill it in the export, or leave "
                                    "those rows out of the holdout.",
                                    (empty_ja, "予測する行にはすべて必要です。エクスポートで埋めるか、"
                                               "その行をホールドアウトから外してください。")))
        else:
            findings.append(Finding(at(column), f"is empty in {share}", "drop",
                                    "Fill it in the export to keep those rows.",
                                    (empty_ja, "その行も使うには、エクスポートで値を埋めてください。")))
            view.where.append(f'"{column}" IS NOT NULL')
            view.plain = False
    if key and distinct_keys < rows:
        keys = _where(shown, ", ".join(view.names[k] for k in contract.key), ours, ", ".join(contract.key))
        extra = rows - distinct_keys
        if contract.holdout:
            findings.append(Finding(keys, f"repeats: {extra:,} duplicate ids among {rows:,} rows", "stop",
                                    "Each id must appear once in the rows to predict: deduplicate "
                                    "the export.",
                                    (f"重複しています: {rows:,} 行のうち {extra:,} 個の ID が重複",
                                     "予測する行では各 ID が 1 回だけ現れる必要があります。エクスポートの重複を除いてください。")))
        else:
            findings.append(Finding(keys, f"repeats: {extra:,} duplicate rows among {rows:,}", "keep one",
                                    "Deduplicate the export to choose which row counts.",
                                    (f"重複しています: {rows:,} 行のうち {extra:,} 行が重複",
                                     "どの行を使うか決めるには、エクスポートの重複を除いてください。")))
            view.distinct_on, view.plain = contract.key, False
    elif contract.holdout and rows < TINY_HOLDOUT:
        findings.append(Finding(shown, f"has only {rows} rows to predict", "note",
                                "Scores on so few rows say little; use a longer holdout period.",
                                (f"予測する行が {rows} 行しかありません",
                                 "この行数では得点からほとんど何も言えません。ホールドアウトの期間を長くしてください。")))
    if contract.history_days:
        findings.extend(_history(con, view, body, at))
    return findings


def _history(con, view: Presentation, body: str, at) -> list[Finding]:
    """A note when the table covers fewer days than the template learns from."""
    contract = view.table
    when = next(c.name for c in contract.columns if c.type == "timestamp" and not c.nullable)
    first, last = con.execute(f'SELECT min("{when}"), max("{when}") FROM ({body})').fetchall()[0]
    days = (last - first).days if first is not None else 0
    if days >= contract.history_days:
        return []
    parameter = contract.history_parameter
    return [Finding(at(when), f"covers {days} days ({first:%Y-%m-%d} to {last:%Y-%m-%d})" if first else "has no dates",
                    "note", f"The template learns from {contract.history_days} days of history: export a longer "
                    "period" + (f", or change {parameter} in the parameters cell." if parameter else "."),
                    (f"{days} 日分しかありません" + (f"（{first:%Y-%m-%d} から {last:%Y-%m-%d}）" if first else ""),
                     f"テンプレートは {contract.history_days} 日分の履歴から学習します。より長い期間を書き出してください"
                     + (f"。パラメータのセルの {parameter} でも変えられます。" if parameter else "。")))]


class ThemeTables(Mapping):
    """A template library's contract: its theme's `[data]` tables, read from the spec when first
    used (so importing the library reads no file). Each library's NEEDS is one of these."""

    def __init__(self, library: str):
        self.library = library
        self._tables: dict[str, TableContract] | None = None

    def _load(self) -> dict[str, TableContract]:
        if self._tables is None:
            from matsuri import theme_spec

            self._tables = theme_spec.for_library(self.library).data
        return self._tables

    def __getitem__(self, table: str) -> TableContract:
        return self._load()[table]

    def __iter__(self):
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def markdown(tables: Mapping[str, TableContract], language: str = "en") -> str:
    """The contract as a Markdown table: what a data team reads before mapping its own tables."""
    ja = language == "ja"
    head = ("| テーブル | 列 | 型 | 空でもよいか | 意味 |" if ja else "| table | column | type | may be empty | meaning |")
    lines = [head, "|---|---|---|---|---|"]
    for table in tables.values():
        for column in table.columns:
            empty = ("はい" if column.nullable else "いいえ") if ja else ("yes" if column.nullable else "no")
            lines.append(f"| `{table.name}` | `{column.name}` | {column.type} | {empty} | "
                         f"{column.meaning['ja' if ja else 'en']} |")
    return "\n".join(lines)
