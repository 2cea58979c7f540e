"""Layout of the Voila pages judges open (gallery index, rubric, funnel, teams' demos) so they read
on a projector (1920 px: larger type, full width) and on a phone (390 px: one column).

- every control gets its label above it (an HTML label, the widget's own `description` left
  empty), never beside it, and fills the width it is given;
- rows of controls wrap (`flex_flow="row wrap"`) instead of running off the screen;
- widgets lose their side margins (a 100 % wide widget with a margin would be wider than its box);
- `PAGE_CSS` (shown once per page by `page`) scales the type up on wide screens, keeps images
  and tables inside the page, and lets wide tables scroll inside their own box.
"""

from __future__ import annotations

from html import escape

PAGE_CLASS = "matsuri-page"
PAGE_CSS = """<style>
:root{--jp-ui-font-family:"Noto Sans CJK JP","IPAexGothic","Hiragino Sans","Yu Gothic",system-ui,sans-serif;
      --jp-content-font-family:var(--jp-ui-font-family);--jp-widgets-font-family:var(--jp-ui-font-family)}
body{font-family:var(--jp-ui-font-family)}
.matsuri-page{width:100%;max-width:100%;box-sizing:border-box;line-height:1.5}
.matsuri-page *{box-sizing:border-box}
.matsuri-page .widget-html-content,.matsuri-page .widget-html{max-width:100%;overflow-wrap:anywhere}
.matsuri-page img{max-width:100%;height:auto}
.matsuri-page .widget-output img{width:100%;max-width:1200px}
.matsuri-page .jupyter-widgets,.matsuri-page .widget-inline-hbox{max-width:100%}
.matsuri-page .jupyter-widgets{margin-left:0!important;margin-right:0!important}
.matsuri-row{column-gap:12px}
.matsuri-page select,.matsuri-page input,.matsuri-page textarea,.matsuri-page button{font-size:inherit;font-family:inherit}
.matsuri-label{display:block;font-weight:bold;margin:10px 0 2px;color:#1d2433}
.matsuri-hint{color:#556;margin:0 0 8px}
.matsuri-scroll{overflow-x:auto;max-width:100%}
.matsuri-page .widget-toggle-buttons{flex-wrap:wrap;height:auto}
.matsuri-page .widget-toggle-buttons .widget-toggle-button{width:auto;max-width:100%;margin:2px}
.matsuri-page .widget-slider .widget-readout{min-width:2.5em}
@media (min-width:1600px){
  :root{--jp-widgets-font-size:18px;--jp-ui-font-size1:18px;--jp-content-font-size1:18px;
        --jp-widgets-inline-height:40px}
  .matsuri-page{font-size:20px}.matsuri-page h1{font-size:2.4em}.matsuri-page h2{font-size:1.7em}
}
@media (max-width:600px){
  .matsuri-page h1{font-size:1.45em}.matsuri-page h2{font-size:1.2em}
  .jp-Cell,.jp-OutputArea-output,.jp-Notebook{padding-left:4px!important;padding-right:4px!important}
}
</style>"""


def labelled(label: str, control, css_name: str = "", hint: str = ""):
    """`control` under its label (and an optional grey hint), both as wide as the column."""
    import ipywidgets as widgets

    control.description = ""
    control.layout.width = "100%"
    if hasattr(control, "style") and hasattr(control.style, "description_width"):
        control.style.description_width = "0px"
    parts = [widgets.HTML(f'<span class="matsuri-label">{escape(label)}</span>'), control]
    if hint:
        parts.append(widgets.HTML(f'<div class="matsuri-hint">{escape(hint)}</div>'))
    box = widgets.VBox(parts, layout=widgets.Layout(width="100%"))
    if css_name:
        box.add_class(f"matsuri-field-{css_name}")
    return box


def row(*children, min_width: str = "220px"):
    """Controls side by side while they fit, one under the other when they do not."""
    import ipywidgets as widgets

    for child in children:
        child.layout.flex = "1 1 0"
        child.layout.min_width = min_width
    box = widgets.Box(list(children), layout=widgets.Layout(width="100%", flex_flow="row wrap"))
    box.add_class("matsuri-row")
    return box


def page(*children, max_width: str = "1800px"):
    """The page's one column: the layout CSS first, then `children`, full width up to `max_width`."""
    import ipywidgets as widgets

    box = widgets.VBox([widgets.HTML(PAGE_CSS), *children],
                       layout=widgets.Layout(width="100%", max_width=max_width))
    box.add_class(PAGE_CLASS)
    return box
