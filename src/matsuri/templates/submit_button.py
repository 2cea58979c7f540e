"""The submit button at the end of every starter: hand this notebook in and watch it being scored.

It does what `matsuri hackathon submit` does from a terminal (the drop box, then the runner
service; see matsuri.hackathon.participant): nothing happens until it is pressed, so a run of the
notebook by the hackathon itself only draws it. Texts are in Japanese and English.
"""

from __future__ import annotations

import html
import os
import threading
from pathlib import Path

COLOURS = {"scored": "#1a7f37", "rejected": "#cf222e", "cancelled": "#cf222e"}


def this_notebook() -> Path:
    """The notebook this kernel belongs to (Jupyter tells its kernels), else starter.ipynb here."""
    session = os.environ.get("JPY_SESSION_NAME", "")
    if session.endswith(".ipynb"):
        for candidate in (Path(session), Path.cwd() / Path(session).name):
            if candidate.is_file():
                return candidate
    return Path.cwd() / "starter.ipynb"


def status_html(text: str, state: str = "") -> str:
    """One line of a submission's state, coloured, with a class tests and pages can find."""
    colour = COLOURS.get(state, "inherit")
    return f'<span style="color:{colour}" class="matsuri-submit-{state or "info"}">{html.escape(text)}</span>'


def hand_in(notebook: Path, show, finished, event: str | Path | None = None) -> None:
    """Hand `notebook` in for the team and report each change of its state to `show(text, state)`
    from a background thread (the kernel stays free); `finished()` is called when it is over."""
    from matsuri.errors import MatsuriError
    from matsuri.hackathon import participant
    from matsuri.hackathon.event import event_dir

    root = event_dir(event)
    try:
        team, ticket = participant.hand_in(root, notebook)
    except MatsuriError as error:
        show(f"提出できませんでした / Not handed in: {error}", "rejected")
        finished()
        return
    show(f"提出しました / Handed in for team {team}.")

    def follow() -> None:
        try:
            for update in participant.follow(root, team, ticket, timeout=6 * 3600):
                show(update.text, update.state)
        finally:
            finished()

    threading.Thread(target=follow, daemon=True).start()


def submit_button(notebook: str | Path | None = None, event: str | Path | None = None):
    """A button that hands `notebook` (default: this one) in for your team, and a line that says
    what happens to it: queued (with your place), running, scored with the public score, or why
    it was not accepted. Save the notebook (Ctrl+S) before pressing it."""
    import ipywidgets as widgets

    button = widgets.Button(description="提出する / Submit", button_style="primary",
                            icon="paper-plane", layout=widgets.Layout(width="220px"))
    line = widgets.HTML("<i>保存してから押してください / Save the notebook (Ctrl+S), then press.</i>")

    def show(text: str, state: str = "") -> None:
        line.value = status_html(text, state)

    def pressed(_) -> None:
        button.disabled = True
        hand_in(Path(notebook or this_notebook()), show, lambda: setattr(button, "disabled", False), event)

    button.on_click(pressed)
    return widgets.VBox([button, line])
