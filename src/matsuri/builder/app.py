"""The model builder as one ipywidgets app: in a JupyterLab notebook, or as a Voila page.

    from matsuri.builder.app import builder
    builder("push-open-rate")   # or builder(): the theme of this workspace's theme.toml

Top to bottom, labels above controls (it must fit a phone): the query, its columns as features,
the model, Run, the verdict and chart, then Save as notebook and Submit.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from matsuri.builder import models, notebook, run
from matsuri.builder.recipe import MODEL_NAMES, Recipe
from matsuri.errors import MatsuriError
from matsuri.language import LANGUAGES, page_language
from matsuri.templates import columns

TEXT = {
    "intro": {"ja": "SQL でデータを選び、特徴量とモデルを選んで「実行」を押すと、ベースラインと比べた結果が出ます。"
                    "Python は要りません。",
              "en": "Choose the data in SQL, tick features, pick a model and press Run to see how it compares "
                    "with the baseline. No Python needed."},
    "query": {"ja": "1. データ（SQL）", "en": "1. Data (SQL)"},
    "run_query": {"ja": "クエリを実行", "en": "Run query"},
    "reset": {"ja": "元のクエリに戻す", "en": "Reset query"},
    "features": {"ja": "2. 特徴量（モデルが学ぶ列）", "en": "2. Features (the columns the model learns from)"},
    "rows": {"ja": "{known:,} 行で学び、{todo:,} 行を予測します。", "en": "{known:,} rows to learn from, {todo:,} to predict."},
    "model": {"ja": "3. モデル", "en": "3. Model"},
    "rule": {"ja": "ルール（任意・SQL の式）: 書くと、結果にルールも並びます",
             "en": "Rule (optional, a SQL expression): when written, it is compared too"},
    "run": {"ja": "実行", "en": "Run"},
    "threshold": {"ja": "しきい値を追加", "en": "Add threshold"},
    "save": {"ja": "ノートブックとして保存", "en": "Save as notebook"},
    "submit": {"ja": "提出する", "en": "Submit"},
    "saved": {"ja": "保存しました: {name}（Run All で同じ結果になります）", "en": "Saved: {name} (Run All gives the same results)"},
    "first": {"ja": "まず「クエリを実行」を押してください。", "en": "Press Run query first."},
    "steps": {"ja": {"split": "検証用の行を取り分けています…", "final": "すべての行で学び直しています…"},
              "en": {"split": "Keeping validation rows aside…", "final": "Learning from every row…"}},
    "fitting": {"ja": "{name} を学習しています…", "en": "Fitting {name}…"},
}
RULE_EXAMPLE = "CASE WHEN {column} > 0 THEN 1 ELSE 0 END"


def workspace_theme(folder: Path | None = None) -> str:
    """The theme of the team workspace this notebook runs in (hackathon new copies theme.toml)."""
    spec = Path(folder or Path.cwd()) / "theme.toml"
    try:
        return tomllib.loads(spec.read_text(encoding="utf-8"))["id"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        raise MatsuriError(f"No theme.toml here ({spec.parent}): open the builder from your team's "
                           "folder, or name the theme: builder('push-open-rate').",
                           ja="ここには theme.toml がありません。チームのフォルダで開くか、"
                              "builder('push-open-rate') のようにテーマを指定してください。") from None


def builder(theme: str | None = None, lang: str | None = None, warehouse: str | None = None,
            folder: str | Path | None = None):
    """The app for `theme` (default: this workspace's). Saves and submits in `folder` (default: here)."""
    import ipywidgets as w

    from matsuri.templates.submit_button import hand_in, status_html

    lang = lang if lang in LANGUAGES else page_language()  # ?lang= in Voila, MATSURI_LANG, else ja
    folder = Path(folder or Path.cwd())
    theme = theme or workspace_theme(folder)
    t = {key: value[lang] for key, value in TEXT.items()}
    recipe = Recipe.start(theme)
    state: dict = {"data": None, "con": None}
    full = w.Layout(width="100%")

    sql = w.Textarea(value=recipe.sql, layout=w.Layout(width="100%", height="16em"))
    sql.add_class("matsuri-builder-sql")
    run_query = w.Button(description=t["run_query"], button_style="info", icon="table")
    reset = w.Button(description=t["reset"], icon="undo")
    message = w.HTML()
    message.add_class("matsuri-builder-message")
    rows_line = w.HTML()
    feature_box = w.VBox(layout=full)
    choice = w.Dropdown(options=[(models.TITLES[m][lang], m) for m in MODEL_NAMES], value="logistic",
                        layout=w.Layout(width="min(100%, 24em)"))
    choice.add_class("matsuri-builder-model")
    rule = w.Textarea(placeholder=RULE_EXAMPLE.format(column="…"), layout=w.Layout(width="100%", height="4em"))
    rule.add_class("matsuri-builder-rule")
    limit_column = w.Dropdown(options=[], layout=w.Layout(width="12em"))
    limit_operator = w.Dropdown(options=list(models.OPERATORS), value=">=", layout=w.Layout(width="5em"))
    limit_value = w.Text(placeholder="3", layout=w.Layout(width="8em"))
    add_limit = w.Button(description=t["threshold"], icon="plus", layout=w.Layout(width="auto"))
    add_limit.add_class("matsuri-builder-threshold")
    run_button = w.Button(description=t["run"], button_style="primary", icon="play")
    progress = w.IntProgress(min=0, max=1, layout=w.Layout(width="min(100%, 24em)", visibility="hidden"))
    step = w.HTML()
    figures = w.HTML()
    figures.add_class("matsuri-builder-result")
    chart = w.Output()
    save_button = w.Button(description=t["save"], icon="save")
    submit_button = w.Button(description=f"{t['submit']}", button_style="success", icon="paper-plane")
    for button, name in ((run_query, "load"), (reset, "reset"), (run_button, "run"), (save_button, "save"),
                         (submit_button, "submit")):
        button.add_class(f"matsuri-builder-{name}")
        button.layout.width = "auto"  # the whole label, in either language
    for button in (run_button, save_button, submit_button):
        button.disabled = True
    saved = w.HTML()
    submitted = w.HTML()
    submitted.add_class("matsuri-builder-submission")
    ticks: dict[str, tuple] = {}

    def say(error: MatsuriError | None = None) -> None:
        message.value = "" if error is None else (
            f"<div class='matsuri-builder-error' style='color:#cf222e;font-weight:bold'>"
            f"{_escape(error.text(lang))}</div>")

    def current() -> Recipe:
        chosen = {name: kind.value for name, (tick, kind) in ticks.items() if tick.value}
        return Recipe(theme, sql.value, chosen, choice.value, rule.value, recipe.validation_share, recipe.seed)

    def load(_=None) -> None:
        say()
        figures.value, saved.value = "", ""
        chart.clear_output()
        try:
            if state["con"] is None:
                from matsuri.templates.tables import open_warehouse

                state["con"] = open_warehouse(warehouse)
            data = run.load(state["con"], Recipe(theme, sql.value, model="baseline"))
        except MatsuriError as error:
            state["data"] = None
            feature_box.children, rows_line.value = (), ""
            for button in (run_button, save_button, submit_button):
                button.disabled = True
            say(error)
            return
        state["data"] = data
        previous = {name: (tick.value, kind.value) for name, (tick, kind) in ticks.items()}
        ticks.clear()
        lines = []
        for name, kind in data.candidates.items():
            was = previous.get(name)
            tick = w.Checkbox(value=was[0] if was else name in recipe.features, description=name, indent=False,
                              layout=w.Layout(width="14em"))
            tick.add_class("matsuri-builder-feature")
            kinds = w.Dropdown(options=[(columns.KIND_NAMES[k][lang], k) for k in columns.KINDS],
                               value=was[1] if was else kind, layout=w.Layout(width="9em"))
            ticks[name] = (tick, kinds)
            lines.append(w.HBox([tick, kinds], layout=w.Layout(flex_flow="row wrap")))
        feature_box.children = lines
        limit_column.options = list(data.candidates)
        rows_line.value = t["rows"].format(known=len(data.labelled), todo=len(data.to_predict))
        run_button.disabled = False

    def threshold(_) -> None:
        say()
        try:
            rule.value = models.with_threshold(rule.value, limit_column.value or "", limit_operator.value,
                                               limit_value.value)
        except MatsuriError as error:
            say(error)

    def restore(_) -> None:
        sql.value = recipe.sql
        load()

    def show_step(name: str) -> None:
        progress.value += 1
        text = t["steps"].get(name) or t["fitting"].format(name=models.TITLES[name][lang])
        step.value = f"<i>{_escape(text)}</i>"

    def go(_) -> None:
        say()
        figures.value, saved.value = "", ""
        chart.clear_output()
        if state["data"] is None:
            message.value = t["first"]
            return
        choices = current()
        run_button.disabled = True
        progress.layout.visibility = "visible"
        progress.value, progress.max = 0, len(run.methods(choices)) + 1
        try:
            data = run.load(state["con"], choices)
            result = run.validate(data, show_step)
        except MatsuriError as error:
            say(error)
            return
        finally:
            run_button.disabled = False
            progress.layout.visibility = "hidden"
            step.value = ""
        state["result"] = result
        figures.value = result.html(lang)
        with chart:
            from IPython.display import display

            display(result.chart(lang))
        save_button.disabled = submit_button.disabled = False

    def save(_=None) -> Path | None:
        try:
            choices = current()
            choices.check()
            path = notebook.save(choices, folder / notebook.SAVED_NAME, lang)
        except (MatsuriError, OSError) as error:
            say(error if isinstance(error, MatsuriError) else MatsuriError(str(error)))
            return None
        saved.value = _escape(t["saved"].format(name=path.name))
        return path

    def submit(_) -> None:
        path = save()
        if path is None:
            return
        submit_button.disabled = True

        def show(text: str, state_name: str = "") -> None:
            submitted.value = status_html(text, state_name)

        hand_in(path, show, lambda: setattr(submit_button, "disabled", False))

    run_query.on_click(load)
    reset.on_click(restore)
    add_limit.on_click(threshold)
    run_button.on_click(go)
    save_button.on_click(save)
    submit_button.on_click(submit)
    load()

    from matsuri import theme_spec

    title = theme_spec.get(theme).title[lang]
    heading = w.HTML(f"<h2 style='margin:0.2em 0'>{_escape(title)}</h2><p>{_escape(t['intro'])}</p>")
    label = lambda key: w.HTML(f"<b>{_escape(t[key])}</b>")  # noqa: E731
    app = w.VBox([
        heading, label("query"), sql, w.HBox([run_query, reset], layout=w.Layout(flex_flow="row wrap")),
        message, rows_line, label("features"), feature_box,
        label("model"), choice, w.HTML(_escape(t["rule"])), rule,
        w.HBox([limit_column, limit_operator, limit_value, add_limit], layout=w.Layout(flex_flow="row wrap")),
        w.HBox([run_button, progress], layout=w.Layout(flex_flow="row wrap", align_items="center")), step,
        figures, chart, w.HBox([save_button, submit_button], layout=w.Layout(flex_flow="row wrap")),
        saved, submitted,
    ], layout=w.Layout(width="100%", max_width="60em"))
    app.add_class("matsuri-builder")
    return app


def _escape(text: str) -> str:
    import html

    return html.escape(str(text))
