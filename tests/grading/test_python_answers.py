"""Are Python answers (`q1_answer = …`) released, checked and graded like SQL ones: decided on
the grader's side from the data the check cell exported, whatever the notebook did to its own
checks; prose kept in the course's language only?

A toy course written by the test (two languages, four exercises: a number, a table, a list, a
chart),
released, collected and graded through the real CLI.
"""

from __future__ import annotations

import copy
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import run_matsuri
from support.grading_kit import rows

COURSE, LESSON = "py-toy", "01-numbers"
SOLUTIONS = {
    "q1": "q1_answer = int(query('SELECT count(*) AS n FROM users')['n'][0])",
    "q2": "users = query('SELECT plan FROM users')\n"
          "q2_answer = users.groupby('plan').size().reset_index(name='n_users')",
    "q3": "q3_answer = sorted(query('SELECT DISTINCT plan FROM users')['plan'])",
    "q4": "counts = query('SELECT plan, count(*) AS n FROM users GROUP BY plan ORDER BY plan')\n"
          "ax = counts.set_index('plan')['n'].plot.bar()\n"
          "ax.set_xlabel('プラン')\nax.set_ylabel('ユーザー数')\nq4_answer = ax",
}
PUSH = ("SELECT extract(hour FROM d.delivered_at) AS hour, coalesce(r.rate, 0) AS user_rate{label} "
        "FROM {table} d LEFT JOIN (SELECT user_id, avg((opened_at IS NOT NULL)::INT) AS rate "
        "FROM push_deliveries WHERE delivered_at < '2025-12-01' GROUP BY 1) r USING (user_id)")
CUT = "2025-12-01"
MODEL = {  # q5: a trained model, judged on rows the learner never saw
    "metric": "roc_auc", "label": "opened", "id": "delivery_id",
    "validation": PUSH.format(label=", d.opened_at IS NOT NULL AS opened", table="push_deliveries")
                  + f" WHERE d.delivered_at >= '{CUT}'",
    "train_rows": f"SELECT count(*) FROM push_deliveries WHERE delivered_at < '{CUT}'",
    "hidden": PUSH.format(label="", table="holdout_push_deliveries").replace("SELECT ", "SELECT d.delivery_id, ", 1),
    "hidden_labels": "SELECT delivery_id, opened FROM push_open_labels",
}
TRAIN = ("from sklearn.compose import make_column_transformer\n"
         "from sklearn.linear_model import LogisticRegression\n"
         "from sklearn.pipeline import make_pipeline\n"
         "from sklearn.preprocessing import OneHotEncoder, StandardScaler\n"
         "rows = query(\"" + PUSH.format(label=", d.opened_at IS NOT NULL AS opened", table="push_deliveries")
         + " WHERE d.delivered_at {when} '" + CUT + "'\")\n"
         "model = make_pipeline(make_column_transformer((OneHotEncoder(handle_unknown='ignore'), {columns}), "
         "(StandardScaler(), ['user_rate'])), LogisticRegression(max_iter=1000))\n")
SOLUTIONS["q5"] = TRAIN.format(when="<", columns="['hour']") + \
    "q5_answer = model.fit(rows[['hour', 'user_rate']], rows['opened'])"
LEAKING = TRAIN.format(when="<>", columns="['hour']") + \
    "q5_answer = model.fit(rows[['hour', 'user_rate']], rows['opened'])"  # every row: the validation ones too
UNFITTED = TRAIN.format(when="<", columns="['hour']") + "q5_answer = model"
WEAK = TRAIN.format(when="<", columns="[]") + "q5_answer = model.fit(rows[['hour', 'user_rate']], rows['opened'])"
UNLABELLED = ("q4_answer = query('SELECT plan, count(*) AS n FROM users GROUP BY plan ORDER BY plan')"
              ".set_index('plan')['n'].plot.bar()")


def nbgrader(grade_id: str, **flags) -> dict:
    meta = {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3,
            "solution": False, "task": False} | flags
    return {"nbgrader": meta}


