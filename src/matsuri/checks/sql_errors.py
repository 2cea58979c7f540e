"""The database's most common complaints, said in plain words (English and Japanese).

DuckDB's messages are precise but written for programmers, and only in English. Each entry here
recognises one kind of message by a pattern, takes the names it mentions (a column, a table, the
word near a syntax error) and says what it means and what to try. A message no entry recognises
is shown as the database wrote it. The original text is always kept: the check shows it below
the explanation, smaller (see `outcomes.SqlProblem`).

Entries are tried in order; the first match wins. Fields the pattern names are put into the text;
`{suggestion}` becomes a sentence of its own when the database proposed a name, else nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Gloss:
    name: str
    pattern: re.Pattern
    text: dict[str, str]


def _gloss(name: str, pattern: str, en: str, ja: str) -> Gloss:
    return Gloss(name, re.compile(pattern, re.S), {"en": en, "ja": ja})


CATALOG: list[Gloss] = [
    _gloss(
        "table_not_found",
        r"Table with name (?P<name>[^\s!]+) does not exist",
        "There is no table called `{name}`.{suggestion} Check the spelling; `SHOW TABLES` lists "
        "every table of the warehouse.",
        "`{name}` という名前のテーブルはありません。{suggestion}つづりを確かめてください。"
        "`SHOW TABLES` を実行すると、データウェアハウスのテーブルの一覧が表示されます。",
    ),
    _gloss(
        "function_not_found",
        r"Function with name (?P<name>[^\s!]+) does not exist",
        "There is no function called `{name}`.{suggestion} Check the spelling and the brackets.",
        "`{name}` という名前の関数はありません。{suggestion}つづりとカッコを確かめてください。",
    ),
    _gloss(
        "column_not_found",
        r"Referenced column \"(?P<name>[^\"]+)\" not found",
        "There is no column called `{name}` in the tables after `FROM`.{suggestion} Check the "
        "spelling, check that the table holding it is in `FROM` or joined, and put text values in "
        "single quotes (`'{name}'`), or the database takes them for a column name.",
        "`FROM` のテーブルには `{name}` という列がありません。{suggestion}つづりと、その列を持つ"
        "テーブルが `FROM` や `JOIN` に入っているかを確かめてください。文字列の値はシングルクォートで"
        "囲みます（`'{name}'`）。囲まないと、列の名前だと受け取られます。",
    ),
    _gloss(
        "column_not_in_table",
        r"Table \"(?P<table>[^\"]+)\" does not have a column named \"(?P<name>[^\"]+)\"",
        "The table `{table}` has no column called `{name}`.{suggestion} Check the spelling, and "
        "that `{table}.` names the table that holds this column.",
        "テーブル `{table}` には `{name}` という列がありません。{suggestion}つづりと、`{table}.` が"
        "この列を持つテーブルを指しているかを確かめてください。",
    ),
    _gloss(
        "ambiguous_column",
        r"Ambiguous reference to column name \"(?P<name>[^\"]+)\"",
        "`{name}` is a column of more than one of the joined tables, so the database does not know "
        "which one you mean. Put the table's alias in front of it, for example `u.{name}`.",
        "`{name}` は結合した複数のテーブルにある列なので、どれを指すのかデータベースには分かりません。"
        "`u.{name}` のように、テーブルの別名を前に付けてください。",
    ),
    _gloss(
        "group_by_missing",
        r"column \"(?P<name>[^\"]+)\" must appear in the GROUP BY clause",
        "`{name}` is in `SELECT` (or `HAVING`, `ORDER BY`) but is neither in `GROUP BY` nor inside "
        "an aggregate. With `GROUP BY`, every column you show must be a grouping column or an "
        "aggregate such as `count(…)`, `sum(…)` or `max(…)`: add `{name}` to `GROUP BY`, or "
        "aggregate it.",
        "`{name}` が `SELECT`（または `HAVING`、`ORDER BY`）にありますが、`GROUP BY` にも集計関数の中にも"
        "ありません。`GROUP BY` を使うときは、表示する列をすべて、グループ分けに使う列か、"
        "`count(…)`、`sum(…)`、`max(…)` などの集計にします。`{name}` を `GROUP BY` に加えるか、"
        "集計してください。",
    ),
    _gloss(
        "syntax_error",
        r"syntax error at or near \"(?P<near>[^\"]*)\"",
        "The database could not read the query at `{near}` (or just before it). Look there for a "
        "missing or extra comma, a missing keyword, an unclosed bracket or quote, or clauses in "
        "the wrong order (`SELECT … FROM … WHERE … GROUP BY … HAVING … ORDER BY … LIMIT`).",
        "データベースは、`{near}` のところ（またはその直前）でクエリを読めませんでした。"
        "そのあたりに、カンマの過不足、キーワードの抜け、閉じていないカッコや引用符、句の順番の誤り"
        "（`SELECT … FROM … WHERE … GROUP BY … HAVING … ORDER BY … LIMIT`）がないか確かめてください。",
    ),
    _gloss(
        "unterminated_text",
        r"unterminated (?:quoted )?string",
        "A text value is opened with a single quote but never closed: add the closing `'`.",
        "文字列の値がシングルクォートで始まっていますが、閉じられていません。閉じる `'` を加えてください。",
    ),
    _gloss(
        "conversion",
        r"Conversion Error: (?:.*?Could not convert string '(?P<value>[^']*)' to (?P<type>\w+)"
        r"|invalid (?P<what>\w+) field format: \"(?P<value2>[^\"]*)\")",
        "A value could not be turned into the type it is compared with or put into ({kind}). "
        "Compare numbers with numbers, and dates with dates written like `'2026-03-01'`; check "
        "the quotes and the column.",
        "値を、比べる相手や入れ先の型に変換できませんでした（{kind}）。数値は数値と、日付は "
        "`'2026-03-01'` のように書いた日付と比べてください。引用符と列を確かめてください。",
    ),
    _gloss(
        "type_mismatch",
        r"(?:No function matches the given name and argument types '(?P<call>[^']+)'"
        r"|Could not choose a best candidate function for the function call \"(?P<call2>[^\"]+)\")",
        "The function or operator `{call}` cannot work on values of these types (for example "
        "text cannot be summed, and a number cannot be added to text). Check that you used the "
        "right column, or convert the value with `CAST(… AS …)`.",
        "関数または演算子 `{call}` は、この型の値には使えません（たとえば文字列は合計できず、"
        "数値に文字列は足せません）。正しい列を使っているかを確かめるか、`CAST(… AS …)` で値を"
        "変換してください。",
    ),
]

SUGGESTION = {
    "did_you_mean": {"en": " Did you mean `{name}`?", "ja": "`{name}` のことではありませんか。"},
    "candidates": {"en": " Columns with a similar name: {names}.", "ja": "似た名前の列: {names}。"},
}
SYSTEM_NAMES = ("pg_", "duckdb_", "sqlite_", "information_schema")
DID_YOU_MEAN = re.compile(r"Did you mean \"(?P<name>[^\"]+)\"")
CANDIDATES = re.compile(r"Candidate bindings: :? ?(?P<names>[^\n]+)")


def _suggestion(detail: str, lang: str) -> str:
    found = DID_YOU_MEAN.search(detail)
    if found and found["name"].startswith(SYSTEM_NAMES):  # the database's own catalog: no help
        found = None
    if found:
        return SUGGESTION["did_you_mean"][lang].format(name=found["name"])
    found = CANDIDATES.search(detail)
    if found:
        names = re.findall(r"\"([^\"]+)\"", found["names"])[:4]
        if names:
            return SUGGESTION["candidates"][lang].format(names=", ".join(f"`{n}`" for n in names))
    return ""


def match(detail: str) -> tuple[Gloss, dict[str, str]] | None:
    """The first catalog entry recognising the database's message, with the names it mentions."""
    for gloss in CATALOG:
        found = gloss.pattern.search(detail)
        if found:
            return gloss, {k: v for k, v in found.groupdict().items() if v is not None}
    return None


def explain(detail: str, lang: str = "en") -> str | None:
    """The message in plain words in `lang` ("en" or "ja"), or None when no entry knows it."""
    found = match(detail or "")
    if found is None:
        return None
    gloss, fields = found
    lang = lang if lang in gloss.text else "en"
    fields.setdefault("call", fields.pop("call2", ""))
    kind = (f"'{fields['value']}' → {fields['type']}" if "value" in fields
            else f"'{fields.get('value2', '')}' → {fields.get('what', '')}")
    return gloss.text[lang].format(suggestion=_suggestion(detail, lang), kind=kind, **fields)
