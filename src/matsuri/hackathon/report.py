"""The awards report: one self-contained HTML page (inline CSS, charts as embedded PNG).

Nothing in it is fetched from elsewhere, so it opens the same on the meeting-room laptop with no
network. Every value from the event (team names, notes) is HTML-escaped. Its texts
(`report_texts.TEXT`) are in the event's language, or the one asked for (`matsuri hackathon report
--lang en`). Its CSS reads on a projector (1920 px: larger type, full width, charts side by side)
and on a phone (390 px: one column; the ranking table scrolls inside its own box).
"""

from __future__ import annotations

import datetime as dt
import os
from html import escape
from pathlib import Path

from matsuri.hackathon import awards, charts, leaderboard
from matsuri.hackathon.event import Event
from matsuri.hackathon.report_texts import TEXT
from matsuri.language import say
from matsuri.theme_spec import shown

CSS = """
body{font-family:"Noto Sans CJK JP","IPAexGothic","Hiragino Sans",sans-serif;margin:0;background:#f6f4ef;
     color:#1d2433;font-size:17px;line-height:1.55;overflow-wrap:anywhere}
*{box-sizing:border-box}
header{background:#003d5b;color:#fff;padding:28px 48px}header h1{margin:0 0 6px;font-size:2.1em}
main{padding:24px 48px;max-width:1200px}section{margin-bottom:36px}
h2{border-bottom:3px solid #d1495b;padding-bottom:4px}
.podium{display:flex;gap:18px;flex-wrap:wrap}.podium div{flex:1 1 220px;background:#fff;border-radius:10px;padding:16px 20px;box-shadow:0 1px 4px #0002}
.podium .p1{border-top:8px solid #d4af37}.podium .p2{border-top:8px solid #a8a9ad}.podium .p3{border-top:8px solid #b87333}
.podium b{font-size:1.4em;display:block}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;background:#fff}th,td{padding:6px 10px;border-bottom:1px solid #ddd;text-align:left}
th{background:#e9e6de;overflow-wrap:normal}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
img{max-width:100%;height:auto;background:#fff;border-radius:8px}
.team{background:#fff;border-radius:10px;padding:14px 20px;margin:14px 0;box-shadow:0 1px 4px #0002}
.team h3{margin:0 0 6px}.muted{color:#667}.note{margin:4px 0 4px 12px}
@media (min-width:1600px){
  body{font-size:24px}main{max-width:none;padding:32px 72px}header{padding:36px 72px}
  .charts{display:grid;grid-template-columns:1fr 1fr;gap:24px}
  img{width:min(100%,1400px)}.charts img{width:100%}
}
@media (max-width:600px){
  body{font-size:16px}header,main{padding:16px}header h1{font-size:1.5em}
  th,td{padding:4px 6px}table{font-size:.85em}.scroll table{min-width:560px}
}
"""


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _podium(standings: list[awards.Standing], lang: str) -> str:
    cells = [
        f'<div class="p{s.place}">{say(TEXT, "place", lang, place=s.place)}<b>{escape(s.display_name)}</b>'
        f'<span class="muted">{escape(s.theme)} · {say(TEXT, "total_short", lang, total=f"{s.total:.3f}")}</span></div>'
        for s in standings[:3]
    ]
    return f'<div class="podium">{"".join(cells)}</div>'


def _ranking_table(event: Event, standings: list[awards.Standing], lang: str) -> str:
    rows = []
    for s in standings:
        metric, _ = leaderboard.primary_metric(event, s.theme)
        score = (f"{metric} {shown(s.theme, metric, s.entry.score)}" if s.entry
                 else say(TEXT, "no_submission", lang))
        place = f"{s.entry.rank} / {s.theme_size}" if s.entry else "–"
        judged = _num(s.marks.score, 3) if s.marks.score is not None else say(TEXT, "not_judged", lang)
        rows.append(
            f"<tr><td class=num>{s.place}</td><td>{escape(s.display_name)}</td><td>{escape(s.theme)}</td>"
            f"<td>{score}</td><td class=num>{place}</td><td class=num>{judged}</td>"
            f"<td class=num><b>{s.total:.3f}</b></td></tr>"
        )
    heads = ("col_place", "col_team", "col_theme", "col_score", "col_theme_place", "col_judged", "col_total")
    head = "".join(f"<th>{say(TEXT, key, lang)}</th>" for key in heads)
    return f'<div class="scroll"><table><tr>{head}</tr>{"".join(rows)}</table></div>'


