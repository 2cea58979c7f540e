"""Every sentence a learner reads, in English and Japanese. Outcomes carry a key; this renders it.

Plain words on purpose: learners are sales, HR and PM staff, so no "DataFrame", "exception" or
"traceback". `{name}`-style fields are filled by `render`.
"""

from __future__ import annotations

import os

LANGUAGES = ("en", "ja")
LANG_ENV = "MATSURI_LANG"

CATALOG: dict[str, dict[str, str]] = {
    "correct": {
        "en": "Correct!",
        "ja": "正解です！",
    },
    "incorrect": {
        "en": "Not yet",
        "ja": "まだ正解ではありません",
    },
    "not_attempted_title": {
        "en": "Not answered yet",
        "ja": "まだ回答がありません",
    },
    "problem": {
        "en": "Cannot check",
        "ja": "確認できません",
    },
    "sql_problem": {
        "en": "The SQL did not run",
        "ja": "SQL を実行できませんでした",
    },
    "not_attempted": {
        "en": "Write your query in the SQL cell above (it keeps the result as `{var}`), run that "
              "cell, then run this check again.",
        "ja": "上の SQL セルにクエリを書いて実行してから（結果は `{var}` に入ります）、"
              "もう一度このチェックを実行してください。",
    },
    "not_a_table": {
        "en": "`{var}` should hold the table your SQL cell returned, but it holds {kind}. "
              "Run the SQL cell above again.",
        "ja": "`{var}` には SQL セルの結果の表が入るはずですが、今は {kind} が入っています。"
              "上の SQL セルをもう一度実行してください。",
    },
    "not_assigned": {
        "en": "Put your answer in `{var}` in the cell above (`{var} = …`), run that cell, then "
              "run this check again.",
        "ja": "上のセルで答えを `{var}` に入れて（`{var} = …`）実行してから、もう一度このチェックを"
              "実行してください。",
    },
    "not_a_value": {
        "en": "`{var}` should hold a number, a piece of text, a list or a table, but it holds {kind}.",
        "ja": "`{var}` には数値・文字列・リスト・表のどれかが入るはずですが、今は {kind} が入っています。",
    },
    "value_differs": {
        "en": "`{var}` is {got}, which is not the answer yet.",
        "ja": "`{var}` は {got} です。まだ正解ではありません。",
    },
    "not_checked_while_grading": {
        "en": "The check cell of this exercise did not run to the end while grading, so there was "
              "no answer to check. Make sure the notebook runs from top to bottom without errors.",
        "ja": "採点のときにこの問題のチェックセルが最後まで実行されなかったため、確認できる答えがありませんでした。"
              "ノートブックが上から順にエラーなく実行できるか確認してください。",
    },
    "not_a_figure": {
        "en": "`{var}` should hold your chart (the figure, or the axes that `.plot()` returns).",
        "ja": "`{var}` にはグラフ（figure か、`.plot()` が返す axes）を入れてください。",
    },
    "figure_kind": {
        "en": "The chart in `{var}` is a {got} chart; this question asks for a {want} chart.",
        "ja": "`{var}` のグラフは{got}ですが、この問題では{want}を求めています。",
    },
    "figure_labels": {
        "en": "Label both axes of the chart in `{var}` (set_xlabel and set_ylabel), so that a reader "
              "knows what each shows.",
        "ja": "`{var}` のグラフの両方の軸に名前を付けてください（set_xlabel と set_ylabel）。"
              "見る人が何を表すか分かるようにします。",
    },
    "not_a_model": {
        "en": "`{var}` should hold your trained model (for example a Pipeline after `.fit(…)`), "
              "but it holds {kind}.",
        "ja": "`{var}` には学習済みのモデル（例: `.fit(…)` した Pipeline）を入れてください。今は {kind} が入っています。",
    },
    "model_not_fitted": {
        "en": "The model in `{var}` has not been trained yet: call `.fit(X_train, y_train)` on it first.",
        "ja": "`{var}` のモデルはまだ学習していません。先に `.fit(X_train, y_train)` を実行してください。",
    },
    "model_leak": {
        "en": "The model in `{var}` was trained on {seen:,} rows, but the training rows are {want:,}. "
              "Train it on the training rows only: rows used for checking must stay unseen, or the "
              "check flatters the model (this is called leakage).",
        "ja": "`{var}` のモデルは {seen:,} 行で学習していますが、学習用データは {want:,} 行です。"
              "学習用の行だけで学習してください。検証用の行を学習に使うと評価が甘くなります（リーク）。",
    },
    "model_columns": {
        "en": "The model in `{var}` could not score the rows: {detail}. Train it on exactly the "
              "columns the question names.",
        "ja": "`{var}` のモデルで予測できませんでした: {detail}。問題文で指定した列だけで学習してください。",
    },
    "model_score": {
        "en": "On the validation rows your model scores {metric} {value:.3f}. A constant guess "
              "scores {base:.3f}; full marks from {top:.3f}.",
        "ja": "検証データでのあなたのモデルの {metric} は {value:.3f} です。一定の値を答えるだけなら "
              "{base:.3f}、満点は {top:.3f} 以上です。",
    },
    "model_graded": {
        "en": "On rows your model never saw it scores {metric} {value:.3f}: {share} of the marks "
              "(a constant guess scores {base:.3f}; full marks from {top:.3f}).",
        "ja": "モデルが見ていないデータでの {metric} は {value:.3f} で、得点は {share} です"
              "（一定の値なら {base:.3f}、満点は {top:.3f} 以上）。",
    },
    "chart_bar": {"en": "bar", "ja": "棒グラフ"},
    "chart_barh": {"en": "horizontal bar", "ja": "横棒グラフ"},
    "chart_line": {"en": "line", "ja": "折れ線グラフ"},
    "chart_scatter": {"en": "scatter", "ja": "散布図"},
    "duplicate_columns": {
        "en": "Your result has more than one column named {cols}. Give each column its own name "
              "with AS.",
        "ja": "結果に同じ名前の列が複数あります: {cols}。AS で列ごとに別の名前を付けてください。",
    },
    "missing_columns": {
        "en": "Your result is missing the column(s) {cols}.",
        "ja": "結果に次の列がありません: {cols}。",
    },
    "extra_columns": {
        "en": "Your result has column(s) the question does not ask for: {cols}.",
        "ja": "問題で求められていない列があります: {cols}。",
    },
    "columns_hint": {
        "en": "Name the columns exactly as the question says (use AS to rename).",
        "ja": "列名は問題文のとおりにしてください（AS で名前を変えられます）。",
    },
    "row_count": {
        "en": "Your result has {got} row(s); the answer has {want}.",
        "ja": "結果は {got} 行ですが、正解は {want} 行です。",
    },
    "column_values": {
        "en": "The values in column(s) {cols} differ from the answer.",
        "ja": "次の列の値が正解と違います: {cols}。",
    },
    "rows_mixed": {
        "en": "Each column holds the right values, but they are paired up into rows differently. "
              "Check how you group or join.",
        "ja": "各列の値は合っていますが、行の組み合わせが違います。GROUP BY や JOIN を見直してください。",
    },
    "order": {
        "en": "The rows are right but in a different order. Sort them as the question asks "
              "(by {cols}).",
        "ja": "行は合っていますが、並び順が違います。問題文のとおりに並べてください（{cols} で並べ替え）。",
    },
    "try_hint": {
        "en": "Run `{ex}.hint()` for a hint.",
        "ja": "ヒントは `{ex}.hint()` で表示できます。",
    },
    "hint_title": {
        "en": "Hint {n} of {total}",
        "ja": "ヒント {n} / {total}",
    },
    "hint_last": {
        "en": "That was the last hint.",
        "ja": "これが最後のヒントです。",
    },
    "no_hints": {
        "en": "There are no hints for this exercise.",
        "ja": "この問題にはヒントがありません。",
    },
    "solution_title": {
        "en": "Solution",
        "ja": "解答例",
    },
    "solution_disabled": {
        "en": "Solutions are not available in this course. Try `{ex}.hint()`, or ask a mentor.",
        "ja": "このコースでは解答例は公開されていません。`{ex}.hint()` を試すか、メンターに聞いてください。",
    },
    "activity_off": {
        "en": "Your activity log is off in {folder}, and what it held is deleted. To turn it on "
              "again, delete the file {off}.",
        "ja": "{folder} のアクティビティ記録を止め、これまでの記録を削除しました。再開するには "
              "{off} を削除してください。",
    },
    "activity_nothing": {
        "en": "Nothing is recorded here: this folder is not a learner's workspace.",
        "ja": "ここでは何も記録されていません（このフォルダーは受講者のワークスペースではありません）。",
    },
    "empty_query": {
        "en": "This SQL cell has no query yet: write your query below the comment line, then run "
              "the cell.",
        "ja": "この SQL セルにはまだクエリがありません。コメント行の下にクエリを書いて実行してください。",
    },
    "read_only": {
        "en": "The company warehouse is read-only: statements that change it (INSERT, UPDATE, "
              "DELETE, CREATE, DROP, ALTER, COPY, ATTACH) are refused, and the data stays as it "
              "was. Use SELECT to read.",
        "ja": "会社のデータベースは読み取り専用です。データを変更する文（INSERT, UPDATE, DELETE, "
              "CREATE, DROP, ALTER, COPY, ATTACH）は実行されず、データはそのまま残ります。"
              "読むときは SELECT を使ってください。",
    },
    "interrupted": {
        "en": "The query was stopped before it finished (it ran too long, or the stop button was "
              "pressed). Check for a join or a recursive query that never ends.",
        "ja": "クエリは終わる前に止められました（時間がかかりすぎたか、停止ボタンが押されました）。"
              "終わらない JOIN や再帰クエリがないか確認してください。",
    },
    "sql_error": {
        "en": "The database says:\n{detail}",
        "ja": "データベースからのメッセージ:\n{detail}",
    },
    "sql_error_original": {
        "en": "The database's own words:",
        "ja": "データベースの元のメッセージ（英語）:",
    },
    "key_missing": {
        "en": "The answer checks for this lesson ({file}) are not next to the notebook, so "
              "answers cannot be checked. Fetch the lesson again, or ask the organiser.",
        "ja": "このレッスンの採点用ファイル（{file}）がノートブックと同じ場所にないため、"
              "答えを確認できません。レッスンを取得し直すか、運営に連絡してください。",
    },
    "key_unreadable": {
        "en": "The answer checks for this lesson ({file}) cannot be read. Fetch the lesson again, "
              "or ask the organiser.",
        "ja": "このレッスンの採点用ファイル（{file}）を読み込めません。"
              "レッスンを取得し直すか、運営に連絡してください。",
    },
    "warehouse_missing": {
        "en": "The company warehouse could not be opened, so queries cannot run. Ask the "
              "organiser. ({detail})",
        "ja": "会社のデータベースを開けないため、クエリを実行できません。運営に連絡してください。"
              "（{detail}）",
    },
    "warehouse_changed": {
        "en": "Note: the company data changed after this lesson was released, so checks may "
              "disagree with correct answers. Ask the organiser to release the lesson again.",
        "ja": "注意: このレッスンの配布後に会社のデータが変わったため、正しい答えでも不正解と"
              "表示されることがあります。運営にレッスンの再配布を依頼してください。",
    },
    "from_sql": {
        "en": "The table in `{var}` may look right, but it must come from a SQL cell "
              "(`%%sql {var} <<`) to count.",
        "ja": "`{var}` の表は正しく見えても、SQL セル（`%%sql {var} <<`）の結果でなければ"
              "得点になりません。",
    },
    "rerun_differs": {
        "en": "Running your query again does not give the answer: was `{var}` changed after the "
              "SQL cell ran? The table must come from your query to count.",
        "ja": "クエリをもう一度実行すると正解になりません。SQL セルの実行後に `{var}` "
              "を書き換えていませんか？表がクエリの結果でなければ得点になりません。",
    },
    "templated": {
        "en": "The query for `{var}` uses {{{{ }}}} (Python inside SQL), which grading does not run. "
              "Write the query itself in the SQL cell.",
        "ja": "`{var}` のクエリは {{{{ }}}}（SQL の中の Python）を使っているため、採点では実行されません。"
              "SQL セルにクエリそのものを書いてください。",
    },
    "stopped": {
        "en": "Grading stopped this cell after {seconds} s (it did not finish, or did not stop "
              "when asked). The rest of the notebook was still graded.",
        "ja": "採点ではこのセルを {seconds} 秒で止めました（終わらないか、止める指示に応じません"
              "でした）。ノートブックの残りは採点されています。",
    },
    "crashed": {
        "en": "The notebook stopped while running this cell (too much memory?). The rest of the "
              "notebook was still graded.",
        "ja": "このセルの実行中にノートブックが止まりました（メモリの使いすぎ？）。"
              "ノートブックの残りは採点されています。",
    },
    "outside_notebook": {
        "en": "start() sets up a notebook: run it inside Jupyter.",
        "ja": "start() はノートブック用です。Jupyter の中で実行してください。",
    },
    "ready": {
        "en": "Ready: connected to the company warehouse (read-only). Exercises: {names}.",
        "ja": "準備完了: 会社のデータベースに接続しました（読み取り専用）。問題: {names}。",
    },
    "kind_nothing": {"en": "nothing", "ja": "何も"},
    "kind_text": {"en": "text", "ja": "文字列"},
    "kind_number": {"en": "a number", "ja": "数値"},
    "kind_other": {"en": "something else ({type})", "ja": "別のもの（{type}）"},
}


def language(preferred: str | None = None) -> str:
    """The learner's language: MATSURI_LANG wins, then the course setting, then English."""
    for choice in (os.environ.get(LANG_ENV), preferred):
        if choice and choice.strip().lower()[:2] in LANGUAGES:
            return choice.strip().lower()[:2]
    return "en"


def render(key: str, lang: str, **fields: object) -> str:
    entry = CATALOG[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**fields) if fields else text


def pick(texts: dict[str, object] | None, lang: str):
    """Course content given per language ({"en": …, "ja": …}): the learner's, else English."""
    if not texts:
        return None
    return texts.get(lang) or texts.get("en")


def listing(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)
