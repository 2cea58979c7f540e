"""The data cards and the organiser note stay true to the warehouse they describe."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from matsuri.warehouse import query, schema, signals

DATASETS = Path(__file__).resolve().parents[2] / "datasets"
CARDS = DATASETS / "cards"
SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.S)
COLUMN_ROW = re.compile(r"^\| `(\w+)` \| (\w+) \|", re.M)


def sql_blocks(path: Path) -> list[str]:
    return SQL_BLOCK.findall(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("table", list(schema.WAREHOUSE))
def test_card_lists_every_column_with_its_type(table):
    """Does each table's card document exactly its columns, with the DuckDB types of the schema?"""
    card = CARDS / f"{table}.md"
    assert card.is_file(), f"no data card for table {table}: add {card.relative_to(DATASETS.parent)}"
    documented = dict(COLUMN_ROW.findall(card.read_text(encoding="utf-8")))
    assert documented == dict(schema.WAREHOUSE[table])


def test_no_card_for_a_table_that_does_not_exist():
    assert {p.stem for p in CARDS.glob("*.md")} == set(schema.WAREHOUSE)


@pytest.mark.parametrize("card", sorted(CARDS.glob("*.md")), ids=lambda p: p.stem)
def test_card_examples_run_on_the_warehouse(card, tiny_company):
    """Does every example query in a card run, read-only, and return rows?"""
    blocks = sql_blocks(card)
    assert 2 <= len(blocks) <= 3, f"{card.name} should have 2-3 example queries"
    with query.connect(tiny_company.warehouse) as con:
        for sql in blocks:
            rows = query.run(con, sql).fetchall()
            assert rows, f"{card.name}: example returned no rows:\n{sql}"


def test_readme_indexes_every_card_and_explains_the_holdouts():
    readme = (DATASETS / "README.md").read_text(encoding="utf-8")
    for table in schema.WAREHOUSE:
        assert f"(cards/{table}.md)" in readme, f"README does not link the {table} card"
    holdouts = readme.split("## Hackathon holdouts", 1)[1]
    for theme in ("push-open-rate", "call-keywords", "product-ordering", "churn"):
        assert f"`{theme}`" in holdouts
    for table in schema.LABELS:
        if table != "build_info":
            assert f"`{table}" in holdouts, f"README does not say where {table} comes from"


def test_readme_row_counts_match_the_tiny_scale(tiny_company):
    """Tables whose size is fixed by the scale (not the seed) have the counts the README gives."""
    readme = (DATASETS / "README.md").read_text(encoding="utf-8")
    with query.connect(tiny_company.warehouse) as con:
        for table in ("users", "push_notifications", "products", "accounts", "sales_reps",
                      "sales_calls", "holdout_sales_calls"):
            count = con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            assert f"| {table} | {count:,} |" in readme


def test_organiser_note_names_every_planted_phrase():
    note = (DATASETS / "ORGANISERS.md").read_text(encoding="utf-8")
    for phrase in signals.CALL_PHRASES:
        row = next((line for line in note.splitlines() if line.startswith(f"| {phrase.keyword} |")), None)
        assert row, f"ORGANISERS.md has no table row for the keyword {phrase.keyword}"
        effect = "0" if phrase.effect == 0 else f"{phrase.effect:+.1f}".replace("-", "−")
        share = f"{round(phrase.rate * 100)} %"
        assert row.endswith(f"| {phrase.sentence} | {phrase.kind} | {effect} | {share} |"), row


def test_organiser_note_queries_run_with_the_labels(tiny_company):
    """Do the organiser's measurement queries run on a build with its labels store attached?"""
    blocks = sql_blocks(DATASETS / "ORGANISERS.md")
    assert len(blocks) >= 6
    with duckdb.connect(str(tiny_company.warehouse), read_only=True) as con:
        con.execute(f"ATTACH '{tiny_company.labels}' AS lab (READ_ONLY)")
        for sql in blocks:
            assert con.sql(sql).fetchall(), f"organiser query returned no rows:\n{sql}"
