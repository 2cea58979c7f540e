"""The awards report: one self-contained HTML page (inline CSS, charts as embedded PNG).

Nothing in it is fetched from elsewhere, so it opens the same on the meeting-room laptop with no
network. Every value from the event (team names, notes) is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
import os
from html import escape
from pathlib import Path

from matsuri.hackathon import awards, charts, leaderboard
from matsuri.hackathon.event import Event
from matsuri.theme_spec import shown

CSS = """
body{font-family:"Noto Sans CJK JP","IPAexGothic","Hiragino Sans",sans-serif;margin:0;background:#f6f4ef;color:#1d2433}
header{background:#003d5b;color:#fff;padding:28px 48px}header h1{margin:0 0 6px;font-size:2.1em}
main{padding:24px 48px;max-width:1100px}section{margin-bottom:36px}
h2{border-bottom:3px solid #d1495b;padding-bottom:4px}
.podium{display:flex;gap:18px;flex-wrap:wrap}.podium div{flex:1;min-width:200px;background:#fff;border-radius:10px;padding:16px 20px;box-shadow:0 1px 4px #0002}
.podium .p1{border-top:8px solid #d4af37}.podium .p2{border-top:8px solid #a8a9ad}.podium .p3{border-top:8px solid #b87333}
.podium b{font-size:1.4em;display:block}
table{border-collapse:collapse;width:100%;background:#fff}th,td{padding:6px 10px;border-bottom:1px solid #ddd;text-align:left}
th{background:#e9e6de}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;background:#fff;border-radius:8px}
.team{background:#fff;border-radius:10px;padding:14px 20px;margin:14px 0;box-shadow:0 1px 4px #0002}
.team h3{margin:0 0 6px}.muted{color:#667}.note{margin:4px 0 4px 12px}
"""


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _podium(standings: list[awards.Standing]) -> str:
    cells = [
        f'<div class="p{s.place}">{s.place}位<b>{escape(s.display_name)}</b>'
        f'<span class="muted">{escape(s.theme)} · 総合 {s.total:.3f}</span></div>'
        for s in standings[:3]
    ]
    return f'<div class="podium">{"".join(cells)}</div>'


def _ranking_table(event: Event, standings: list[awards.Standing]) -> str:
    rows = []
    for s in standings:
        metric, _ = leaderboard.primary_metric(event, s.theme)
        score = f"{metric} {shown(s.theme, metric, s.entry.score)}" if s.entry else "提出なし (no scored submission)"
        place = f"{s.entry.rank} / {s.theme_size}" if s.entry else "–"
        judged = _num(s.marks.score, 3) if s.marks.score is not None else "未審査 (not judged)"
        rows.append(
            f"<tr><td class=num>{s.place}</td><td>{escape(s.display_name)}</td><td>{escape(s.theme)}</td>"
            f"<td>{score}</td><td class=num>{place}</td><td class=num>{judged}</td>"
            f"<td class=num><b>{s.total:.3f}</b></td></tr>"
        )
    return (
        "<table><tr><th>順位</th><th>チーム</th><th>テーマ</th><th>最終スコア (private)</th>"
        "<th>テーマ内順位</th><th>審査点 (0–1)</th><th>総合</th></tr>" + "".join(rows) + "</table>"
    )


def _team_card(event: Event, s: awards.Standing) -> str:
    criteria = event.settings.criteria
    parts = [f'<div class="team" id="team-{escape(s.team)}"><h3>{s.place}. {escape(s.display_name)}</h3>',
             f'<div class="muted">{escape(s.theme)} · メンバー: {escape(", ".join(s.members))}</div>']
    if s.entry:
        metrics = ", ".join(f"{escape(k)} {shown(s.theme, k, v)}" for k, v in sorted(s.entry.metrics.items()))
        parts.append(f"<p>最終提出 #{s.entry.submission_id} ({escape(s.entry.chosen)}), "
                     f"提出数 {s.entry.entries}: {metrics}</p>")
    else:
        parts.append("<p>採点された提出はありません (no scored submission).</p>")
    if s.marks.by_criterion:
        marks = ", ".join(f"{escape(c.name)} {s.marks.by_criterion.get(c.id, 0):.2f}" for c in criteria)
        parts.append(f"<p>審査 ({len(s.marks.judges)} 名: {escape(', '.join(s.marks.judges))}): {marks}</p>")
    for judge, note in s.marks.notes:
        parts.append(f'<p class="note"><b>{escape(judge)}</b>: 「{escape(note)}」</p>')
    parts.append("</div>")
    return "".join(parts)


def render(event: Event) -> str:
    settings = event.settings
    standings = awards.standings(event)
    boards = {t: leaderboard.final_board(event, t) for t in settings.themes}
    metrics = {t: leaderboard.primary_metric(event, t)[0] for t in settings.themes}
    final_png = charts.final_chart(standings, settings.metric_weight, settings.rubric_weight)
    board_png = charts.leaderboard_chart(boards, metrics)
    judges_png = charts.judges_chart(standings, list(settings.criteria))
    method = (
        f"総合点 = {settings.metric_weight:g} × リーダーボード点 + {settings.rubric_weight:g} × 審査点。"
        "リーダーボード点はテーマ内の最終順位を 0–1 にしたもの (1位 1.0、最下位 0.0)、"
        "最終提出はチームが選んだ提出 (選ばなければ public スコアが最も良い提出) の private スコアです。"
        "審査点は各基準の平均点を重み付きで平均し、採点の幅を 0–1 にしたものです。"
    )
    generated = dt.datetime.now(settings.zone).strftime("%Y-%m-%d %H:%M")
    return f"""<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{escape(settings.name)} – 表彰</title><style>{CSS}</style></head>
<body><header><h1>{escape(settings.name)}</h1>
<div>{settings.starts} – {settings.ends} · 表彰レポート (awards report) · {generated}</div></header>
<main>
<section><h2>受賞チーム (winners)</h2>{_podium(standings)}</section>
<section><h2>最終順位 (final ranking)</h2>{_ranking_table(event, standings)}
<p><img alt="final ranking chart" src="{charts.data_uri(final_png)}"></p>
<p class="muted">{escape(method)}</p></section>
<section><h2>リーダーボード (private)</h2><img alt="leaderboard chart" src="{charts.data_uri(board_png)}"></section>
<section><h2>審査員の採点 (judges' marks)</h2><img alt="judges chart" src="{charts.data_uri(judges_png)}"></section>
<section><h2>チーム紹介 (teams)</h2>{"".join(_team_card(event, s) for s in standings)}</section>
</main></body></html>
"""


def write(event: Event, out: Path | None = None) -> Path:
    """Write the report atomically (a half-written page never replaces a good one)."""
    out = Path(out) if out else event.state / "awards.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(render(event), encoding="utf-8")
    os.replace(tmp, out)
    return out
