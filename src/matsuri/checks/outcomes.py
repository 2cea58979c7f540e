"""What a check can conclude, as exceptions (as in Kaggle learntools). A cell that raises one
shows its message in the learner's language and no traceback (`_render_traceback_` is the hook
IPython calls), and nbgrader counts the test cell as failed because the cell ends in an error."""

from __future__ import annotations

from matsuri.checks.display import Feedback
from matsuri.checks.messages import render


class Outcome(Exception):
    title_key = "incorrect"
    kind = "incorrect"

    def __init__(self, key: str, lang: str = "en", follow: list[str] | None = None, *,
                 text: str | None = None, **fields):
        self.key, self.lang, self.fields = key, lang, fields
        self.follow = follow or []
        self.message = text or render(key, lang, **fields)
        super().__init__(self.message)

    def feedback(self) -> Feedback:
        return Feedback(self.kind, render(self.title_key, self.lang), [self.message, *self.follow])

    def _render_traceback_(self) -> list[str]:
        return self.feedback().ansi()


class NotAttempted(Outcome):
    """No answer yet: the SQL cell was not run, or holds no query."""

    title_key = "not_attempted_title"


class Incorrect(Outcome):
    """An answer that differs from the reference; the message says how, never what."""


class Uncheckable(Outcome):
    """The check itself cannot run (no answer key, no warehouse)."""

    title_key = "problem"


class SqlProblem(Outcome):
    """The learner's SQL could not run, or tried to change the read-only warehouse. A database
    message that `sql_errors` recognises is said in plain words, with the original below it."""

    title_key = "sql_problem"

    def __init__(self, key: str, lang: str = "en", follow: list[str] | None = None, *,
                 text: str | None = None, **fields):
        self.original = None
        if key == "sql_error" and text is None:
            from matsuri.checks.sql_errors import explain

            text = explain(str(fields.get("detail", "")), lang)
            if text is not None:
                self.original = str(fields["detail"])
        super().__init__(key, lang, follow, text=text, **fields)

    def feedback(self) -> Feedback:
        shown = super().feedback()
        if self.original:
            shown.small = f"{render('sql_error_original', self.lang)}\n{self.original}"
        return shown
