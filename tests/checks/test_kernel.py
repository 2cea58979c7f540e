"""Do instant checks behave in a real kernel the way a learner needs?

One kernel runs a scripted lesson session (each cell is a learner action); the tests read the
outputs. A second kernel runs in Japanese with solutions allowed, on a key computed for another
warehouse.
"""

from __future__ import annotations

import pytest
from checks_kit import PYTHON_TRACEBACK, errors, lesson_key, run_cells, text_of

from conftest import build_company
from matsuri.warehouse.query import table_checksums

SETUP = 'from matsuri.checks import start\nstart("sql-101", "01-reading-a-table")'
WEARABLES = "SELECT product_id, name, price FROM products WHERE category = 'wearable'"
CHURNED = ("SELECT user_id, signup_at, churned_at FROM users WHERE plan = 'premium' "
           "AND churned_at IS NOT NULL ORDER BY churned_at, user_id LIMIT 10")
TOP10 = "SELECT product_id, name, price FROM products ORDER BY price DESC, product_id LIMIT 10"


@pytest.fixture(scope="session")
def learner(tiny_company, tmp_path_factory):
    folder = tmp_path_factory.mktemp("learner")
    empty = tmp_path_factory.mktemp("nokey")
    lesson_key(tiny_company.warehouse, folder)
    before = table_checksums(tiny_company.warehouse)
    cells = {
        "no_key": f"import os\nos.chdir({str(empty)!r})\n{SETUP}",
        "setup": f"os.chdir({str(folder)!r})\n{SETUP}",
        "not_run": "q1.check()",
        "empty_sql": "%%sql q1_result <<\n-- Write your query here, then run this cell (Shift+Enter).",
        "after_empty": "q1.check()",
        "two_columns": "%%sql q1_result <<\nSELECT product_id, name FROM products",
        "check_columns": "q1.check()",
        "all_columns": "%%sql q1_result <<\n-- every product\nSELECT *\nFROM products  -- the whole list",
        "check_correct": "q1.check()",
        "eleven_rows": f"%%sql q4_result <<\n{TOP10.replace('LIMIT 10', 'LIMIT 11')}",
        "check_rows": "q4.check()",
        "top10_trailing_comment": f"%%sql q4_result <<\n{TOP10};\n-- done",
        "check_top10": "q4.check()",
        "reversed": "q4_result = q4_result.iloc[::-1]\nq4.check()",
        "doubled_price": f"%%sql q2_result <<\n{WEARABLES.replace('price FROM', 'price * 2 AS price FROM')}",
        "check_values": "q2.check()",
        "hint1": "q4.hint()",
        "hint2": "q4.hint()",
        "hint3": "q4.hint()",
        "hint4": "q4.hint()",
        "solution": "q4.solution()",
        "drop": "%%sql\nDROP TABLE users",
        "insert": "%%sql\nINSERT INTO products VALUES (999, 'x', 'book', 1, NULL)",
        "python_write": "__matsuri_warehouse__.execute('DELETE FROM orders')",
        "bad_sql": "%%sql\nSELECT * FROM nosuch_table",
        "by_hand": f"q6_result = __matsuri_warehouse__.sql({CHURNED!r}).df()\nq6.check()",
        "by_hand_hidden": "q6.verify()",
        "wrong_sql_then_fixed": ("%%sql q3_result <<\nSELECT product_id, name, launched_at FROM products LIMIT 3"),
        "overwrite": ("q3_result = __matsuri_warehouse__.sql('SELECT product_id, name, launched_at "
                      "FROM products ORDER BY launched_at DESC').df()\nq3.check()"),
        "overwrite_hidden": "q3.verify()",
        "honest_hidden": "q1.verify()",
        "learner_bug": "1 / 0",
    }
    outputs = run_cells(cells, folder, {"MATSURI_WAREHOUSE": str(tiny_company.warehouse),
                                        "MATSURI_LANG": "en"})
    return outputs, before, table_checksums(tiny_company.warehouse)


def message(learner, name: str) -> str:
    return text_of(learner[0][name])


def test_does_a_missing_key_get_a_plain_message(learner):
    assert "are not next to the notebook" in message(learner, "no_key")
    assert not any(t in message(learner, "no_key") for t in PYTHON_TRACEBACK)


def test_does_setup_say_it_is_ready(learner):
    text = message(learner, "setup")
    assert "Ready" in text and "read-only" in text and "`q6`" in text
    assert not errors(learner[0]["setup"])


@pytest.mark.parametrize("cell", ["not_run", "after_empty"])
def test_is_an_unanswered_exercise_not_attempted(learner, cell):
    (error,) = errors(learner[0][cell])
    assert error.ename == "NotAttempted"
    assert "run that cell" in message(learner, cell)


def test_does_an_empty_sql_cell_say_so(learner):
    (error,) = errors(learner[0]["empty_sql"])
    assert "no query yet" in message(learner, "empty_sql")
    assert error.ename == "NotAttempted"


