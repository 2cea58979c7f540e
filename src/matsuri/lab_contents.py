"""What `matsuri lab` serves: the files under its folder, and nothing a symlink leads to elsewhere.

jupyter_server's FileContentsManager (services/contents/fileio.py, `_get_os_path`) refuses `../`
and absolute paths, but it compares paths as written (os.path.abspath), so a symlink inside the
folder is served wherever it points. /files/ is tornado's StaticFileHandler, which refuses such
links itself only from tornado 6.5.9 on. Both check here where a path really leads (realpath).
Hidden files stay refused by jupyter_server (`ContentsManager.allow_hidden`, off).
"""

from __future__ import annotations

import errno
import os

from jupyter_server.base.handlers import AuthenticatedFileHandler
from jupyter_server.services.contents.filecheckpoints import AsyncFileCheckpoints
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web
from traitlets import default


def inside(path: str, root: str) -> bool:
    """Does `path`, symlinks resolved, lead to `root` or below it?"""
    real_root = os.path.realpath(root).rstrip(os.sep) + os.sep
    return (os.path.realpath(path) + os.sep).startswith(real_root)


class Outside(web.HTTPError, PermissionError):
    """A 404 for the client. It is also an OSError with EACCES, which jupyter_server's folder
    listing skips quietly, so a link leading out is left out of the listing instead of failing it."""

    def __init__(self, path: str) -> None:
        super().__init__(404, "%s leads outside the lab's folder", path)
        self.errno = errno.EACCES


class RootedFileHandler(AuthenticatedFileHandler):
    """/files/: jupyter_server's handler, refusing what a symlink leads to outside the folder."""

    def validate_absolute_path(self, root: str, absolute_path: str) -> str:
        checked = super().validate_absolute_path(root, absolute_path)
        if not inside(checked, root):
            raise web.HTTPError(404)
        return checked


class Rooted:
    """For jupyter_server's file classes: an API path that leads outside `root_dir` is refused."""

    def _get_os_path(self, path):
        os_path = super()._get_os_path(path)
        if not inside(os_path, self.root_dir):
            raise Outside(path)
        return os_path


class RootedCheckpoints(Rooted, AsyncFileCheckpoints):
    """Checkpoints (.ipynb_checkpoints/) of files under the folder only."""


class RootedContentsManager(Rooted, AsyncLargeFileManager):
    """jupyter_server's default contents manager, confined to `root_dir` (also /files/, checkpoints)."""

    @default("files_handler_class")
    def _files_handler_class_default(self):
        return RootedFileHandler

    @default("checkpoints_class")
    def _checkpoints_class_default(self):
        return RootedCheckpoints
