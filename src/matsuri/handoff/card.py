"""The model card: what a handed-off model is for, how good it is against today's ways, its limits.

Managers and the data team read it before they rely on the component, so it says plainly what was
measured and what was not (a missing human baseline is named, not skipped). One document, Japanese
first then English, built once as a list of blocks and rendered twice: plain Markdown for the
repository, and a self-contained HTML page (inline CSS, readable on a phone and on a wide screen).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from matsuri.errors import UsageError
from matsuri.handoff.files import PORT

MARKDOWN, HTML = "model-card.md", "model-card.html"
NEEDED = ("theme", "title", "team", "kind", "id", "inputs", "metrics", "trained_on", "retrain")
EXAMPLE = {"integer": 1, "number": 1.0, "boolean": False, "string": "…"}
# what the scoring service takes: the rows to score
REQUEST = "rows"

TEXT = {
    "ja": {
        "card": "モデルカード", "purpose": "目的",
        "returns": {"probability": "このモデルは {id} ごとに、{label} となる確率（0〜1）を返します。",
                    "ranking": "このモデルは {id} ごとに、おすすめの順位（1 位から）を返します。",
                    "": "このモデルは {id} ごとに予測を返します。"},
        "owner": "担当と日付", "pair": ["項目", "内容"], "team": "チーム", "owner_who": "担当者",
        "submission": "提出", "created": "このカードの作成", "kit": "matsuri のバージョン",
        "data": "データと期間", "warehouse": "ウェアハウス", "build": "ビルド", "period": "期間",
        "rows": "学習に使った行数", "model_class": "モデル",
        "inputs": "入力と特徴量", "inputs_header": ["入力", "型", "空欄"], "yes": "可", "no": "不可",
        "types": {"integer": "整数", "number": "数値", "boolean": "真偽値 (true / false)",
                  "string": "文字列", "datetime": "日時"},
        "features": "モデルが自身の前処理の後に読む特徴量: {names}",
        "no_features": "モデルが自身の前処理の後に読む特徴量は記録されていません。",
        "metrics": "評価", "measured": "測定した場所: {where}。モデルと今のやり方（基準）を同じデータで比べました。",
        "who": "モデル／基準", "kind": "種類", "model": "このモデル",
        "kinds": {"model": "モデル", "naive": "単純な基準", "rule": "ルール", "human": "人の判断"},
        "arrows": "↑ は大きいほど良い指標、↓ は小さいほど良い指標です。",
        "beats_title": "基準を上回っているか", "versus": "{metric} {ours} 対 {theirs}（{verdict}）",
        "better": "上回る", "worse": "下回る", "tie": "同じ", "sep": "、",
        "all": "すべての指標で上回っています", "some": "一部の指標でだけ上回っています",
        "none": "上回っていません", "no_common": "共通の指標がなく、比べられません",
        "no_human": "人の判断: 測定していません。今この作業を手で行っている人に、どのくらいの頻度で"
                    "当たっているかを聞いてください。",
        "limits": "既知の限界",
        "one_period": "学習に使ったのは 1 つの期間（{from}〜{to}）のデータだけです。季節や施策が変われば、"
                      "当たり方も変わります。",
        "one_build": "学習に使ったのはウェアハウス {warehouse} の 1 つのビルド（{build}、規模 {scale}、"
                     "seed {seed}）だけです。ほかのデータでは確かめていません。",
        "rows_count": "学習に使った行数は {rows} 行です。その中でまれにしか起きない場合は、予測の根拠も少なくなります。",
        "drift": {"probability": "確率は時間とともにずれていきます。毎月再学習し、予測の平均と実際の割合を比べてください。",
                  "": "利用者の行動が変わると、予測は時間とともに当たらなくなります。毎月再学習してください。"},
        "only_seen": "モデルが知っているのは {names} だけです。ここにない事情（新しい施策、障害、"
                     "季節の行事など）は考慮できません。",
        "only_history": "リクエストで受け取るのは {id} だけです。モデルはウェアハウスにあるその履歴しか"
                        "知らず、履歴にない事情（新しい施策、障害、季節の行事など）は考慮できません。",
        "dates_seen": "{names} については {from}〜{to} の日時しか見ていません。この範囲の外でも同じ傾向"
                      "が続くとは限りません。",
        "never_empty": "学習データでは {names} に空欄がありませんでした。空欄を送ったときの結果は当てに"
                       "なりません。",
        "retrain": "再学習の方法",
        "retrain_how": "同じ提出物から、その時点のデータでモデルを作り直します（毎月をおすすめします）。",
        "call": "呼び出し方",
        "call_predict": "予測: POST /predict に、予測したい行を JSON で送ります。",
        "call_body": "{file} の例（入力ごとに 1 項目、1 行分）:",
        "call_health": "稼働確認: GET /health が応答すれば、サービスは動いています。",
        "call_batch": "まとめて予測（バッチ）: papermill で batch.ipynb を期間を指定して実行すると、"
                      "結果が表に書き込まれます。",
        "kpi": "KPI（ビジネス指標）",
        "kpi_why": "モデルを使い始めたら、週ごとに追ってほしい数字です。クエリは kpi.sql にあり、"
                   "ダッシュボードにそのまま貼り付けられます。",
        "kpi_header": ["KPI", "名前", "最新の週", "値"],
    },
    "en": {
        "card": "Model card", "purpose": "Purpose",
        "returns": {"probability": "For each {id}, the model returns the probability (0 to 1) that "
                                   "{label} is true.",
                    "ranking": "For each {id}, the model returns its recommendations in rank order "
                               "(1 first).",
                    "": "For each {id}, the model returns a prediction."},
        "owner": "Owner and dates", "pair": ["Item", "Value"], "team": "Team", "owner_who": "Owner",
        "submission": "Submission", "created": "This card written", "kit": "matsuri version",
        "data": "Data and period", "warehouse": "Warehouse", "build": "Build", "period": "Period",
        "rows": "Rows it learned from", "model_class": "Model",
        "inputs": "Inputs and features", "inputs_header": ["Input", "Type", "May be empty"],
        "yes": "yes", "no": "no",
        "types": {"integer": "whole number", "number": "number", "boolean": "true / false",
                  "string": "text", "datetime": "date and time"},
        "features": "What the model reads after its own preparation: {names}",
        "no_features": "What the model reads after its own preparation was not recorded.",
        "metrics": "How good it is", "measured": "Measured on {where}: the model and today's ways "
                                                 "of doing it (baselines), on the same data.",
        "who": "Model / baseline", "kind": "Kind", "model": "This model",
        "kinds": {"model": "model", "naive": "naive", "rule": "rule", "human": "people today"},
        "arrows": "↑: higher is better. ↓: lower is better.",
        "beats_title": "Does it beat each baseline?", "versus": "{metric} {ours} vs {theirs} ({verdict})",
        "better": "better", "worse": "worse", "tie": "tie", "sep": "; ",
        "all": "beats it on every metric", "some": "beats it on some metrics only",
        "none": "does not beat it", "no_common": "no metric in common to compare",
        "no_human": "People today (human baseline): not measured: ask the people who do this by "
                    "hand today how often they are right.",
        "limits": "Known limits",
        "one_period": "It learned from one period only ({from} to {to}); when seasons or campaigns "
                      "change, how well it predicts changes too.",
        "one_build": "It learned from one warehouse build only: {warehouse} (build {build}, scale "
                     "{scale}, seed {seed}); it has not been checked on other data.",
        "rows_count": "It learned from {rows} rows; cases that are rare among them rest on little "
                      "evidence.",
        "drift": {"probability": "Probabilities drift as behaviour changes: retrain monthly and "
                                 "compare the average prediction with the actual rate.",
                  "": "Predictions get worse as behaviour changes: retrain monthly."},
        "only_seen": "The model has only seen {names}; anything else (a new campaign, an outage, a "
                     "holiday) is invisible to it.",
        "only_history": "A request carries only {id}: the model knows nothing but its history in "
                        "the warehouse (not a new campaign, an outage or a holiday).",
        "dates_seen": "For {names} it has only seen dates from {from} to {to}; outside that range "
                      "the same patterns may not hold.",
        "never_empty": "{names} were never empty in the training data; results for empty values "
                       "cannot be trusted.",
        "retrain": "How to retrain",
        "retrain_how": "This rebuilds the model from the same submission on the data of the day "
                       "(monthly is recommended).",
        "call": "How to call it",
        "call_predict": "Predict: POST /predict with the rows to score as JSON.",
        "call_body": "An example {file} (one field per input, one row):",
        "call_health": "Health: GET /health answers while the service is up.",
        "call_batch": "Batch: run batch.ipynb with papermill for a period; it writes the results "
                      "to a table.",
        "kpi": "KPIs (business numbers)",
        "kpi_why": "The numbers to follow week by week once the model is in use. The queries are "
                   "in kpi.sql, ready to paste into a dashboard.",
        "kpi_header": ["KPI", "Name", "Latest week", "Value"],
    },
}


@dataclass(frozen=True)
class Code:
    """An identifier or command inside a sentence (shown as code, never escaped away)."""

    text: str




@dataclass(frozen=True)
class Block:
    kind: str                  # h1 h2 p ul table pre img links hr
    content: object            # text (str, Code or a tuple of them), a list of texts,
                               # (header, rows), (src, alt) or [(label, href)]


def write(component: dict, out: Path, kpis=None) -> tuple[Path, Path]:
    """Write model-card.md and model-card.html to `out`; `kpis` is the KpiSheet, if one was made."""
    missing = [key for key in NEEDED if key not in component]
    if missing:
        raise UsageError(f"The component description lacks {', '.join(missing)}: write it again "
                         "with `matsuri handoff`.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    halves = {lang: blocks(component, lang, kpis, out) for lang in TEXT}
    md = "\n\n".join(_markdown(b) for b in halves["ja"] + [Block("hr", "")] + halves["en"]) + "\n"
    title = f"{TEXT['ja']['card']}: {component['title']['ja']}"
    page = _page(title, {lang: "\n".join(_html(b, out) for b in bs) for lang, bs in halves.items()})
    _write(out / MARKDOWN, md)
    _write(out / HTML, page)
    return out / MARKDOWN, out / HTML


def blocks(c: dict, lang: str, kpis, out: Path) -> list[Block]:
    """One language's half of the card, section by section."""
    t = TEXT[lang]
    returns = t["returns"].get(c["kind"], t["returns"][""])
    doc = [Block("h1", f"{t['card']}: {c['title'][lang]}"),
           Block("h2", t["purpose"]),
           Block("p", c.get("description", {}).get(lang, "") or c["title"][lang]),
           Block("p", _fill(returns, id=Code(c["id"]), label=Code(c.get("label") or "?"))),
           Block("h2", t["owner"]),
           Block("table", (t["pair"], [
               [t["team"], (f"{c.get('team_name') or c['team']} (", Code(c["team"]), ")")],
               [t["owner_who"], c.get("owner", "")],
               [t["submission"], f"#{c.get('submission', '')} · {_when(c.get('submitted_at'))}"],
               [t["created"], _when(c.get("created"))],
               [t["kit"], c.get("kit_version", "")]]))]
    doc += _data(c, t) + _metrics(c, lang, t) + _limits(c, t)
    doc += [Block("h2", t["retrain"]), Block("p", t["retrain_how"]), Block("pre", c["retrain"])]
    doc += _calling(c, t)
    if kpis is not None:
        doc += _kpis(kpis, lang, t, out)
    return doc


