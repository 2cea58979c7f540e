"""The gallery's funnel page (`funnel.ipynb`, run by Voila for organisers and managers): the
headline figures, the funnel chart and the teams, read when the page is opened, in the page's
language (`matsuri.language`: `?lang=`, then MATSURI_LANG, then event.toml). A problem with the
inputs shows as a plain message on the page saying what to do."""

from __future__ import annotations

from html import escape

from matsuri import language
from matsuri.funnel.texts import TEXT


def funnel_app() -> None:
    import ipywidgets as widgets
    from IPython.display import display

    from matsuri.errors import MatsuriError
    from matsuri.funnel import export
    from matsuri.funnel.chart import funnel_chart
    from matsuri.funnel.compute import Sources, build
    from matsuri.gallery.apps import language_link, wait_for_page
    from matsuri.hackathon.event import open_event
    from matsuri.widget_layout import page

    wait_for_page()
    lang = language.page_language()
    try:
        event = open_event()
        lang = language.page_language(event.settings.language)
        funnel = build(Sources.default(event))
    except MatsuriError as error:
        display(page(widgets.HTML(f'<h2>{language.say(TEXT, "funnel", lang)}</h2><p class="matsuri-error" '
                                  f'style="color:#c0392b">{escape(str(error))}</p>')))
        return
    zone = event.settings.zone
    made = funnel.generated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    header = widgets.HTML(f"<style>{export.CSS}</style><h1>{escape(funnel.event_name)}</h1>"
                          f"<p>{language.say(TEXT, 'funnel', lang)} · {made} · "
                          f"{language_link('funnel.ipynb', lang)}</p>{export.headline_html(funnel, lang)}")
    chart = widgets.Image(value=funnel_chart(funnel, lang), format="png",
                          layout=widgets.Layout(width="100%", max_width="1100px"))
    chart.add_class("matsuri-funnel-chart")
    details = widgets.HTML(f"<h2>{language.say(TEXT, 'teams', lang)}</h2>{export.teams_html(funnel, zone, lang)}"
                           f"<h2>{language.say(TEXT, 'rules', lang)}</h2>{export.rules_html(lang)}"
                           f"{export.notes_html(funnel)}")
    display(page(header, chart, details))
