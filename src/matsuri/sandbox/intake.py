"""Taking in what a participant hands over: ordinary files only, never more than allowed.

The organiser runs `matsuri hackathon submit` as root on a path a participant chose. Followed
blindly, a link named predictions.csv reads /dev/zero until the disk fills, or a root-only file
whose first line then shows up in an error message; a pipe makes the command wait forever. So a
link is never followed, anything but an ordinary file is refused before a byte is read, and at
most the allowed size (plus one byte, to notice a file that grows while read) is copied.
Refusal messages name the file and the problem, never anything it contains.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from matsuri.errors import InvalidSubmission
from matsuri.sandbox.text import printable

OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a pipe must not block
OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
CHUNK = 1 << 20
SMALLER = {
    ".ipynb": "Clear its outputs (in JupyterLab: Edit > Clear Outputs of All Cells), save it and "
              "submit again.",
    ".csv": "Keep only the expected columns, one line per prediction, and submit again.",
}


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _link(what: str, thing: str = "file") -> InvalidSubmission:
    return InvalidSubmission(
        f"{what} is a link (a shortcut to another {thing}), and submissions never follow links. "
        f"Submit the {thing} itself, not a link to it: put a copy of the real {thing} in its place "
        "and submit again."
    )


def _special(what: str) -> InvalidSubmission:
    return InvalidSubmission(
        f"{what} is a special file (such as a device or a pipe), not an ordinary file, so it "
        "cannot be submitted. Save your work as an ordinary file and submit again."
    )


def _too_big(what: str, size: int, max_bytes: int, suffix: str, growing: bool = False) -> InvalidSubmission:
    size_text = f"grew past {_mb(max_bytes)} while it was being read" if growing else f"is {_mb(size)}"
    advice = SMALLER.get(suffix.lower(), "Make it smaller and submit again.")
    return InvalidSubmission(
        f"{what} {size_text}, more than the {_mb(max_bytes)} this event accepts for one file. {advice}"
    )


def _unreadable(what: str, error: OSError) -> InvalidSubmission:
    if error.errno == errno.ENOENT:
        return InvalidSubmission(f"{what} is no longer there (it was moved or deleted while being "
                                 "submitted). Put it back and submit again.")
    return InvalidSubmission(f"{what} could not be opened for reading. Check that it is an ordinary "
                             "file you can open yourself, and submit again.")


def _refuse_unless_ordinary(info: os.stat_result, what: str, max_bytes: int, suffix: str) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise _link(what)
    if not stat.S_ISREG(info.st_mode):
        raise _special(what)
    if info.st_size > max_bytes:
        raise _too_big(what, info.st_size, max_bytes, suffix)


def copy_in(source: Path, dest: Path, max_bytes: int, what: str | None = None,
            folder: int | None = None) -> int:
    """Copy the ordinary file `source` to `dest` (written whole or not at all); return its size.

    `what` names the file in messages (default: its name); `folder` is a descriptor from
    `open_folder`, and then `source` is a name inside that folder. Raises InvalidSubmission for
    a link, a special file, a file over `max_bytes`, or one that cannot be opened.
    """
    source, dest = Path(source), Path(dest)
    what = printable(what or source.name)
    try:  # look first, without following a link: a device is refused before it is ever opened
        _refuse_unless_ordinary(os.lstat(source, dir_fd=folder), what, max_bytes, source.suffix)
        fd = os.open(source, OPEN_FILE, dir_fd=folder)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _link(what) from None  # it became a link after we looked
        if error.errno == errno.ENXIO:
            raise _special(what) from None  # a socket
        raise _unreadable(what, error) from None
    with os.fdopen(fd, "rb") as reader:
        # and check again what was actually opened: it may have been swapped since we looked
        _refuse_unless_ordinary(os.fstat(reader.fileno()), what, max_bytes, source.suffix)
        return _write_whole(reader, dest, max_bytes, what, source.suffix)


def _write_whole(reader, dest: Path, max_bytes: int, what: str, suffix: str) -> int:
    """Write at most max_bytes to a temporary file beside `dest`, then rename it into place."""
    partial = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.partial")
    copied = 0
    try:
        with open(partial, "xb") as writer:
            while copied <= max_bytes:
                chunk = reader.read(min(CHUNK, max_bytes + 1 - copied))
                if not chunk:
                    break
                writer.write(chunk)
                copied += len(chunk)
        if copied > max_bytes:
            raise _too_big(what, copied, max_bytes, suffix, growing=True)
        os.replace(partial, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return copied


@contextlib.contextmanager
def open_folder(path: Path, what: str | None = None) -> Iterator[int]:
    """A descriptor for the folder `path` itself, never a folder a link points to.

    Files are then opened relative to it (`copy_in(name, …, folder=fd)`), so swapping the
    folder for a link halfway through changes nothing.
    """
    path = Path(path)
    what = printable(what or f"The folder {path.name}")
    try:
        fd = os.open(path, OPEN_FOLDER)
    except OSError as error:
        if error.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise _unreadable(what, error) from None
        linked = path.is_symlink()  # Linux says ENOTDIR, not ELOOP, for a link to a folder
        raise (_link(what, "folder") if linked else _special(what)) from None
    try:
        yield fd
    finally:
        os.close(fd)


def folder_entries(folder: int) -> dict[str, str]:
    """Name -> 'file', 'folder', 'link' or 'special' for each entry, without following links."""
    kinds = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_symlink():
                kinds[entry.name] = "link"
            elif entry.is_file(follow_symlinks=False):
                kinds[entry.name] = "file"
            elif entry.is_dir(follow_symlinks=False):
                kinds[entry.name] = "folder"
            else:
                kinds[entry.name] = "special"
    return kinds
