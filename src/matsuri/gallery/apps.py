"""The gallery's apps, run inside Voila kernels: the index and the judges' rubric (the festival
funnel's page is `matsuri.funnel.page`).

Both read the event state store (never the labels: the leaderboard is already scores). With
preheated kernels, each app does its imports first and then waits for the real page request, so
what it shows is read at the moment a judge opens the page, not when the kernel warmed up.
Their texts are in `matsuri.gallery.texts`, in the page's language (`matsuri.language`: `?lang=`,
then MATSURI_LANG, then event.toml); their layout is `matsuri.widget_layout`'s.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode

from matsuri import language, theme_spec
from matsuri.gallery.texts import TEXT

BOARD_ENV = "MATSURI_GALLERY_BOARD"  # "public" (default) or "final" (the private ranking, at the ceremony)

CSS = """<style>
.matsuri-cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,260px),1fr));gap:14px}
.matsuri-card{background:#fff;border-radius:10px;padding:12px 16px;box-shadow:0 1px 4px #0003;min-width:0}
.matsuri-card h3{margin:0 0 4px;font-size:1.15em}.matsuri-card .theme{color:#667;font-size:.9em}
.matsuri-card .score{font-size:1.3em;margin:8px 0}.matsuri-card a{color:#00798c;font-weight:bold}
.matsuri-error{color:#c0392b;font-weight:bold}.matsuri-ok{color:#2e8b57;font-weight:bold}
.matsuri-links a{white-space:nowrap}
</style>"""


# What the apps load on first use: in a preheated kernel, loaded before the page is asked for.
# (theme_spec reads the metrics, which bring pandas: over a second on the 2-core machines.)
WARM_MODULES = ("ipywidgets", "matsuri.metrics", "matsuri.hackathon.teams", "matsuri.hackathon.rubric",
                "matsuri.hackathon.leaderboard", "matsuri.hackathon.charts", "matsuri.widget_layout",
                "matsuri.funnel.compute", "matsuri.funnel.chart", "matsuri.funnel.export")


def wait_for_page(prepare: Callable[[], object] | None = None) -> None:
    """In a preheated kernel, load everything the apps use (modules, theme specs, the Japanese
    font) and run `prepare`, then block until a browser actually asks for the page: the page then
    costs only the reading of the event."""
    if os.environ.get("VOILA_PREHEAT") != "True":
        return
    import importlib

    from voila.utils import wait_for_request

    for module in WARM_MODULES:
        importlib.import_module(module)
    theme_spec.all_themes()
    _draw_once()
    if prepare is not None:
        prepare()
    wait_for_request()


def _draw_once() -> None:
    """Draw a throwaway chart with Japanese text: matplotlib loads its font and PNG writer on the
    first drawing, not on import."""
    from io import BytesIO

    import matplotlib.pyplot as plt

    from matsuri.plotting import use_japanese_font

    use_japanese_font()
    figure, axes = plt.subplots(layout="constrained")
    axes.set_title("祭")
    figure.savefig(BytesIO(), format="png")
    plt.close(figure)


_drawn: list = []  # the last leaderboard chart drawn here: [(boards, metrics, lang), png]


def leaderboard(event, lang: str) -> tuple[dict, dict, bytes]:
    """The boards, their metrics and the chart of them. The chart is drawn again only if the boards
    changed since the last drawing in this kernel: a preheated index draws it before the page is
    asked for (0.15 s of its answer), and the board changes only when a submission is scored."""
    from matsuri.hackathon import charts
    from matsuri.hackathon import leaderboard as boards_of

    board_of = boards_of.final_board if os.environ.get(BOARD_ENV) == "final" else boards_of.public_board
    themes = list(event.settings.themes)
    boards = {t: board_of(event, t) for t in themes}
    metrics = {t: boards_of.primary_metric(event, t)[0] for t in themes}
    shown = (boards, metrics, lang)
    if not _drawn or _drawn[0] != shown:
        _drawn[:] = [shown, charts.leaderboard_chart(boards, metrics, lang=lang)]
    return boards, metrics, _drawn[1]


def _query() -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(os.environ.get("QUERY_STRING", "")).items()}


def _render_url(relative: str, **query: str) -> str:
    """A gallery page's address; a language chosen in this page's address is carried along."""
    base = os.environ.get("VOILA_BASE_URL", "/")
    asked = language.from_query()
    params = ({language.QUERY_KEY: asked} if asked else {}) | {k: v for k, v in query.items() if v}
    return f"{base}voila/render/{quote(relative)}" + (f"?{urlencode(params)}" if params else "")


def language_link(relative: str, lang: str, **query: str) -> str:
    """A link to the same page in the other language."""
    other = "en" if lang == "ja" else "ja"
    href = _render_url(relative, **query | {language.QUERY_KEY: other})
    return f'<a class="matsuri-language" href="{escape(href)}" lang="{other}">{language.say(TEXT, "other_language", lang)}</a>'


def _cards(event, boards: dict, chosen: str, lang: str | None = None) -> str:
    from matsuri.hackathon.teams import list_teams

    lang = lang or language.page_language(event.settings.language)
    scores = {e.team: (e.score, e.rank, e.sandboxed) for board in boards.values() for e in board}
    cards = []
    for team in list_teams(event):
        if not team.theme or (chosen != "all" and team.theme != chosen):
            continue
        metric = event.settings.theme(team.theme).metric
        score = scores.get(team.team)
        shown = (language.say(TEXT, "score", lang, metric=metric, rank=score[1],
                              value=theme_spec.shown(team.theme, metric, score[0]))
                 if score else language.say(TEXT, "no_score", lang))
        if score and not score[2]:
            shown += f" <i>{language.say(TEXT, 'no_sandbox', lang)}</i>"
        demo = Path("demos") / team.team / "demo.ipynb"
        link = (f'<a class="matsuri-demo-link" href="{escape(_render_url(str(demo)))}" target="_blank">'
                f'{language.say(TEXT, "open_demo", lang)}</a>' if demo.is_file()
                else f'<span class="theme">{language.say(TEXT, "no_demo", lang)}</span>')
        cards.append(
            f'<div class="matsuri-card" data-team="{escape(team.team)}"><h3>{escape(team.display_name)}</h3>'
            f'<div class="theme">{escape(team.theme)} · {escape(", ".join(team.members))}</div>'
            f'<div class="score">{shown}</div>{link}</div>'
        )
    return CSS + '<div class="matsuri-cards">' + "".join(cards) + "</div>"


def theme_title(theme: str, lang: str) -> str:
    specs = theme_spec.all_themes()
    return f"{specs[theme].title[lang]} ({theme})" if theme in specs else theme


def index_app():
    """Event name, leaderboard chart, a theme filter and one card per team linking to its demo."""
    import ipywidgets as widgets
    from IPython.display import display

    from matsuri.hackathon import charts
    from matsuri.hackathon.event import open_event
    from matsuri.widget_layout import labelled, page

    def read():  # the event as it is now, the page's language, the leaderboard and its chart
        event = open_event()
        lang = language.page_language(event.settings.language)
        return event, lang, *leaderboard(event, lang)

    wait_for_page(prepare=read)
    event, lang, boards, metrics, png = read()
    final = os.environ.get(BOARD_ENV) == "final"
    themes = list(event.settings.themes)
    which = language.say(TEXT, "board_final" if final else "board_public", lang)
    header = widgets.HTML(
        f'<h1 lang="{lang}">{escape(event.settings.name)}</h1><p class="matsuri-links">'
        f"{event.settings.starts} – {event.settings.ends} · {which} · "
        f"<a href=\"{escape(_render_url('rubric.ipynb'))}\" target=\"_blank\">{language.say(TEXT, 'rubric_link', lang)}</a>"
        f" · <a href=\"{escape(_render_url('funnel.ipynb'))}\" target=\"_blank\">{language.say(TEXT, 'funnel_link', lang)}</a>"
        f" · {language_link('index.ipynb', lang)}</p>"
    )
    chart = widgets.Image(value=png, format="png", layout=widgets.Layout(width="100%", max_width="1100px"))
    chart.add_class("matsuri-leaderboard")
    titles = [(theme_title(t, lang), t) for t in themes]
    picker = widgets.ToggleButtons(options=[(language.say(TEXT, "all_themes", lang), "all"), *titles], value="all")
    picker.add_class("matsuri-theme-filter")
    cards = widgets.HTML(_cards(event, boards, "all", lang))
    cards.add_class("matsuri-team-cards")
    charts_by_choice = {"all": png}

    def choose(change) -> None:  # the chart and the cards follow the filter
        chosen = change["new"]
        if chosen not in charts_by_choice:
            charts_by_choice[chosen] = charts.leaderboard_chart({chosen: boards[chosen]},
                                                                {chosen: metrics[chosen]}, lang=lang)
        chart.value = charts_by_choice[chosen]
        cards.value = _cards(event, boards, chosen, lang)

    picker.observe(choose, "value")
    display(page(header, chart, labelled(language.say(TEXT, "theme_filter", lang), picker), cards))


class RubricForm:
    """One judge marks one team: a slider per criterion, a note, and a save button; every label
    above its control, so the form fits a phone as well as a projector."""

    def __init__(self, event, lang: str | None = None):
        import ipywidgets as widgets

        from matsuri.hackathon.teams import list_teams
        from matsuri.widget_layout import labelled, page

        self.event = event
        self.lang = lang = lang or language.page_language(event.settings.language)
        settings = event.settings
        low, high = settings.scale
        asked = _query().get("judge", "")
        wide = widgets.Layout(width="100%")
        if settings.judges:
            self.judge = widgets.Dropdown(options=["", *settings.judges],
                                          value=asked if asked in settings.judges else "", layout=wide)
        else:
            self.judge = widgets.Text(value=asked, placeholder=self.say("judge_placeholder"), layout=wide)
        self.teams = [t for t in list_teams(event) if t.theme]
        self.team = widgets.Dropdown(options=[(f"{t.display_name} ({t.theme})", t.team) for t in self.teams],
                                     layout=wide)
        self.sliders = {}
        rows = []
        for c in settings.criteria:
            slider = widgets.IntSlider(value=(low + high) // 2, min=low, max=high, layout=wide)
            slider.add_class(f"matsuri-criterion-{c.id}")
            self.sliders[c.id] = slider
            rows.append(labelled(c.label(lang), slider, f"criterion-{c.id}", hint=c.hint(lang)))
        self.note = widgets.Textarea(placeholder=self.say("note_placeholder"),
                                     layout=widgets.Layout(width="100%", height="80px"))
        self.save = widgets.Button(description=self.say("save"), button_style="primary",
                                   layout=widgets.Layout(width="min(100%, 240px)", margin="8px 0 0 0"))
        self.status = widgets.HTML()
        self.progress = widgets.HTML()
        for widget, name in ((self.judge, "judge"), (self.team, "team"), (self.note, "note"),
                             (self.save, "save"), (self.status, "status")):
            widget.add_class(f"matsuri-{name}")
        self.save.on_click(lambda _: self.submit())
        self.judge.observe(lambda _: self.load(), "value")
        self.team.observe(lambda _: self.load(), "value")
        heading = widgets.HTML(
            f"<h2>{escape(self.say('rubric_heading', event=settings.name))}</h2>"
            f"<p>{self.say('rubric_help', low=low, high=high)} · "
            f"{language_link('rubric.ipynb', lang, judge=asked)}</p>")
        self.box = page(
            heading, labelled(self.say("judge"), self.judge), labelled(self.say("team"), self.team),
            *rows, labelled(self.say("note"), self.note), self.save, self.status, self.progress,
            max_width="960px",
        )
        self.load()

    def say(self, key: str, **fields) -> str:
        return language.say(TEXT, key, self.lang, **fields)

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
        done = self.say("progress", done=len(self.teams) - len(left), total=len(self.teams))
        rest = self.say("to_do", teams=escape(", ".join(left))) if left else self.say("all_done")
        self.progress.value = f'<div style="color:#667">{done} {rest}</div>'

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
        saved = self.say("saved", judge=escape(self.judge.value), team=escape(self.team.value), at=at)
        self.status.value = f'<span class="matsuri-ok">{saved}</span>'
        self.show_progress()


def rubric_app() -> None:
    from IPython.display import display

    from matsuri.hackathon.event import open_event

    wait_for_page()
    display(RubricForm(open_event()).box)  # the widgets' callbacks keep the form alive
