"""Remember what a demo learnt, so the next judge's page opens fast.

Every Voila page view starts a fresh kernel, and learning from the warehouse takes seconds. The
first view learns and stores the result under `~/.cache/matsuri` (or `$MATSURI_CACHE`), keyed by
the warehouse file (path, size, modification time) and by the code of `matsuri.templates`; later
views load it, and views opened while it learns wait for it. A rebuilt warehouse or changed code
means learning again. Only this user's own cache folder (mode 0700) is ever read, because loading
a pickle runs code.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import TypeVar

from matsuri import paths

CACHE_ENV = "MATSURI_CACHE"
T = TypeVar("T")


def cache_dir() -> Path:
    folder = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "matsuri") / "demos"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


@cache
def code_version() -> str:
    """A fingerprint of the theme code: models pickled by other code are not reused."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def key(name: str, warehouse: str | Path | None) -> str:
    target = Path(warehouse) if warehouse else paths.warehouse_path()
    stat = target.resolve().stat()
    identity = f"{name}|{target.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{code_version()}"
    slug = "".join(c if c.isalnum() else "-" for c in name)
    return f"{slug}-{hashlib.sha256(identity.encode()).hexdigest()[:20]}"


def remembered(name: str, warehouse: str | Path | None, learn: Callable[[], T]) -> T:
    """`learn()` once per warehouse and code version; afterwards, its stored result."""
    import joblib

    try:
        path = cache_dir() / f"{key(name, warehouse)}.joblib"
    except OSError:  # no usable cache folder (or no warehouse yet): just learn
        return learn()
    with _one_at_a_time(path.with_suffix(".lock")):
        if path.is_file() and path.stat().st_uid == os.getuid():
            try:
                return joblib.load(path)
            except Exception:  # a damaged or incompatible file: learn again and replace it
                path.unlink(missing_ok=True)
        result = learn()
        partial = None
        try:
            fd, partial = tempfile.mkstemp(dir=path.parent, suffix=".partial")
            os.close(fd)
            joblib.dump(result, partial)
            os.replace(partial, path)
        except OSError:  # a full or read-only disk: the demo still works, it just learns next time too
            if partial:
                Path(partial).unlink(missing_ok=True)
        return result


@contextlib.contextmanager
def _one_at_a_time(lock: Path) -> Iterator[None]:
    """Judges opening a demo at once while nothing is stored yet: one page view learns, the others
    wait for its result instead of each learning the same (ten at once on two cores took 40 s and
    more than 3 GB). A view that dies learning releases the lock with its process."""
    try:
        fd = os.open(lock, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
    except OSError:  # no lock to be had: learn anyway
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
