"""Settings files read strictly: every key typed and checked, every problem named by its key.

A misspelt key is an error, not silently ignored: an organiser who writes `dialy_limit` learns it
before the event starts rather than when the limit does not apply. Used for `event.toml` and each
theme's `theme.toml`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tomllib
from pathlib import Path

from matsuri.errors import NotFound, UsageError

REQUIRED = object()
KIND_NAMES = {int: "a whole number", float: "a number", bool: "true or false", str: "text in quotes",
              dt.date: "a date like 2026-06-01 (no quotes)", list: "a list [ … ]", dict: "a table"}


def read(path: Path, what: str, hint: str) -> dict:
    """The TOML file at `path` as a dict; `what` names it in messages, `hint` says how to get one."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"No {what} at {path}. {hint}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path} is not valid TOML: {error}. Fix that line and try again.") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text. Save it as UTF-8 and try again.") from None


def suggestion(word: str, choices) -> str:
    """' (did you mean x?)' when one of `choices` is close to `word`, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


class Section:
    """Take typed values out of one TOML table; whatever is left over is an unknown key."""

    def __init__(self, data: object, where: str, path: Path, what: str = "settings",
                 example: str = ""):
        self.where, self.path, self.what, self.example = where, path, what, example
        if not isinstance(data, dict):
            self.fail(where, "must be a table (a [section] with keys)")
        self.data = dict(data)
        self.known: list[str] = []

    def fail(self, key: str, problem: str):
        raise UsageError(f"Invalid {self.what} in {self.path}: `{key}` {problem}.")

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def take(self, name: str, kind: type, default=REQUIRED, check=None, hint: str = ""):
        key = self.key(name)
        self.known.append(name)
        if name not in self.data:
            if default is REQUIRED:
                self.fail(key, "is missing" + (f" ({hint})" if hint else ""))
            return default
        value = self.data.pop(name)
        ok = {
            int: isinstance(value, int) and not isinstance(value, bool),
            float: isinstance(value, int | float) and not isinstance(value, bool),
            bool: isinstance(value, bool),
            str: isinstance(value, str),
            dt.date: isinstance(value, dt.date) and not isinstance(value, dt.datetime),
            list: isinstance(value, list),
            dict: isinstance(value, dict),
        }[kind]
        if not ok:
            self.fail(key, f"must be {KIND_NAMES[kind]}, not {value!r}")
        if kind is float:
            value = float(value)
        if check is not None:
            problem = check(value)
            if problem:
                self.fail(key, problem)
        return value

    def sub(self, name: str) -> Section:
        self.known.append(name)
        return Section(self.data.pop(name, {}), self.key(name), self.path, self.what, self.example)

    def done(self) -> None:
        if self.data:
            unknown = sorted(self.data)[0]
            where = f" against {self.example}" if self.example else ""
            self.fail(self.key(unknown), f"is not a setting matsuri knows"
                      f"{suggestion(unknown, self.known)} (check the spelling{where})")


def at_least(minimum):
    return lambda v: None if v >= minimum else f"must be at least {minimum}, not {v}"


def between(low, high):
    return lambda v: None if low <= v <= high else f"must be between {low} and {high}, not {v}"


def not_blank(value: str) -> str | None:
    return None if value.strip() else "must not be blank"
