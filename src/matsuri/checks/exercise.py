"""One exercise as the learner uses it: `q1.check()`, `q1.hint()`, `q1.solution()`.

`verify()` is what the hidden test of each graded check cell calls: it runs the learner's own
query again, so an answer typed in by hand (or changed after the SQL cell ran) does not pass.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING

from matsuri.checks.compare import as_table, compare
from matsuri.checks.display import Feedback
from matsuri.checks.key_file import KEYS_ENV, ExerciseKey
from matsuri.checks.messages import pick, render
from matsuri.checks.outcomes import Incorrect

if TYPE_CHECKING:
    from matsuri.checks.session import Session


@contextmanager
def quiet():
    """No warnings on stderr: nbgrader scores a test cell that writes to stderr as failed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class Exercise:
    def __init__(self, key: ExerciseKey, session: Session):
        self.key = key
        self._session = session
        self._hints_shown = 0

    @property
    def _lang(self) -> str:
        return self._session.lang

    def _follow(self) -> list[str]:
        return [render("try_hint", self._lang, ex=self.key.name)] if self.key.hints else []

    def check(self) -> None:
        """Say whether the answer is right, and if not, how it differs (and note the outcome in
        the learner's activity log)."""
        from matsuri.checks.activity import outcome_of

        try:
            self._check()
        except Exception as error:
            self._session.note(self.key.name, "check", outcome_of(error))
            raise
        self._session.note(self.key.name, "check", outcome_of(None))

    def _check(self) -> None:
        with quiet():
            value = self._session.value(self.key.answer)
            if self.key.estimator:  # says right or not itself, with the model's score
                return self._check_model(value, bool(os.environ.get(KEYS_ENV)))
            if self.key.kind == "python":
                self._check_python(value)
            else:
                compare(self.key, as_table(value, self.key.answer, self._lang), self._lang, self._follow())
        lines = [text] if (text := pick(self.key.explanation, self._lang)) else []
        self._session.show(Feedback("correct", render("correct", self._lang), lines))

    def _check_python(self, value) -> None:
        from matsuri.checks import python_answers

        grading = bool(os.environ.get(KEYS_ENV))  # the grader decides from this data, on its side
        if grading and value is None:
            python_answers.export_nothing(self.key.answer)
        frame = python_answers.as_answer_table(value, self.key.answer, self._lang)
        if grading:
            python_answers.export(self.key.answer, frame)
        python_answers.compare_answer(self.key, frame, self._lang, self._follow())

    def _check_model(self, model, grading: bool) -> None:
        """A trained model, scored on the lesson's validation rows (the grader uses others)."""
        from matsuri.checks import estimators, python_answers
        from matsuri.checks.messages import render
        from matsuri.checks.outcomes import NotAttempted

        var, lang, rules = self.key.answer, self._lang, self.key.estimator
        if model is None:
            if grading:
                python_answers.export_nothing(var)
            raise NotAttempted("not_assigned", lang, var=var)
        if not estimators.is_estimator(model):
            raise Incorrect("not_a_model", lang, self._follow(), var=var,
                            kind=render("kind_other", lang, type=type(model).__name__))
        if grading:
            estimators.save(var, model)
        rows = self._session.query(rules["validation"])
        share, text = estimators.judge(model, rows.drop(columns=[rules["label"]]), rows[rules["label"]],
                                       rules, rules["tiers_validation"], var, lang, "model_score")
        if share < 1:
            raise Incorrect("model_score", lang, self._follow(), text=text)
        lines = [text, *([e] if (e := pick(self.key.explanation, lang)) else [])]
        self._session.show(Feedback("correct", render("correct", lang), lines))

    def verify(self) -> None:
        """Hidden test: the learner's recorded query, run again, must also give the answer."""
        var = self.key.answer
        with quiet():
            sql = self._session.sql_sources.get(var)
            if not sql:
                raise Incorrect("from_sql", self._lang, var=var)
            try:
                frame = self._session.rerun(sql)
                compare(self.key, frame, self._lang)
            except Exception:
                raise Incorrect("rerun_differs", self._lang, var=var) from None

    def hint(self) -> None:
        """Show the next hint; each call reveals a little more."""
        self._session.note(self.key.name, "hint")
        hints = pick(self.key.hints, self._lang) or []
        if not hints:
            self._session.show(Feedback("hint", render("no_hints", self._lang)))
            return
        n = min(self._hints_shown + 1, len(hints))
        self._hints_shown = n
        lines = [hints[n - 1]]
        if n == len(hints):
            lines.append(render("hint_last", self._lang))
        title = render("hint_title", self._lang, n=n, total=len(hints))
        self._session.show(Feedback("hint", title, lines))

    def solution(self) -> None:
        """Show the reference query, if the organiser allows it in the course settings."""
        self._session.note(self.key.name, "solution")
        if not self.key.solution:
            message = render("solution_disabled", self._lang, ex=self.key.name)
            self._session.show(Feedback("info", render("solution_title", self._lang), [message]))
            return
        self._session.show(
            Feedback("solution", render("solution_title", self._lang), code=self.key.solution)
        )

    def __repr__(self) -> str:
        title = pick(self.key.title, self._lang) or self.key.name
        return f"{self.key.name}: {title} — {self.key.name}.check(), {self.key.name}.hint()"