def _chosen(how: str, lang: str) -> str:
    """How the final submission was picked ("selected" | "best public"), in the report's words."""
    key = "chosen_" + how.replace(" ", "_")
    return say(TEXT, key, lang) if key in TEXT else escape(how)


def _team_card(event: Event, s: awards.Standing, lang: str) -> str:
    criteria = event.settings.criteria
    parts = [f'<div class="team" id="team-{escape(s.team)}"><h3>{s.place}. {escape(s.display_name)}</h3>',
             f'<div class="muted">{escape(s.theme)} · '
             f'{say(TEXT, "members", lang, members=escape(", ".join(s.members)))}</div>']
    if s.entry:
        metrics = ", ".join(f"{escape(k)} {shown(s.theme, k, v)}" for k, v in sorted(s.entry.metrics.items()))
        parts.append("<p>" + say(TEXT, "final_submission", lang, id=s.entry.submission_id,
                                 chosen=_chosen(s.entry.chosen, lang), entries=s.entry.entries, metrics=metrics) + "</p>")
    else:
        parts.append(f"<p>{say(TEXT, 'no_scored_submission', lang)}</p>")
    if s.marks.by_criterion:
        marks = ", ".join(f"{escape(c.label(lang))} {s.marks.by_criterion.get(c.id, 0):.2f}" for c in criteria)
        parts.append("<p>" + say(TEXT, "judged_by", lang, count=len(s.marks.judges),
                                 judges=escape(", ".join(s.marks.judges)), marks=marks) + "</p>")
    for judge, note in s.marks.notes:
        parts.append(f'<p class="note"><b>{escape(judge)}</b>: {say(TEXT, "quote", lang, note=escape(note))}</p>')
    parts.append("</div>")
    return "".join(parts)


def render(event: Event, lang: str | None = None) -> str:
    """The report's HTML in `lang` (default: the event's `[event] language`)."""
    settings = event.settings
    lang = lang or settings.language
    standings = awards.standings(event)
    boards = {t: leaderboard.final_board(event, t) for t in settings.themes}
    metrics = {t: leaderboard.primary_metric(event, t)[0] for t in settings.themes}
    final_png = charts.final_chart(standings, settings.metric_weight, settings.rubric_weight, lang=lang)
    board_png = charts.leaderboard_chart(boards, metrics, lang=lang)
    judges_png = charts.judges_chart(standings, list(settings.criteria), lang=lang)
    method = say(TEXT, "method", lang, metric_weight=f"{settings.metric_weight:g}",
                 rubric_weight=f"{settings.rubric_weight:g}")
    generated = dt.datetime.now(settings.zone).strftime("%Y-%m-%d %H:%M")
    name = escape(settings.name)

    def image(key: str, png: bytes) -> str:
        return f'<img alt="{say(TEXT, key, lang)}" src="{charts.data_uri(png)}">'

    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{say(TEXT, "title", lang, event=name)}</title><style>{CSS}</style></head>
<body><header><h1>{name}</h1>
<div>{settings.starts} – {settings.ends} · {say(TEXT, "subtitle", lang)} · {generated}</div></header>
<main>
<section><h2>{say(TEXT, "winners", lang)}</h2>{_podium(standings, lang)}</section>
<section><h2>{say(TEXT, "final_ranking", lang)}</h2>{_ranking_table(event, standings, lang)}
<p>{image("final_chart", final_png)}</p>
<p class="muted">{escape(method)}</p></section>
<div class="charts">
<section><h2>{say(TEXT, "leaderboard", lang)}</h2>{image("leaderboard_chart", board_png)}</section>
<section><h2>{say(TEXT, "judges_marks", lang)}</h2>{image("judges_chart", judges_png)}</section>
</div>
<section><h2>{say(TEXT, "teams", lang)}</h2>{"".join(_team_card(event, s, lang) for s in standings)}</section>
</main></body></html>
"""


def write(event: Event, out: Path | None = None, lang: str | None = None) -> Path:
    """Write the report atomically (a half-written page never replaces a good one)."""
    out = Path(out) if out else event.state / "awards.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(render(event, lang), encoding="utf-8")
    os.replace(tmp, out)
    return out