def toy_course(folder) -> None:
    (folder / "source" / LESSON).mkdir(parents=True)
    (folder / "exercises").mkdir()
    (folder / "course.toml").write_text(
        'title = { en = "Toy", ja = "おもちゃ" }\nlanguage = "ja"\nsolutions = false\n'
        f'cell_timeout = 20\nlessons = ["{LESSON}"]\n', encoding="utf-8")
    spec = 'title = { en = "Numbers", ja = "数" }\n'
    for name in SOLUTIONS:
        spec += (f'\n[[exercise]]\nname = "{name}"\nkind = "python"\n'
                 f'title = {{ en = "{name}", ja = "{name}" }}\nhints.en = ["Use query()."]\n'
                 'hints.ja = ["query() を使います。"]\nexplanation.en = "Well done."\n'
                 'explanation.ja = "よくできました。"\n')
        if name == "q5":
            spec += "estimator = { " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in MODEL.items()) + " }\n"
    (folder / "exercises" / f"{LESSON}.toml").write_text(spec, encoding="utf-8")
    cells = [new_markdown_cell("# 数を数える", metadata={"matsuri": {"lang": "ja"}}),
             new_markdown_cell("# Counting", metadata={"matsuri": {"lang": "en"}}),
             new_code_cell(f'from matsuri.checks import start\n\nstart("{COURSE}", "{LESSON}")',
                           metadata=nbgrader("setup", locked=True))]
    for name, code in SOLUTIONS.items():
        cells += [new_markdown_cell(f"{name} を答えてください。", metadata={"matsuri": {"lang": "ja"}}),
                  new_markdown_cell(f"Answer {name}.", metadata={"matsuri": {"lang": "en"}}),
                  new_code_cell(f"### BEGIN SOLUTION\n{code}\n### END SOLUTION",
                                metadata=nbgrader(f"{name}-code", solution=True)),
                  new_code_cell(f"{name}.check()", metadata=nbgrader(name, grade=True, locked=True, points=1))]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "source" / LESSON / f"{LESSON}.ipynb")


def filled(released, answers: dict[str, str], extra: dict[str, str] | None = None):
    """The released notebook with answer cells filled in, and code inserted after given cells."""
    nb = copy.deepcopy(released)
    cells = []
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if gid.endswith("-code") and gid[:-5] in answers:
            cell.source = answers[gid[:-5]]
        cells.append(cell)
        if extra and gid in extra:
            cells.append(new_code_cell(extra[gid]))
    nb.cells = cells
    return nb


@pytest.fixture(scope="module")
def graded(public_company, grading_identity, tmp_path_factory):
    courses = tmp_path_factory.mktemp("courses")
    toy_course(courses / COURSE)
    work = tmp_path_factory.mktemp("work")
    env = {"MATSURI_COURSES": str(courses), "MATSURI_LABELS": str(public_company.labels)}

    def cli(*args, **kw):
        return run_matsuri(["course", *args, "--workdir", str(work)], env=env, **kw)

    released_at = cli("release", COURSE, "--warehouse", str(public_company.warehouse))
    root = work / COURSE
    released = nbformat.read(root / "release" / LESSON / f"{LESSON}.ipynb", as_version=4)
    wrong = "q2_answer = query('SELECT plan, count(*) - 1 AS n_users FROM users GROUP BY plan')"
    learners = {
        "full": filled(released, SOLUTIONS),
        "blank": released,
        "partial": filled(released, {"q1": SOLUTIONS["q1"], "q2": wrong, "q4": UNLABELLED}),
        # the notebook makes its own checks say "correct" and rewrites its key: the grade is the grader's
        "patched": filled(released, {"q2": wrong}, extra={"setup": (
            "import os, pathlib\nfor e in (q1, q2, q3):\n    e.check = lambda: print('Correct!')\n"
            "for key in pathlib.Path(os.environ.get('MATSURI_CHECK_KEYS', '.')).glob('*.json'):\n"
            "    key.write_text('{}')")}),
        "endless": filled(released, SOLUTIONS | {"q2": "while True:\n    pass"}),
        "leaking": filled(released, SOLUTIONS | {"q5": LEAKING}),
        "unfitted": filled(released, SOLUTIONS | {"q5": UNFITTED}),
        "weak": filled(released, SOLUTIONS | {"q5": WEAK}),
    }
    submitted = tmp_path_factory.mktemp("submitted")
    for learner, nb in learners.items():
        (submitted / learner / LESSON).mkdir(parents=True)
        nbformat.write(nb, submitted / learner / LESSON / f"{LESSON}.ipynb")
    cli("collect", COURSE, "--from", str(submitted))
    cli("grade", COURSE, "--workers", "2", "--cell-timeout", "15", "--warehouse", str(public_company.warehouse))
    report = {r["student_id"]: r for r in rows(root / "exports" / "grading-report.csv")}
    return {"root": root, "released": released, "report": report, "release": released_at}


