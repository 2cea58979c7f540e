"""Text a participant influenced, made safe to show on the organiser's terminal.

Team names, file names, CSV values and a notebook's error text can carry escape sequences that
clear the screen, retitle the window, forge hyperlinks or reorder what is shown (bidi overrides).
Everything printed from such text goes through `printable` first; Japanese and emoji stay as they are.
"""

from __future__ import annotations

import re

# Strings with a body (OSC: titles, hyperlinks, clipboard; DCS, SOS, PM, APC), ended by BEL or ST.
# Only a terminated string is removed whole; a lone introducer loses just its control characters.
_STRINGS = re.compile(r"(?:\x1b[P\]X^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)")
# CSI: ESC [ (or the one-character form) parameters, intermediates, a final byte.
_CSI = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]")
# Other escapes: ESC, optional intermediates, a final byte (reset, charset changes, …).
_ESCAPES = re.compile(r"\x1b[ -/]*[0-~]")
# Left over: C0 controls but newline and tab, DEL, C1 controls, bidi marks, embeddings,
# overrides and isolates.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` without terminal control characters or escape sequences; newlines and tabs kept."""
    text = _STRINGS.sub("", str(text))
    text = _CSI.sub("", text)
    text = _ESCAPES.sub("", text)
    return _CONTROLS.sub("", text)


def quoted(value: object, limit: int = 40) -> str:
    """A participant's value shown inside a one-line message: printable, on one line, at most
    `limit` characters (a long value ends with …)."""
    text = " ".join(printable(str(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
