"""The gallery's funnel page (`funnel.ipynb`, run by Voila for organisers and managers): the
headline figures, the funnel chart and the teams, in Japanese and English, read when the page is
opened. A problem with the inputs shows as a plain message on the page saying what to do."""

from __future__ import annotations

from html import escape


def funnel_app() -> None:
    import ipywidgets as widgets
    from IPython.display import display

    from matsuri.errors import MatsuriError
    from matsuri.funnel import export
    from matsuri.funnel.chart import funnel_chart
    from matsuri.funnel.compute import Sources, build
    from matsuri.gallery.apps import wait_for_page
    from matsuri.hackathon.event import open_event
    from matsuri.plotting import use_japanese_font

    use_japanese_font()  # matplotlib and the font load while a preheated kernel waits
    wait_for_page()
    try:
        event = open_event()
        funnel = build(Sources.default(event))
    except MatsuriError as error:
        display(widgets.HTML(f'<h2>参加ファネル (festival funnel)</h2><p class="matsuri-error" '
                             f'style="color:#c0392b">{escape(str(error))}</p>'))
        return
    zone = event.settings.zone
    made = funnel.generated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    header = widgets.HTML(f"<style>{export.CSS}</style><h1>{escape(funnel.event_name)}</h1>"
                          f"<p>参加ファネル (festival funnel) · {made}</p>{export.headline_html(funnel)}")
    chart = widgets.Image(value=funnel_chart(funnel), format="png",
                          layout=widgets.Layout(max_width="860px"))
    chart.add_class("matsuri-funnel-chart")
    details = widgets.HTML(f"<h2>チーム (teams)</h2>{export.teams_html(funnel, zone)}"
                           f"<h2>数え方 (how stages are counted)</h2>{export.rules_html()}"
                           f"{export.notes_html(funnel)}")
    display(widgets.VBox([header, chart, details]))