def test_the_released_lesson_keeps_one_language_and_no_answer(graded):
    texts = [c.source for c in graded["released"].cells if c.cell_type == "markdown"]
    assert texts[0] == "# 数を数える" and not any("Answer" in t or "Counting" in t for t in texts)
    code = "\n".join(c.source for c in graded["released"].cells if c.cell_type == "code")
    assert "query('SELECT count(*)" not in code and "groupby" not in code
    key = json.loads((graded["root"] / "release" / LESSON / "checks.json").read_text())
    assert [(e["name"], e["kind"], e["answer"]) for e in key["exercises"]] == [
        (f"q{i}", "python", f"q{i}_answer") for i in range(1, 6)]
    model = key["exercises"][4]["estimator"]
    assert set(model) == {"metric", "label", "validation", "train_rows", "tiers_validation"}  # no hidden rows
    assert model["tiers_validation"][0] < model["tiers_validation"][-1]
    assert key["exercises"][3]["figure"] == {"kind": "bar", "x_label": "プラン", "y_label": "ユーザー数", "title": ""}


@pytest.mark.parametrize(("learner", "score"), [
    ("full", 5.0), ("blank", 0.0), ("partial", 1.0), ("patched", 0.0), ("endless", 4.0),
    ("leaking", 4.0), ("unfitted", 4.0)])
def test_each_submission_gets_its_exact_score(graded, learner, score):
    assert float(graded["report"][learner]["score"]) == score, graded["report"][learner]


def test_a_weaker_model_earns_part_of_the_marks_and_is_told_why(graded):
    """Without the hour of sending, the model is better than a constant guess but short of the
    reference: two thirds of the marks (on the tiny company, seed 7)."""
    share = float(graded["report"]["weak"]["score"]) - 4  # the user's past open rate alone
    assert share == pytest.approx(2 / 3, abs=0.01), share  # the report shows two decimals
    text = (graded["root"] / "feedback" / "weak" / LESSON / f"{LESSON}.html").read_text(encoding="utf-8")
    assert "モデルが見ていないデータでの roc_auc" in text


def test_leakage_and_an_untrained_model_get_their_own_message(graded):
    leaking = (graded["root"] / "feedback" / "leaking" / LESSON / f"{LESSON}.html").read_text(encoding="utf-8")
    assert "リーク" in leaking
    unfitted = (graded["root"] / "feedback" / "unfitted" / LESSON / f"{LESSON}.html").read_text(encoding="utf-8")
    assert "まだ学習していません" in unfitted


def test_the_feedback_says_what_was_wrong_in_the_courses_language(graded):
    feedback = graded["root"] / "feedback" / "partial" / LESSON / f"{LESSON}.html"
    text = feedback.read_text(encoding="utf-8")
    assert "正解です" in text and "まだ正解ではありません" in text
    assert "両方の軸に名前を付けてください" in text  # q4: a bar chart without axis labels
    blank = (graded["root"] / "feedback" / "blank" / LESSON / f"{LESSON}.html").read_text(encoding="utf-8")
    assert "q1_answer" in blank and "まだ回答がありません" in blank
