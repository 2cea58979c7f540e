"""The builder's choices saved as an ordinary notebook: papermill parameters, then a few short
cells anyone can read. Run All (or the hackathon's runner) repeats the builder's run exactly."""

from __future__ import annotations

from pathlib import Path

import nbformat

from matsuri.builder.recipe import Recipe

PROSE = {
    "intro": {
        "ja": "# {title} — モデルビルダーで作ったモデル\n\nこのノートブックは、モデルビルダーで選んだ内容"
              "（SQL、特徴量、モデル）を保存したものです。**Run All** で、ビルダーと同じ検証結果と同じ提出ファイルが"
              "できます。下の「パラメータ」を書き換えれば、別の選び方も試せます。",
        "en": "# {title} — a model made with the model builder\n\nThis notebook holds the choices made in "
              "the model builder (the SQL, the features, the model). **Run All** repeats the builder's run: "
              "the same validation figures and the same prediction file. Change the parameters below to try "
              "other choices.",
    },
    "load": {
        "ja": "## 1. データを読み込む\n\nウェアハウスは読み取り専用です。結果が分かっている行で学び、"
              "結果が空（NULL）の行を予測します。",
        "en": "## 1. Load the data\n\nThe warehouse is read-only. Rows with a known outcome are learnt "
              "from; rows whose outcome is empty (NULL) are predicted.",
    },
    "validate": {
        "ja": "## 2. ベースラインと比べる\n\nホールドアウトと同じ切り方で検証用の行を取り分け、選んだモデルと"
              "ベースライン（ルールを書いた場合はルールも）を同じ行で採点します。",
        "en": "## 2. Compare with the baseline\n\nValidation rows are kept aside the way the holdout is cut; "
              "the chosen model, the baseline (and the rule, if one is written) are scored on the same rows.",
    },
    "write": {
        "ja": "## 3. 提出ファイルを書き出す\n\n結果が分かっているすべての行で学び直し、予測を書き出します。",
        "en": "## 3. Write the prediction file\n\nThe model learns again from every row with a known outcome "
              "and writes its predictions.",
    },
    "submit": {
        "ja": "## 提出\n保存（Ctrl+S）してからボタンを押すと、このノートブックがチームの提出として採点されます。",
        "en": "## Submit\nSave (Ctrl+S), then press the button: this notebook is run again and scored as "
              "your team's submission.",
    },
}


def _literal(value) -> str:
    """A readable Python literal: long SQL as a triple-quoted block when that is exact."""
    if isinstance(value, str) and "\n" in value and '"""' not in value and "\\" not in value:
        return '"""\\\n' + value.rstrip("\n") + '\n"""'
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{\n" + "".join(f"    {k!r}: {v!r},\n" for k, v in value.items()) + "}"
    return repr(value)


def parameters_cell(recipe: Recipe) -> str:
    lines = ["# Parameters (papermill may replace them): the builder's choices.",
             'warehouse = ""             # empty: the festival warehouse',
             'output_dir = "submission"  # where predictions.csv is written']
    lines += [f"{name} = {_literal(value)}" for name, value in recipe.parameters().items()]
    return "\n".join(lines)


def build(recipe: Recipe, lang: str = "ja") -> nbformat.NotebookNode:
    from matsuri import theme_spec

    title = theme_spec.get(recipe.theme).title[lang]
    md = nbformat.v4.new_markdown_cell
    code = nbformat.v4.new_code_cell
    parameters = code(parameters_cell(recipe))
    parameters.metadata["tags"] = ["parameters"]
    cells = [
        md(PROSE["intro"][lang].format(title=title)),
        parameters,
        code("from IPython.display import HTML, display\n\n"
             "from matsuri.builder import run\n"
             "from matsuri.builder.recipe import Recipe\n"
             "from matsuri.templates.tables import open_warehouse\n\n"
             f"LANG = {lang!r}\n"
             "recipe = Recipe(theme, sql, features, model, rule, validation_share, seed)"),
        md(PROSE["load"][lang]),
        code("con = open_warehouse(warehouse or None)\n"
             "data = run.load(con, recipe)\n"
             "print(f\"{len(data.labelled):,} rows to learn from, {len(data.to_predict):,} to predict\")\n"
             "data.labelled.head()"),
        md(PROSE["validate"][lang]),
        code("result = run.validate(data)\n"
             "display(HTML(result.html(LANG)))\n"
             "result.chart(LANG)"),
        md(PROSE["write"][lang]),
        code("written = run.write(data, output_dir, con)\nprint(written)"),
        md(PROSE["submit"][lang]),
        code("from matsuri.templates.submit_button import submit_button\n\nsubmit_button()"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["matsuri"] = {"builder": True, "lang": lang}
    return nb


def save(recipe: Recipe, path: str | Path, lang: str = "ja") -> Path:
    """Write the notebook beside the builder (replacing an earlier save of the same name)."""
    path = Path(path)
    scratch = path.with_name(f".{path.name}.saving")
    nbformat.write(build(recipe, lang), scratch)
    scratch.replace(path)
    return path


SAVED_NAME = "builder-model.ipynb"  # what "Save as notebook" writes beside the builder
LAUNCHER = {
    "ja": "# モデルビルダー\n\nPython を書かずにモデルを作ります。下のセルを実行するか（Shift+Enter）、"
          f"Voila で開いてください。保存したモデルは `{SAVED_NAME}` になります。",
    "en": "# Model builder\n\nMake a model without writing Python. Run the cell below (Shift+Enter), or "
          f"open this notebook with Voila. A saved model becomes `{SAVED_NAME}`.",
}


def launcher(theme: str, lang: str = "ja") -> nbformat.NotebookNode:
    """The notebook a team workspace gets: it only opens the app (for JupyterLab and Voila)."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(LAUNCHER[lang]),
        nbformat.v4.new_code_cell(f"from matsuri.builder.app import builder\n\nbuilder({theme!r})"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    return nb