def test_are_missing_columns_named(learner):
    text = message(learner, "check_columns")
    assert "missing the column(s) category, price, launched_at" in text
    assert "q1.hint()" in text
    box = "\n".join(errors(learner[0]["check_columns"])[0].traceback)  # as the error box shows it
    assert "`" not in box and "\x1b[1;34mcategory\x1b[22;39m" in box  # code in bold blue


def test_does_a_correct_answer_pass_quietly(learner):
    outputs = learner[0]["check_correct"]
    assert not errors(outputs)
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert "Correct!" in message(learner, "check_correct")
    assert "`SELECT *` returns every column" in message(learner, "check_correct")


def test_does_the_sql_cell_show_its_table(learner):
    shown = learner[0]["all_columns"][0]["data"]
    assert "text/html" in shown and "launched_at" in shown["text/plain"]


def test_is_a_comment_after_the_last_statement_harmless(learner):
    # jupysql alone returns an empty table for this cell; learners write such comments
    assert "Correct!" in message(learner, "check_top10")


def test_are_row_count_and_order_explained(learner):
    assert "has 11 row(s); the answer has 10" in message(learner, "check_rows")
    assert "in a different order" in message(learner, "reversed")


def test_does_a_value_difference_name_the_column_without_the_answer(learner, tiny_company):
    text = message(learner, "check_values")
    assert "column(s) price differ" in text
    from matsuri.warehouse.query import connect

    with connect(tiny_company.warehouse) as con:
        prices = [str(p) for (p,) in con.sql(WEARABLES.replace("product_id, name, price", "price")).fetchall()]
    assert not any(p in text for p in prices)


def test_do_hints_come_one_at_a_time(learner):
    assert "Hint 1 of 3" in message(learner, "hint1")
    assert "Hint 2 of 3" in message(learner, "hint2")
    assert "Hint 3 of 3" in message(learner, "hint3") and "last hint" in message(learner, "hint3")
    assert "Hint 3 of 3" in message(learner, "hint4")


def test_is_the_solution_withheld_unless_allowed(learner):
    text = message(learner, "solution")
    assert "not available" in text and "ORDER BY" not in text


@pytest.mark.parametrize("cell", ["drop", "insert", "python_write"])
def test_are_writes_refused_kindly_and_the_warehouse_unchanged(learner, cell):
    outputs, before, after = learner
    text = message(learner, cell)
    if cell == "python_write":  # plain Python on the connection: DuckDB's own refusal
        assert "read-only" in text
    else:
        assert "The company warehouse is read-only" in text
        assert not any(t in text for t in PYTHON_TRACEBACK)
    assert before == after


def test_does_a_failing_query_show_the_database_words_only(learner):
    text = message(learner, "bad_sql")
    assert "There is no table called nosuch_table" in text  # in plain words (sql_errors.py) …
    assert "pg_tables" not in text.split("The database's own words")[0]  # no system tables offered
    assert "The database's own words" in text and "Catalog Error" in text  # … the original below
    assert "ploomber" not in text.lower() and not any(t in text for t in PYTHON_TRACEBACK)


def test_does_the_hidden_test_catch_an_answer_not_made_by_sql(learner):
    assert "Correct!" in message(learner, "by_hand")
    assert "must come from a SQL cell" in message(learner, "by_hand_hidden")
    assert "Correct!" in message(learner, "overwrite")
    assert "was q3_result changed" in message(learner, "overwrite_hidden")
    assert not errors(learner[0]["honest_hidden"])


def test_are_learners_own_python_errors_left_alone(learner):
    (error,) = errors(learner[0]["learner_bug"])
    assert error.ename == "ZeroDivisionError"
    assert any("Traceback" in line or "---" in line for line in error.traceback)


@pytest.fixture(scope="session")
def japanese(tiny_company, tmp_path_factory):
    other = build_company(tmp_path_factory.mktemp("other-company"), seed=8)
    folder = tmp_path_factory.mktemp("learner-ja")
    lesson_key(other.warehouse, folder, solutions=True)  # released for another warehouse
    cells = {
        "setup": SETUP,
        "not_run": "q1.check()",
        "drop": "%%sql\nDROP TABLE users",
        "hint": "q4.hint()",
        "solution": "q4.solution()",
    }
    return run_cells(cells, folder, {"MATSURI_WAREHOUSE": str(tiny_company.warehouse),
                                     "MATSURI_LANG": "ja"})


def test_does_feedback_speak_japanese_when_asked(japanese):
    assert "準備完了" in text_of(japanese["setup"])
    assert "まだ回答がありません" in text_of(japanese["not_run"])
    assert "読み取り専用" in text_of(japanese["drop"])
    assert "ヒント 1 / 3" in text_of(japanese["hint"])


def test_is_a_changed_warehouse_pointed_out(japanese):
    assert "データが変わった" in text_of(japanese["setup"])


def test_is_the_solution_shown_when_the_course_allows_it(japanese):
    text = text_of(japanese["solution"])
    assert "解答例" in text and "ORDER BY price DESC, product_id" in text
