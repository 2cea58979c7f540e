"""How feedback looks: one small object that renders as HTML in notebooks and as plain lines
in an error box. Outcomes decide *what* to say; this decides *how* it is shown."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

STYLES = {
    "correct": ("#1b7f3b", "#e9f7ee", "✓"),
    "incorrect": ("#b3261e", "#fdecea", "✗"),
    "hint": ("#7a5b00", "#fff8e1", "💡"),
    "solution": ("#1a4f8b", "#e8f0fb", "📘"),
    "info": ("#37474f", "#f1f3f4", "ℹ"),
}
ANSI = {"correct": "32", "incorrect": "31", "hint": "33", "solution": "34", "info": "36"}


@dataclass
class Feedback:
    kind: str
    title: str
    lines: list[str] = field(default_factory=list)
    code: str | None = None
    small: str | None = None  # shown last, smaller and grey: e.g. the database's own message

    def text(self) -> str:
        icon = STYLES[self.kind][2]
        parts = [f"{icon} {self.title}", *self.lines]
        if self.code:
            parts.append(self.code)
        if self.small:
            parts.append(self.small)
        return "\n".join(parts)

    def ansi(self) -> list[str]:
        """Lines for an error box: the title in colour, then the message, `code` in bold blue (an
        error box shows no Markdown: backticks would reach the learner as they are)."""
        icon = STYLES[self.kind][2]
        head = f"\x1b[1;{ANSI[self.kind]}m{icon} {self.title}\x1b[0m"
        body = "\n".join([_ansi_code(line) for line in self.lines] + ([self.code] if self.code else [])
                         + ([f"\x1b[2m{self.small}\x1b[22m"] if self.small else []))
        return [f"{head}\n{body}" if body else head]

    def _repr_html_(self) -> str:
        colour, background, icon = STYLES[self.kind]
        lines = "".join(f"<div>{_inline_code(line)}</div>" for line in self.lines)
        code = (
            f"<pre style='margin:6px 0 0;background:#fff;padding:6px'>{html.escape(self.code)}</pre>"
            if self.code else ""
        )
        small = (
            f"<pre class='matsuri-original' style='margin:6px 0 0;font-size:80%;color:#5f6368;"
            f"white-space:pre-wrap'>{html.escape(self.small)}</pre>" if self.small else ""
        )
        return (
            f"<div class='matsuri-feedback matsuri-{self.kind}' style='border-left:4px solid {colour};"
            f"background:{background};padding:8px 12px;margin:4px 0;color:#202124'>"
            f"<strong style='color:{colour}'>{icon} {html.escape(self.title)}</strong>{lines}{code}{small}</div>"
        )

    def __repr__(self) -> str:
        return self.text()


def _inline_code(text: str) -> str:
    """`code` spans become <code>; everything else is escaped."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces)).replace(
        "\n", "<br>"
    )


def _ansi_code(text: str) -> str:
    """`code` spans in bold blue; the rest as it is."""
    pieces = text.split("`")
    if len(pieces) % 2 == 0:  # an unpaired backtick: not code, leave the line alone
        return text
    return "".join(f"\x1b[1;34m{p}\x1b[22;39m" if i % 2 else p for i, p in enumerate(pieces))