def _data(c: dict, t: dict) -> list[Block]:
    trained = c["trained_on"]
    rows = [[t["warehouse"], str(trained.get("warehouse", ""))],
            [t["build"], f"{trained.get('build', '')} ({trained.get('scale', '')}, seed "
                         f"{trained.get('seed', '')})"],
            [t["period"], f"{trained.get('from', '')} – {trained.get('to', '')}"],
            [t["rows"], f"{trained.get('rows', 0):,}"],
            [t["model_class"], (c.get("model", {}).get("summary", ""), " (",
                                Code(c.get("model", {}).get("class", "")), ")")]]
    inputs = [[Code(i["name"]), t["types"].get(i["type"], i["type"]),
               t["yes"] if i.get("nullable") else t["no"]] for i in c["inputs"]]
    features = c.get("features") or []
    return [Block("h2", t["data"]), Block("table", (t["pair"], rows)),
            Block("h2", t["inputs"]), Block("table", (t["inputs_header"], inputs)),
            Block("p", _fill(t["features"], names=_codes(features)) if features
                  else t["no_features"])]


def _metrics(c: dict, lang: str, t: dict) -> list[Block]:
    """The model against every baseline on every metric, then whether it beats each."""
    theme, metrics = c["theme"], c["metrics"]
    model, baselines = metrics.get("model", {}), metrics.get("baselines", [])
    names = _metric_names(theme, [model, *[b.get("scores", {}) for b in baselines]])
    higher = {name: _higher_is_better(theme, name) for name in names}
    header = [t["who"], t["kind"], *[(Code(n), " ↑" if higher[n] else " ↓") for n in names]]
    rows = [[t["model"], t["kinds"]["model"], *[_shown(theme, n, model.get(n)) for n in names]]]
    verdicts = []
    for b in baselines:
        scores, kind = b.get("scores", {}), t["kinds"].get(b["kind"], b["kind"])
        rows.append([b["name"][lang], kind, *[_shown(theme, n, scores.get(n)) for n in names]])
        parts, words = [], []
        for n in (n for n in names if model.get(n) is not None and scores.get(n) is not None):
            ours, theirs = _shown(theme, n, model[n]), _shown(theme, n, scores[n])
            words.append("tie" if ours == theirs else
                         "better" if (model[n] > scores[n]) == higher[n] else "worse")
            parts.append(_fill(t["versus"], metric=Code(n), ours=ours, theirs=theirs,
                               verdict=t[words[-1]]))
        summary = (t["all"] if words and set(words) == {"better"} else
                   t["some"] if "better" in words else t["none"])
        joined = sum(((t["sep"], p) if i else (p,) for i, p in enumerate(parts)), ())
        verdicts.append((f"{b['name'][lang]} ({kind}): ", *((summary, " — ", *joined) if parts
                                                             else (t["no_common"],))))
    if not any(b.get("kind") == "human" for b in baselines):
        verdicts.append(t["no_human"])
    where = metrics.get("where", {}).get(lang, "")
    return [Block("h2", t["metrics"]), Block("p", t["measured"].format(where=where)),
            Block("table", (header, rows)), Block("p", t["arrows"]),
            Block("h2", t["beats_title"]), Block("ul", verdicts)]


