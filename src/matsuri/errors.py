"""One error hierarchy; every message says what was wrong, where, and what to do.

Each class carries its exit code, and the CLI turns any of them into its message and that code in
one place (`matsuri.cli.main`), so library callers get the same errors as the command line:
1 any other MatsuriError, 2 bad input (UsageError), 3 not found, 4 already exists, 5 read-only
warehouse, 6 out of space, 7 a hackathon submission refused (InvalidSubmission), 130 interrupted.
"""

from __future__ import annotations


class MatsuriError(Exception):
    """An error meant for a person: its message is shown as is, without a traceback.

    Messages learners read may also carry a Japanese text (`ja`); `text(lang)` picks one."""

    exit_code = 1

    def __init__(self, *args, ja: str = ""):
        super().__init__(*args)
        self.ja = ja

    def text(self, lang: str = "en") -> str:
        return self.ja if lang == "ja" and self.ja else str(self)


class UsageError(MatsuriError):
    """Bad input on the command line or in a settings file."""

    exit_code = 2


class NotFound(MatsuriError):
    """A file, table, team or course that should exist does not."""

    exit_code = 3


class AlreadyExists(MatsuriError):
    """Refusing to overwrite something that is there already."""

    exit_code = 4


class ReadOnlyViolation(MatsuriError):
    """A statement tried to change a read-only warehouse."""

    exit_code = 5


class OutOfSpace(MatsuriError):
    """The disk filled up (or a file-size limit was hit) while writing."""

    exit_code = 6


class MissingDependency(MatsuriError):
    """Something matsuri needs is not installed on this machine; the message says what to install."""


class InvalidSubmission(MatsuriError):
    """A hackathon submission cannot be scored; the message says why and how to fix it."""

    exit_code = 7


class Interrupted(MatsuriError):
    """The user stopped a long run (Ctrl-C)."""

    exit_code = 130
