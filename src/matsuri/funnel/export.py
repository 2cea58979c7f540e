"""The funnel for spreadsheets and managers: a CSV with one row per person, and one
self-contained HTML page (inline CSS, the chart embedded as PNG) that opens with no network.

The page and the gallery's funnel page show stages, counts and teams, never which person reached
what: that is in the CSV, for the organisers. Every value from the event is HTML-escaped.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from matsuri.funnel import jobs
from matsuri.funnel.compute import STAGES, Funnel

CSV_HEADER = ["username", "job", "engineer", "team", "theme", *(s.id for s in STAGES),
              "first_lesson_at", "first_scored_at", "hours_first_lesson_to_first_score",
              "activity_events", "activity_log"]
RULES = (
    ("参加登録: participants.csv で role が learner の人。",
     "Registered: a row of participants.csv with the role learner."),
    ("コースを開始: そのコースのチェック・ヒント・解答例の記録があるか、レッスンを1つでも提出した。",
     "Started a course: a check, hint or solution of it in their activity log, or a lesson of it submitted."),
    ("sql-101 を修了: course.toml にあるすべてのレッスンを提出した (採点前も含む)。",
     "Finished sql-101: every lesson course.toml lists submitted (graded or not)."),
    ("スコア付きの提出・ベースライン・デモ: 所属チームの記録 (ベースラインは event.toml の値と public スコアを比較、"
     "デモは審査員が採点したチーム)。",
     "Scored submission, baseline, demo: their team's (public score against event.toml's baseline; "
     "demo shown = judges marked the team)."),
)


def _yes(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "unknown"}[value]


def _utc(when: datetime | None) -> str:
    return when.isoformat(timespec="seconds") if when else ""


def csv_text(funnel: Funnel) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for p in sorted(funnel.people, key=lambda p: p.username):
        hours = p.hours_to_first_score
        writer.writerow([p.username, p.job, jobs.label(p.engineer), p.team, p.theme,
                         *(_yes(p.stages[s.id]) for s in STAGES), _utc(p.first_lesson),
                         _utc(p.first_scored), "" if hours is None else f"{hours:.2f}", p.events,
                         "off" if p.opted_out else "on"])
    return buffer.getvalue()


def duration(hours: float) -> tuple[str, str]:
    """(Japanese, English) for a median time: hours under two days, else days."""
    if abs(hours) < 48:
        return f"{hours:.1f} 時間", f"{hours:.1f} hours"
    return f"{hours / 24:.1f} 日", f"{hours / 24:.1f} days"


def headline_html(funnel: Funnel) -> str:
    h = funnel.headline
    if h.share is None:
        share = ("<b>–</b><br>エンジニア以外の参加者がいません (job 列を確認)",
                 "no non-engineer participants: check the job column of participants.csv")
    else:
        share = (f"<b>{100 * h.share:.0f}%</b><br>エンジニア以外の参加者 {h.non_engineers} 人のうち "
                 f"{h.non_engineers_scored} 人がスコア付きの提出まで到達",
                 f"of {h.non_engineers} non-engineer participants, {h.non_engineers_scored} reached "
                 "a scored submission")
    if h.median_hours is None:
        median = ("<b>–</b><br>最初のレッスンからスコア付きの提出まで進んだ人はまだいません",
                  "nobody has gone from a first lesson to a scored submission yet")
    else:
        ja, en = duration(h.median_hours)
        median = (f"<b>{ja}</b><br>最初のレッスンから最初のスコア付きの提出までの時間 (中央値、{h.timed} 人)",
                  f"median time from first lesson activity to first scored submission: {en} "
                  f"({h.timed} people)")
    cards = "".join(f'<div class="matsuri-figure">{ja}<div class="en">{escape(en)}</div></div>'
                    for ja, en in (share, median))
    return f'<div class="matsuri-headline">{cards}</div>'


def _local(when: datetime | None, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%m-%d %H:%M") if when else "–"


def teams_html(funnel: Funnel, zone: ZoneInfo) -> str:
    course_stages = [s for s in STAGES if s.id in ("started_sql_101", "finished_sql_101", "started_ml_101")]
    head = ["チーム (team)", "テーマ (theme)", "メンバー (members)",
            *(f"{s.ja} ({s.en})" for s in course_stages),
            f"最初のスコア付きの提出 (first scored, {escape(zone.key)})", "public スコア (best)", "ベースライン (baseline)",
            "ベースラインを上回る (beat)", "デモを披露 (demo shown)"]
    rows = []
    for t in funnel.teams:
        counted = sum(p.team == t.team for p in funnel.people)
        beat = {True: "はい (yes)", False: "いいえ (no)", None: "未測定 (not measured)"}[t.beat]
        cells = [escape(t.display_name), escape(t.theme or "–"), str(len(t.members)),
                 *(f"{funnel.members_reached(t.team, s.id)} / {counted}" for s in course_stages),
                 _local(t.first_scored, zone),
                 "–" if t.best_public is None else f"{escape(t.metric)} {t.best_public:.4f}",
                 "–" if t.baseline is None else f"{t.baseline:.4f}", beat,
                 "はい (yes)" if t.demo_shown else "いいえ (no)"]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{len(head)}">チームはまだありません (no teams yet)</td></tr>')
    return ('<table class="matsuri-funnel-teams"><tr>' + "".join(f"<th>{h}</th>" for h in head)
            + "</tr>" + "".join(rows) + "</table>")


def rules_html() -> str:
    return "<ul>" + "".join(f"<li>{escape(ja)}<br><span class=muted>{escape(en)}</span></li>"
                            for ja, en in RULES) + "</ul>"


def notes_html(funnel: Funnel) -> str:
    if not funnel.notes:
        return ""
    return ('<ul class="matsuri-funnel-notes">' + "".join(f"<li>{escape(n)}</li>" for n in funnel.notes)
            + "</ul>")


CSS = """
.matsuri-headline{display:flex;gap:16px;flex-wrap:wrap;margin:12px 0}
.matsuri-figure{flex:1;min-width:260px;background:#fff;border-radius:10px;padding:14px 18px;box-shadow:0 1px 4px #0002}
.matsuri-figure b{font-size:2em;color:#003d5b}.matsuri-figure .en{color:#667;font-size:.9em;margin-top:4px}
.matsuri-funnel-teams{border-collapse:collapse;background:#fff;font-size:.9em}
.matsuri-funnel-teams th,.matsuri-funnel-teams td{padding:5px 8px;border-bottom:1px solid #ddd;text-align:left}
.matsuri-funnel-teams th{background:#e9e6de}.muted{color:#667}
"""


def render(funnel: Funnel, png: bytes, zone: ZoneInfo) -> str:
    from matsuri.hackathon.charts import data_uri
    from matsuri.hackathon.report import CSS as REPORT_CSS

    made = funnel.generated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return f"""<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{escape(funnel.event_name)} – 参加ファネル</title><style>{REPORT_CSS}{CSS}</style></head>
<body><header><h1>{escape(funnel.event_name)}</h1>
<div>参加ファネル (festival funnel) · {made}</div></header>
<main>
<section><h2>ひと目で (headline)</h2>{headline_html(funnel)}</section>
<section><h2>ファネル (funnel)</h2><img alt="funnel chart" src="{data_uri(png)}"></section>
<section><h2>チーム (teams)</h2>{teams_html(funnel, zone)}</section>
<section><h2>数え方 (how stages are counted)</h2>{rules_html()}{notes_html(funnel)}</section>
</main></body></html>
"""


def write_atomic(path: Path, text: str) -> Path:
    """Write the whole file or nothing (a half-written export never replaces a good one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