def _limits(c: dict, t: dict) -> list[Block]:
    trained = c["trained_on"]
    period = {"from": trained.get("from", ""), "to": trained.get("to", "")}
    inputs = [i for i in c["inputs"] if i["name"] != c["id"]]
    items = [t["one_period"].format(**period),
             t["one_build"].format(**{k: trained.get(k, "") for k in ("warehouse", "build",
                                                                          "scale", "seed")}),
             t["rows_count"].format(rows=f"{trained.get('rows', 0):,}"),
             t["drift"].get(c["kind"], t["drift"][""]),
             _fill(t["only_seen"], names=_codes([i["name"] for i in inputs])) if inputs
             else _fill(t["only_history"], id=Code(c["id"]))]
    dates = [i["name"] for i in inputs if i["type"] == "datetime"]
    if dates:
        items.append(_fill(t["dates_seen"], names=_codes(dates), **period))
    required = [i["name"] for i in inputs if not i.get("nullable")]
    if required:
        items.append(_fill(t["never_empty"], names=_codes(required)))
    return [Block("h2", t["limits"]), Block("ul", items)]


def _calling(c: dict, t: dict) -> list[Block]:
    real = c.get("examples") or []  # a row of the theme's own data, when the pack has one
    row = real[0] if real else {i["name"]: _example(i, c["trained_on"]) for i in c["inputs"]}
    body = json.dumps({REQUEST: [row]}, ensure_ascii=False, indent=2)
    start, end = _next_month(c["trained_on"].get("to"))
    host = f"http://localhost:{PORT}"
    return [Block("h2", t["call"]),
            Block("p", t["call_predict"]),
            Block("pre", f"curl -s -X POST {host}/predict \\\n"
                         "  -H 'Content-Type: application/json' -d @request.json"),
            Block("p", _fill(t["call_body"], file=Code("request.json"))),
            Block("pre", body),
            Block("p", t["call_health"]),
            Block("pre", f"curl -s {host}/health"),
            Block("p", t["call_batch"]),
            Block("pre", "papermill batch.ipynb batch-run.ipynb \\\n"
                         f"  -p start {start} -p end {end} \\\n"
                         "  -p output scores.duckdb -p output_table predictions")]


