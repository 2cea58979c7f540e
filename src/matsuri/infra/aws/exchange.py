"""An nbgrader-style exchange over the event's S3 bucket, for SageMaker where everyone is ec2-user.

On a notebook instance every learner runs as the same OS user, so nbgrader's own exchange would
record every submission under one name. Here each participant writes only under
participants/<name>/ (their IAM policy allows nothing else), and `collect` rebuilds nbgrader's
`submitted/<student>/<assignment>/` layout with the right names for `nbgrader autograde`.

Bucket layout:
  releases/<course>/<assignment>/...                                    (instructor → everyone)
  releases/<language>/<course>/<assignment>/...   the copy for those who read <language>
  participants/<name>/submissions/<course>/<assignment>/<timestamp>/... (learner → instructor)
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from matsuri.errors import NotFound, UsageError
from matsuri.infra.participants import USERNAME

EVENT_FILE = Path("/home/ec2-user/SageMaker/.matsuri/event.json")  # written by on-create
SKIP = {".ipynb_checkpoints", "__pycache__", ".git"}


@dataclass(frozen=True)
class Where:
    bucket: str
    participant: str
    region: str | None = None
    language: str = ""  # participants.csv `language` ("": the course's)


def here() -> Where:
    """The bucket and participant of this notebook instance (from on-create's event file)."""
    path = Path(os.environ.get("MATSURI_EVENT_FILE", EVENT_FILE))
    if not path.is_file():
        raise NotFound(f"This machine has no event file at {path}; pass --bucket and --participant.")
    data = json.loads(path.read_text())
    return Where(data["bucket"], data["participant"], data.get("region"), data.get("language", ""))


def _client(region: str | None):
    from matsuri.infra.aws.clients import client

    return client("s3", region or os.environ.get("AWS_DEFAULT_REGION") or "ap-northeast-1")


def _files(folder: Path):
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not SKIP.intersection(path.relative_to(folder).parts):
            yield path


def release_prefix(course: str, assignment: str, language: str = "") -> str:
    return f"releases/{language + '/' if language else ''}{course}/{assignment}/"


def release(where: Where, course: str, assignment: str, folder: Path, language: str = "") -> int:
    """Upload a released assignment (nbgrader's release/<assignment> folder) for everyone, or the
    copy in one `language` (release-by-language/<language>/<assignment>) for those who read it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotFound(f"No released assignment at {folder}; run nbgrader generate_assignment first.")
    s3, count = _client(where.region), 0
    for path in _files(folder):
        s3.upload_file(str(path), where.bucket, release_prefix(course, assignment, language) + path.relative_to(folder).as_posix())
        count += 1
    return count


def fetch(where: Where, course: str, assignment: str, dest: Path) -> Path:
    """Download a released assignment into dest/<assignment> (never overwriting a learner's work),
    in the participant's language when that copy was released."""
    s3 = _client(where.region)
    target = Path(dest) / assignment

    def listed(prefix: str) -> list[str]:
        return [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=where.bucket, Prefix=prefix)
                for o in page.get("Contents", [])]

    prefix = release_prefix(course, assignment, where.language)
    keys = listed(prefix) if where.language else []
    if not keys:
        prefix = release_prefix(course, assignment)
        keys = listed(prefix)
    if not keys:
        raise NotFound(f"Assignment '{assignment}' of course '{course}' has not been released yet.")
    for key in keys:
        path = target / key[len(prefix):]
        if path.exists():
            continue  # the learner's own copy wins
        path.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(where.bucket, key, str(path))
    return target


def submit(where: Where, course: str, assignment: str, folder: Path, now: datetime | None = None) -> str:
    """Upload the learner's assignment folder under their own prefix, stamped like nbgrader does."""
    if not USERNAME.match(where.participant):
        raise UsageError(f"'{where.participant}' is not a participant name.")
    folder = Path(folder)
    files = list(_files(folder)) if folder.is_dir() else []
    if not files:
        raise NotFound(f"Nothing to submit in {folder}: open the assignment and save your work first.")
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    prefix = f"participants/{where.participant}/submissions/{course}/{assignment}/{stamp.replace(' ', '_')}/"
    s3 = _client(where.region)
    for path in files:
        s3.upload_file(str(path), where.bucket, prefix + path.relative_to(folder).as_posix())
    s3.put_object(Bucket=where.bucket, Key=prefix + "timestamp.txt", Body=stamp.encode())
    return f"s3://{where.bucket}/{prefix}"


def collect(where: Where, course: str, assignment: str, course_dir: Path) -> dict[str, str]:
    """Each participant's latest submission into course_dir/submitted/<name>/<assignment>/.

    Returns {participant: timestamp}. A newer local copy is never replaced by an older one.
    """
    s3 = _client(where.region)
    latest: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=where.bucket, Prefix="participants/"):
        for obj in page.get("Contents", []):
            parts = obj["Key"].split("/")
            if len(parts) > 6 and parts[2:5] == ["submissions", course, assignment] and USERNAME.match(parts[1]):
                latest[parts[1]] = max(latest.get(parts[1], ""), parts[5])
    collected = {}
    for name, stamp in sorted(latest.items()):
        prefix = f"participants/{name}/submissions/{course}/{assignment}/{stamp}/"
        target = Path(course_dir) / "submitted" / name / assignment
        have = target / "timestamp.txt"
        stamp_text = stamp.replace("_", " ")
        if have.is_file() and have.read_text().strip() >= stamp_text:
            collected[name] = have.read_text().strip()
            continue
        staging = target.with_name(f".{assignment}.collecting")
        shutil.rmtree(staging, ignore_errors=True)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=where.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                path = staging / obj["Key"][len(prefix):]
                path.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(where.bucket, obj["Key"], str(path))
        shutil.rmtree(target, ignore_errors=True)  # the newer submission replaces the older whole
        staging.rename(target)
        collected[name] = stamp_text
    return collected
