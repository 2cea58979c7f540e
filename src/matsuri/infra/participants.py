"""participants.csv: one row per person (user name, e-mail, role, team, and optionally the language
the person reads: `ja` or `en`, else the course's; their job, which tells engineers from everyone
else in the festival funnel; and `activity_log = no` for someone who opts out of the learner activity
log), checked before anything is made.

Every problem is reported at once with its line and column, so an organiser fixes the sheet in one
pass. User names become system accounts and AWS resource names, hence the strict pattern.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from matsuri.errors import NotFound, UsageError

ROLES = ("learner", "instructor", "judge")
USERNAME = re.compile(r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$")
EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
RESERVED = {"root", "admin", "administrator", "daemon", "bin", "sys", "nobody", "jovyan", "ec2-user",
            "ubuntu", "www-data", "postgres", "sshd", "hub", "jupyterhub"}
COLUMNS = {  # accepted header spellings -> field
    "username": "username", "user": "username", "name": "username", "user name": "username",
    "user_name": "username", "email": "email", "e-mail": "email", "mail": "email",
    "role": "role", "team": "team", "language": "language", "lang": "language", "言語": "language",
    "job": "job", "job title": "job", "job_title": "job", "職種": "job",
    "activity_log": "activity_log", "activity log": "activity_log", "activity-log": "activity_log",
}
LANGUAGES = ("ja", "en")
YES, NO = ("yes", "true", "1", "はい"), ("no", "false", "0", "いいえ")  # activity_log; empty is yes
MAX_JOB = 60
MAX_SHOWN = 15


@dataclass(frozen=True)
class Participant:
    username: str
    email: str
    role: str
    team: str = ""
    line: int = 0
    language: str = ""  # "" reads the course's language
    job: str = ""       # free text (matsuri.funnel.jobs tells engineers apart); "" unknown
    activity_log: bool = True  # False: this person opted out of the learner activity log


def load(path: Path) -> list[Participant]:
    """Read and check participants.csv; raise one UsageError listing every bad row."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"No participants file at {path}. Make a CSV with the columns "
                       "username,email,role,team (see infra/participants.example.csv).")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text. Save it from your spreadsheet as "
                         "'CSV UTF-8' and try again.") from None
    return parse(text.splitlines(), source=str(path))


def parse(lines: Iterable[str], source: str = "participants.csv") -> list[Participant]:
    reader = csv.reader(lines)
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise UsageError(f"{source} is empty: its first line should be the header "
                         "username,email,role,team.")
    fields = [COLUMNS.get(h.strip().lower()) for h in header]
    problems = [f"line 1, column {i + 1} '{h.strip()}': unknown column; the columns are "
                "username, email, role, team, language, job, activity_log" for i, (h, f) in enumerate(zip(header, fields, strict=True))
                if f is None and h.strip()]
    missing = [c for c in ("username", "email", "role") if c not in fields]
    if missing:
        problems.append(f"line 1: missing column(s) {', '.join(missing)}")
    if problems:
        raise _error(source, problems)

    people: list[Participant] = []
    seen: dict[str, int] = {}
    seen_mail: dict[str, int] = {}
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(fields):
            problems.append(f"line {number}: {len(row)} cells but the header has {len(fields)} "
                            "(a comma inside a name? quote it)")
            continue
        record = {f: cell.strip() for f, cell in zip(fields, row, strict=False) if f}
        found = _check_row(record, number, seen, seen_mail)
        problems.extend(found)
        if not found:
            people.append(Participant(record["username"], record["email"], record["role"].lower(),
                                      record.get("team", ""), number, record.get("language", "").lower(),
                                      record.get("job", ""),
                                      record.get("activity_log", "").lower() not in NO))
    if problems:
        raise _error(source, problems)
    if not people:
        raise UsageError(f"{source} lists nobody: add one row per participant under the header.")
    return people


def _check_row(record: dict, number: int, seen: dict, seen_mail: dict) -> list[str]:
    out = []
    name = record.get("username", "")
    where = f"line {number}, column 'username'"
    if not name:
        out.append(f"{where}: empty; every participant needs a user name")
    elif not USERNAME.match(name):
        hint = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:32].rstrip("-")
        suggestion = f" (for example '{hint}')" if USERNAME.match(hint) else ""
        out.append(f"{where}: '{name}' is not usable as an account name; use 1-32 lower-case "
                   f"letters, digits and '-', starting with a letter and not ending with '-'{suggestion}")
    elif name in RESERVED:
        out.append(f"{where}: '{name}' is reserved for the system; pick another name")
    elif name in seen:
        out.append(f"{where}: '{name}' already appears on line {seen[name]}")
    else:
        seen[name] = number
    mail = record.get("email", "")
    if not EMAIL.match(mail):
        out.append(f"line {number}, column 'email': '{mail}' is not an e-mail address")
    elif mail.lower() in seen_mail:
        out.append(f"line {number}, column 'email': '{mail}' already appears on line {seen_mail[mail.lower()]}")
    else:
        seen_mail[mail.lower()] = number
    role = record.get("role", "").lower()
    if role not in ROLES:
        out.append(f"line {number}, column 'role': '{record.get('role', '')}' is not a role; "
                   f"use {', '.join(ROLES[:-1])} or {ROLES[-1]}")
    language = record.get("language", "")
    if language and language.lower() not in LANGUAGES:
        out.append(f"line {number}, column 'language': '{language}' is not a language of the kit; "
                   f"use {' or '.join(LANGUAGES)}, or leave it empty for the course's language")
    if len(record.get("job", "")) > MAX_JOB:
        out.append(f"line {number}, column 'job': longer than {MAX_JOB} characters; write the job "
                   "name only (for example 'sales' or 'data engineer')")
    logging = record.get("activity_log", "").lower()
    if logging and logging not in YES + NO:
        out.append(f"line {number}, column 'activity_log': '{record['activity_log']}' is neither yes "
                   "nor no; write no for someone who opts out of the activity log, else yes or nothing")
    return out


def _error(source: str, problems: list[str]) -> UsageError:
    shown = problems[:MAX_SHOWN]
    more = f"\n  … and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
    return UsageError(f"{source} has {len(problems)} problem(s); nothing was created. Fix these rows:\n  "
                      + "\n  ".join(shown) + more)


def by_role(people: Iterable[Participant], role: str) -> list[Participant]:
    return [p for p in people if p.role == role]
