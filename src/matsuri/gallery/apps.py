"""The gallery's apps, run inside Voila kernels: the index and the judges' rubric (the festival
funnel's page is `matsuri.funnel.page`).

Both read the event state store (never the labels: the leaderboard is already scores). With
preheated kernels, each app does its imports first and then waits for the real page request, so
what it shows is read at the moment a judge opens the page, not when the kernel warmed up.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, quote

from matsuri import theme_spec

BOARD_ENV = "MATSURI_GALLERY_BOARD"  # "public" (default) or "final" (the private ranking, at the ceremony)

CSS = """<style>
.matsuri-cards{display:flex;flex-wrap:wrap;gap:14px}
.matsuri-card{width:250px;background:#fff;border-radius:10px;padding:12px 16px;box-shadow:0 1px 4px #0003}
.matsuri-card h3{margin:0 0 4px;font-size:1.15em}.matsuri-card .theme{color:#667;font-size:.9em}
.matsuri-card .score{font-size:1.3em;margin:8px 0}.matsuri-card a{color:#00798c;font-weight:bold}
.matsuri-error{color:#c0392b;font-weight:bold}.matsuri-ok{color:#2e8b57;font-weight:bold}
</style>"""


def wait_for_page() -> None:
    """In a preheated kernel, block until a browser actually asks for the page."""
    if os.environ.get("VOILA_PREHEAT") == "True":
        from voila.utils import wait_for_request

        wait_for_request()


def _render_url(relative: str) -> str:
    base = os.environ.get("VOILA_BASE_URL", "/")
    return f"{base}voila/render/{quote(relative)}"


def _query() -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(os.environ.get("QUERY_STRING", "")).items()}


def _cards(event, boards: dict, chosen: str) -> str:
    from matsuri.hackathon.teams import list_teams

    scores = {e.team: (e.score, e.rank, e.sandboxed) for board in boards.values() for e in board}
    cards = []
    for team in list_teams(event):
        if not team.theme or (chosen != "all" and team.theme != chosen):
            continue
        metric = event.settings.theme(team.theme).metric
        score = scores.get(team.team)
        shown = (f"{metric} <b>{theme_spec.shown(team.theme, metric, score[0])}</b> ({score[1]}位)"
                 if score else "まだスコアなし (no score yet)")
        if score and not score[2]:
            shown += " <i>サンドボックスなし (no sandbox)</i>"
        demo = Path("demos") / team.team / "demo.ipynb"
        link = (f'<a class="matsuri-demo-link" href="{_render_url(str(demo))}" target="_blank">'
                "デモを開く (open demo)</a>" if demo.is_file() else '<span class="theme">デモなし (no demo)</span>')
        cards.append(
            f'<div class="matsuri-card" data-team="{escape(team.team)}"><h3>{escape(team.display_name)}</h3>'
            f'<div class="theme">{escape(team.theme)} · {escape(", ".join(team.members))}</div>'
            f'<div class="score">{shown}</div>{link}</div>'
        )
    return CSS + '<div class="matsuri-cards">' + "".join(cards) + "</div>"


def index_app():
    """Event name, leaderboard chart, a theme filter and one card per team linking to its demo."""
    import ipywidgets as widgets
    from IPython.display import display

    from matsuri.hackathon import charts, leaderboard
    from matsuri.hackathon.event import open_event
    from matsuri.plotting import use_japanese_font

    use_japanese_font()  # loads matplotlib and the font while the kernel is still warming up
    wait_for_page()
    event = open_event()
    final = os.environ.get(BOARD_ENV) == "final"
    board_of = leaderboard.final_board if final else leaderboard.public_board
    themes = list(event.settings.themes)
    boards = {t: board_of(event, t) for t in themes}
    metrics = {t: leaderboard.primary_metric(event, t)[0] for t in themes}
    png = charts.leaderboard_chart(boards, metrics)
    which = "最終順位 (private)" if final else "暫定リーダーボード (public)"
    header = widgets.HTML(
        f"<h1>{escape(event.settings.name)}</h1><p>{event.settings.starts} – {event.settings.ends} · "
        f"{which} · <a href=\"{_render_url('rubric.ipynb')}\" target=\"_blank\">審査フォーム (rubric)</a>"
        f" · <a href=\"{_render_url('funnel.ipynb')}\" target=\"_blank\">参加ファネル (funnel)</a></p>"
    )
    chart = widgets.Image(value=png, format="png", layout=widgets.Layout(max_width="820px"))
    chart.add_class("matsuri-leaderboard")
    specs = theme_spec.all_themes()
    titles = [(f"{specs[t].title['ja']} ({t})" if t in specs else t, t) for t in themes]
    picker = widgets.ToggleButtons(options=[("すべて (all)", "all"), *titles], value="all")
    picker.add_class("matsuri-theme-filter")
    cards = widgets.HTML(_cards(event, boards, "all"))
    cards.add_class("matsuri-team-cards")
    charts_by_choice = {"all": png}

    def choose(change) -> None:  # the chart and the cards follow the filter
        chosen = change["new"]
        if chosen not in charts_by_choice:
            charts_by_choice[chosen] = charts.leaderboard_chart({chosen: boards[chosen]},
                                                                {chosen: metrics[chosen]})
        chart.value = charts_by_choice[chosen]
        cards.value = _cards(event, boards, chosen)

    picker.observe(choose, "value")
    display(widgets.VBox([header, chart, picker, cards]))


class RubricForm:
    """One judge marks one team: a slider per criterion, a note, and a save button."""

    def __init__(self, event):
        import ipywidgets as widgets

        from matsuri.hackathon.teams import list_teams

        self.event = event
        settings = event.settings
        low, high = settings.scale
        asked = _query().get("judge", "")
        style, wide = {"description_width": "150px"}, widgets.Layout(width="480px")
        if settings.judges:
            self.judge = widgets.Dropdown(options=["", *settings.judges],
                                          value=asked if asked in settings.judges else "",
                                          description="審査員 (judge)", style=style, layout=wide)
        else:
            self.judge = widgets.Text(value=asked, description="審査員 (judge)", placeholder="your name",
                                      style=style, layout=wide)
        self.teams = [t for t in list_teams(event) if t.theme]
        self.team = widgets.Dropdown(options=[(f"{t.display_name} ({t.theme})", t.team) for t in self.teams],
                                     description="チーム (team)", style=style, layout=wide)
        self.sliders = {}
        rows = []
        for c in settings.criteria:
            slider = widgets.IntSlider(value=(low + high) // 2, min=low, max=high, description=c.name,
                                       style=style, layout=wide)
            slider.add_class(f"matsuri-criterion-{c.id}")
            self.sliders[c.id] = slider
            rows += [slider, widgets.HTML(f'<div style="color:#667;margin:-4px 0 8px 158px">{escape(c.description)}</div>')]
        self.note = widgets.Textarea(description="コメント (note)", placeholder="チームへのひとこと (a note for the team)",
                                     style=style, layout=widgets.Layout(width="480px", height="80px"))
        self.save = widgets.Button(description="保存 (save)", button_style="primary",
                                   layout=widgets.Layout(margin="4px 0 0 158px"))
        self.status = widgets.HTML()
        self.progress = widgets.HTML()
        for widget, name in ((self.judge, "judge"), (self.team, "team"), (self.note, "note"),
                             (self.save, "save"), (self.status, "status")):
            widget.add_class(f"matsuri-{name}")
        self.save.on_click(lambda _: self.submit())
        self.judge.observe(lambda _: self.load(), "value")
        self.team.observe(lambda _: self.load(), "value")
        self.box = widgets.VBox([
            widgets.HTML(f"<h2>{escape(settings.name)}: 審査 (rubric)</h2>"
                         f"<p>各基準を {low}〜{high} で採点してください。保存し直すと上書きされます。</p>"),
            self.judge, self.team, *rows, self.note, self.save, self.status, self.progress,
        ])
        self.load()

    def load(self) -> None:
        """Show what this judge already gave this team, so coming back edits rather than adds."""
        from matsuri.hackathon.rubric import marks_of

        if not self.judge.value or not self.team.value:
            return
        marks, note = marks_of(self.event, self.judge.value, self.team.value)
        for cid, slider in self.sliders.items():
            if cid in marks:
                slider.value = marks[cid]
        self.note.value = note
        self.show_progress()

    def show_progress(self) -> None:
        """How many teams this judge has marked, and which are left."""
        from matsuri.hackathon.rubric import marks_of

        left = [t.display_name for t in self.teams if not marks_of(self.event, self.judge.value, t.team)[0]]
        done = len(self.teams) - len(left)
        rest = f" まだ (to do): {escape(', '.join(left))}" if left else " すべて完了 (all done)"
        self.progress.value = f'<div style="color:#667">{done} / {len(self.teams)} チーム採点済み.{rest}</div>'

    def submit(self) -> None:
        import datetime as dt

        from matsuri.errors import MatsuriError
        from matsuri.hackathon.rubric import save_marks

        try:
            save_marks(self.event, self.judge.value or "", self.team.value or "",
                       {cid: s.value for cid, s in self.sliders.items()}, self.note.value)
        except MatsuriError as error:
            self.status.value = f'<span class="matsuri-error">{escape(str(error))}</span>'
            return
        at = dt.datetime.now(self.event.settings.zone).strftime("%H:%M:%S")
        self.status.value = (f'<span class="matsuri-ok">保存しました (saved) {escape(self.judge.value)} → '
                             f"{escape(self.team.value)} at {at}</span>")
        self.show_progress()


def rubric_app() -> None:
    from IPython.display import display

    from matsuri.hackathon.event import open_event

    wait_for_page()
    display(RubricForm(open_event()).box)  # the widgets' callbacks keep the form alive