def _kpis(kpis, lang: str, t: dict, out: Path) -> list[Block]:
    rows = [[x.kpi.title[lang], Code(x.kpi.name), str(x.week), x.shown] for x in kpis.latest.values()]
    links = [(label, _relative(path, out)) for label, path in
             (("kpi.png", kpis.png), ("kpi.csv", kpis.csv), ("kpi.sql", kpis.sql))]
    return [Block("h2", t["kpi"]), Block("p", t["kpi_why"]),
            Block("table", (t["kpi_header"], rows)),
            Block("img", (_relative(kpis.png, out), t["kpi"])),
            Block("links", links)]


def _fill(template: str, **values) -> tuple:
    """A sentence whose {placeholders} may be code or lists of code, as inline pieces."""
    pieces = re.split(r"\{(\w+)\}", template)
    return tuple(values[p] if i % 2 else p for i, p in enumerate(pieces) if p)


def _metric_names(theme: str, scores: list[dict]) -> list[str]:
    """Every metric any row has, in the theme spec's order first."""
    from matsuri import theme_spec

    spec = theme_spec.all_themes().get(theme)
    order = [m.name for m in spec.metrics] if spec else []
    seen = [n for s in scores for n in s]
    return [n for n in order if n in seen] + list(dict.fromkeys(n for n in seen if n not in order))


