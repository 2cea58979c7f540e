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
from matsuri.funnel.texts import TEXT
from matsuri.language import say

CSV_HEADER = ["username", "job", "engineer", "team", "theme", *(s.id for s in STAGES),
              "first_lesson_at", "first_scored_at", "hours_first_lesson_to_first_score",
              "activity_events", "activity_log"]
RULES = ("rule_registered", "rule_started", "rule_finished", "rule_team")


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


def duration(hours: float, lang: str = "ja") -> str:
    """A median time: hours under two days, else days."""
    if abs(hours) < 48:
        return say(TEXT, "hours", lang, value=hours)
    return say(TEXT, "days", lang, value=hours / 24)


def headline_html(funnel: Funnel, lang: str = "ja") -> str:
    h = funnel.headline
    if h.share is None:
        share = ("–", say(TEXT, "share_none", lang))
    else:
        share = (f"{100 * h.share:.0f}%", say(TEXT, "share", lang, people=h.non_engineers,
                                              scored=h.non_engineers_scored))
    if h.median_hours is None:
        median = ("–", say(TEXT, "median_none", lang))
    else:
        median = (duration(h.median_hours, lang), say(TEXT, "median", lang, people=h.timed))
    cards = "".join(f'<div class="matsuri-figure"><b>{escape(figure)}</b><br>{escape(words)}</div>'
                    for figure, words in (share, median))
    return f'<div class="matsuri-headline">{cards}</div>'


def _local(when: datetime | None, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%m-%d %H:%M") if when else "–"


def stage_name(stage, lang: str) -> str:
    return stage.ja if lang == "ja" else stage.en


def teams_html(funnel: Funnel, zone: ZoneInfo, lang: str = "ja") -> str:
    course_stages = [s for s in STAGES if s.id in ("started_sql_101", "finished_sql_101", "started_ml_101")]
    head = [say(TEXT, "col_team", lang), say(TEXT, "col_theme", lang), say(TEXT, "col_members", lang),
            *(escape(stage_name(s, lang)) for s in course_stages),
            say(TEXT, "col_first_scored", lang, zone=escape(zone.key)), say(TEXT, "col_best", lang),
            say(TEXT, "col_baseline", lang), say(TEXT, "col_beat", lang), say(TEXT, "col_demo", lang)]
    answer = {True: say(TEXT, "yes", lang), False: say(TEXT, "no", lang), None: say(TEXT, "not_measured", lang)}
    rows = []
    for t in funnel.teams:
        counted = sum(p.team == t.team for p in funnel.people)
        cells = [escape(t.display_name), escape(t.theme or "–"), str(len(t.members)),
                 *(f"{funnel.members_reached(t.team, s.id)} / {counted}" for s in course_stages),
                 _local(t.first_scored, zone),
                 "–" if t.best_public is None else f"{escape(t.metric)} {t.best_public:.4f}",
                 "–" if t.baseline is None else f"{t.baseline:.4f}", answer[t.beat], answer[bool(t.demo_shown)]]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{len(head)}">{say(TEXT, "no_teams", lang)}</td></tr>')
    return ('<div class="matsuri-scroll"><table class="matsuri-funnel-teams"><tr>'
            + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows) + "</table></div>")


def rules_html(lang: str = "ja") -> str:
    return "<ul>" + "".join(f"<li>{escape(say(TEXT, key, lang))}</li>" for key in RULES) + "</ul>"


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
.matsuri-scroll{overflow-x:auto;max-width:100%}
"""


def render(funnel: Funnel, png: bytes, zone: ZoneInfo, lang: str = "ja") -> str:
    from matsuri.hackathon.charts import data_uri
    from matsuri.hackathon.report import CSS as REPORT_CSS

    made = funnel.generated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    name = escape(funnel.event_name)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{say(TEXT, "title", lang, event=name)}</title><style>{REPORT_CSS}{CSS}</style></head>
<body><header><h1>{name}</h1>
<div>{say(TEXT, "funnel", lang)} · {made}</div></header>
<main>
<section><h2>{say(TEXT, "headline", lang)}</h2>{headline_html(funnel, lang)}</section>
<section><h2>{say(TEXT, "chart", lang)}</h2><img alt="{say(TEXT, "chart_alt", lang)}" src="{data_uri(png)}"></section>
<section><h2>{say(TEXT, "teams", lang)}</h2>{teams_html(funnel, zone, lang)}</section>
<section><h2>{say(TEXT, "rules", lang)}</h2>{rules_html(lang)}{notes_html(funnel)}</section>
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
