"""Does a template find the company's tables under their own names, and say clearly what is missing?"""

from __future__ import annotations

import duckdb
import pytest

from matsuri.errors import NotFound, UsageError
from matsuri.templates import push
from matsuri.templates.tables import open_warehouse, read

from .conftest import renamed_copy


def test_renamed_tables_read_exactly_like_the_originals(tiny_company, tmp_path):
    copy, table_names, column_names = renamed_copy(tiny_company.warehouse, tmp_path, "push-open-rate")
    with open_warehouse(copy, push.NEEDS, table_names, column_names) as con:
        renamed = read(con, push.LOAD_SQL)
    with open_warehouse(tiny_company.warehouse, push.NEEDS) as con:
        original = read(con, push.LOAD_SQL)
    assert len(renamed) > 1000
    assert renamed.equals(original)


def test_the_warehouse_stays_read_only_through_the_views(tiny_company, tmp_path):
    copy, table_names, column_names = renamed_copy(tiny_company.warehouse, tmp_path, "push-open-rate")
    with open_warehouse(copy, push.NEEDS, table_names, column_names) as con:
        with pytest.raises(UsageError, match="read-only"):
            read(con, "DELETE FROM acme_push_deliveries")
    with duckdb.connect(str(copy), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM acme_push_deliveries").fetchone()[0] > 1000
        views = con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone()[0]
    assert views == 0, "the renaming views live in memory only"


def test_a_missing_table_names_the_table_and_the_parameter_to_set(tiny_company, tmp_path):
    copy, _, column_names = renamed_copy(tiny_company.warehouse, tmp_path, "push-open-rate")
    with pytest.raises(NotFound) as error:
        open_warehouse(copy, push.NEEDS, {}, column_names)
    message = str(error.value)
    assert "no table 'push_notifications'" in message and "acme_push_notifications" in message
    assert "table_names" in message


def test_a_missing_column_lists_the_columns_that_exist(tiny_company):
    with pytest.raises(NotFound) as error:
        open_warehouse(tiny_company.warehouse, push.NEEDS, {}, {"push_deliveries.opened_at": "open_time"})
    message = str(error.value)
    assert "opened_at (looked for 'open_time')" in message and "delivered_at" in message


@pytest.mark.parametrize("tables, columns, expected", [
    ({"push_delivery": "x"}, {}, "table_names mentions 'push_delivery'"),
    ({}, {"push_deliveries.opened": "x"}, "column_names has the key 'push_deliveries.opened'"),
    ({}, {"opened_at": "x"}, "Keys look like 'table.column'"),
])
def test_a_typo_in_the_parameters_is_refused_before_anything_runs(tiny_company, tables, columns, expected):
    with pytest.raises(UsageError, match=expected):
        open_warehouse(tiny_company.warehouse, push.NEEDS, tables, columns)


def test_no_warehouse_says_how_to_build_one(tmp_path):
    with pytest.raises(NotFound, match="matsuri data build"):
        open_warehouse(tmp_path / "nowhere.duckdb", push.NEEDS)