def _higher_is_better(theme: str, name: str) -> bool:
    from matsuri import metrics, theme_spec

    spec = theme_spec.all_themes().get(theme)
    for m in spec.metrics if spec else ():
        if m.name == name:
            return m.higher_is_better
    entry = metrics.METRICS.get(re.sub(r"@\d+$", "@k", name))
    return entry.higher_is_better if entry else True


def _shown(theme: str, metric: str, value) -> str:
    from matsuri import theme_spec

    return "—" if value is None else theme_spec.shown(theme, metric, value)


def _example(field: dict, trained: dict):
    if field["type"] == "datetime":
        return f"{trained.get('to') or '2026-04-01'}T09:00:00"
    return EXAMPLE.get(field["type"], "…")


def _next_month(last) -> tuple[str, str]:
    """[start, end) of the 30 days after the training period: a batch run's example."""
    try:
        start = dt.date.fromisoformat(str(last)[:10]) + dt.timedelta(days=1)
    except ValueError:
        start = dt.date.today()
    return start.isoformat(), (start + dt.timedelta(days=30)).isoformat()


def _codes(names: list[str]) -> tuple:
    pieces: list = []
    for i, name in enumerate(names):
        pieces += ([", "] if i else []) + [Code(name)]
    return tuple(pieces)


def _when(text) -> str:
    if not text:
        return ""
    try:
        when = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return str(text)
    zone = "" if when.utcoffset() is None else (" UTC" if not when.utcoffset() else when.strftime(" %z"))
    return when.strftime("%Y-%m-%d %H:%M") + zone


def _relative(path: Path, out: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), out.resolve())).as_posix()


# --- Markdown: plain text, every special character of free text escaped

def _md_text(text: str) -> str:
    escaped = re.sub(r"([\\`*_\[\]<>|~])", r"\\\1", str(text)).replace("\n", " ")
    return re.sub(r"^(\s*)([#+-]|\d+\.)(?=\s)", r"\1\\\2", escaped)  # not a heading or a list


def _md_inline(piece) -> str:
    if isinstance(piece, Code):
        tick = "``" if "`" in piece.text else "`"
        return f"{tick}{piece.text}{tick}"
    if isinstance(piece, tuple | list):
        return "".join(_md_inline(p) for p in piece)
    return _md_text(piece)


def _markdown(block: Block) -> str:
    k, c = block.kind, block.content
    if k == "h1":
        return "# " + _md_inline(c)
    if k == "h2":
        return "## " + _md_inline(c)
    if k == "hr":
        return "---"
    if k == "p":
        return _md_inline(c)
    if k == "ul":
        return "\n".join("- " + _md_inline(item) for item in c)
    if k == "table":
        header, rows = c
        lines = ["| " + " | ".join(_md_inline(h) for h in header) + " |",
                 "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(_md_inline(x) for x in r) + " |" for r in rows])
    if k == "pre":
        fence = "~~~~" if "```" in c else "```"
        return f"{fence}\n{c}\n{fence}"
    if k == "img":
        return f"![{_md_text(c[1])}]({c[0]})"
    if k == "links":
        return "\n".join(f"- [{_md_text(label)}]({href})" for label, href in c)
    raise ValueError(f"unknown block {k}")


# --- HTML: every piece of text escaped, one page with its own style

def _html_inline(piece) -> str:
    if isinstance(piece, Code):
        return f"<code>{html.escape(piece.text)}</code>"
    if isinstance(piece, tuple | list):
        return "".join(_html_inline(p) for p in piece)
    return html.escape(str(piece))


def _html(block: Block, out: Path) -> str:
    k, c = block.kind, block.content
    if k in ("h1", "h2", "p"):
        return f"<{k}>{_html_inline(c)}</{k}>"
    if k == "ul":
        return "<ul>" + "".join(f"<li>{_html_inline(item)}</li>" for item in c) + "</ul>"
    if k == "table":
        header, rows = c
        head = "".join(f"<th>{_html_inline(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{_html_inline(x)}</td>" for x in r) + "</tr>"
                       for r in rows)
        return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    if k == "pre":
        return f"<pre><code>{html.escape(c)}</code></pre>"
    if k == "img":
        src, alt = c
        path = out / src
        if path.is_file():   # inline, so the page stays whole when mailed or moved
            src = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        return (f'<p><a href="{html.escape(c[0])}"><img src="{html.escape(src)}" '
                f'alt="{html.escape(alt)}"></a></p>')
    if k == "links":
        return "<ul>" + "".join(f'<li><a href="{html.escape(href)}">{html.escape(label)}</a></li>'
                                for label, href in c) + "</ul>"
    raise ValueError(f"unknown block {k}")


STYLE = """
*{box-sizing:border-box}
body{margin:0;background:#fafafa;color:#1f2328;line-height:1.75;overflow-wrap:anywhere;
 font-family:system-ui,-apple-system,"Hiragino Sans","Noto Sans CJK JP","Yu Gothic",sans-serif}
main{max-width:60rem;margin:0 auto;padding:1rem 1.25rem 3rem;background:#fff}
nav{font-size:.9rem;text-align:right}
h1{font-size:1.6rem;line-height:1.4;margin:1.2rem 0 .8rem}
h2{font-size:1.2rem;margin:2rem 0 .6rem;padding-bottom:.2rem;border-bottom:1px solid #d0d7de}
.scroll{overflow-x:auto;margin:.5rem 0}
table{border-collapse:collapse;font-size:.95rem}
th,td{border:1px solid #d0d7de;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f5f7;white-space:nowrap}
td{overflow-wrap:normal;min-width:5.5em}
code{font-family:ui-monospace,"SFMono-Regular",Menlo,monospace;font-size:.9em;background:#f3f5f7;
 padding:.05rem .25rem;border-radius:3px}
pre{overflow-x:auto;background:#f6f8fa;padding:.75rem;border-radius:6px;line-height:1.5}
pre code{background:none;padding:0;overflow-wrap:normal}
img{max-width:100%;height:auto}
hr{margin:3rem 0;border:0;border-top:3px double #d0d7de}
@media (max-width:480px){main{padding:.75rem}h1{font-size:1.35rem}}
"""


def _page(title: str, halves: dict[str, str]) -> str:
    return ("<!doctype html>\n"
            '<html lang="ja">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
            '<nav><a href="#ja">日本語</a> · <a href="#en">English</a></nav>\n'
            f'<section id="ja" lang="ja">\n{halves["ja"]}\n</section>\n<hr>\n'
            f'<section id="en" lang="en">\n{halves["en"]}\n</section>\n'
            "</main>\n</body>\n</html>\n")


def _write(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
