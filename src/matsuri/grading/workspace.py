"""Where a course is run: an nbgrader course folder beside the content, and the engine that drives
nbgrader in-process (its Python API returns success and the captured log instead of exiting).

    courses/build/<course>/            (MATSURI_COURSE_WORK or --workdir replaces courses/build)
      nbgrader_config.py               written here; loads the shared courses/nbgrader_config.py
      source/ release/ submitted/ autograded/ feedback/ gradebook.db    nbgrader's own layout
      release-by-language/<lang>/      each language's copy of release/ (bilingual courses)
      private/keys/<lesson>.json       check keys for grading (never released)
      exports/                         gradebook.csv, scores.csv, grading-report.csv, progress.*
    courses/build/exchange/            the local exchange learners fetch from and submit to
"""

from __future__ import annotations

import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

from matsuri import paths
from matsuri.errors import MatsuriError, UsageError
from matsuri.grading.course import Course, courses_dir

WORK_ENV = "MATSURI_COURSE_WORK"
EXCHANGE_ENV = "MATSURI_EXCHANGE"
SHARED_CONFIG = "nbgrader_config.py"
BY_LANGUAGE = "release-by-language"


class GradingError(MatsuriError):
    """An nbgrader step failed; the message carries the end of its log."""


@dataclass
class Workspace:
    course: Course
    root: Path
    exchange: Path
    warehouse: Path
    cell_timeout: int

    @classmethod
    def open(cls, course: Course, workdir: Path | None = None, exchange: Path | None = None,
             warehouse: Path | None = None, cell_timeout: int | None = None) -> Workspace:
        base = Path(workdir or os.environ.get(WORK_ENV) or courses_dir() / "build").resolve()
        exchange = Path(exchange or os.environ.get(EXCHANGE_ENV) or base / "exchange").resolve()
        timeout = course.cell_timeout if cell_timeout is None else cell_timeout
        if timeout <= 0:
            raise UsageError(f"The cell timeout must be a positive number of seconds, not {timeout}.")
        return cls(course, base / course.name, exchange,
                   Path(warehouse or paths.warehouse_path()).resolve(), timeout)

    # --- folders ------------------------------------------------------------------------
    @property
    def gradebook(self) -> Path:
        return self.root / "gradebook.db"

    def step(self, name: str, *parts: str) -> Path:
        return self.root.joinpath(name, *parts)

    @property
    def keys_dir(self) -> Path:
        return self.root / "private" / "keys"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    def submitted_notebook(self, student: str, lesson: str, notebook: str | None = None) -> Path:
        return self.step("submitted", student, lesson, f"{notebook or lesson}.ipynb")

    def released_notebook(self, lesson: str, notebook: str | None = None) -> Path:
        return self.step("release", lesson, f"{notebook or lesson}.ipynb")

    # --- nbgrader ----------------------------------------------------------------------
    def prepare(self) -> None:
        """Create the folders and write the course's nbgrader_config.py (idempotent)."""
        # beside the course (an organiser's own settings), else the kit's own
        candidates = [self.course.folder.parent / SHARED_CONFIG,
                      paths.project_root() / "courses" / SHARED_CONFIG]
        shared = next((p for p in candidates if p.is_file()), None)
        if shared is None:
            raise UsageError(f"The shared nbgrader settings {candidates[-1]} are missing.")
        self.root.mkdir(parents=True, exist_ok=True)
        private = self.root / "private"
        private.mkdir(mode=0o700, exist_ok=True)
        private.chmod(0o700)
        self.exchange.mkdir(parents=True, exist_ok=True)
        text = "\n".join([
            "# Written by `matsuri course`. Shared settings: courses/nbgrader_config.py;",
            f"# course settings: courses/{self.course.name}/course.toml (if any). Stock nbgrader",
            "# commands work here too; `matsuri course grade` adds the sandbox and parallel workers.",
            "c = get_config()  # noqa: F821",
            f"load_subconfig({str(shared)!r})  # noqa: F821",
            f"c.CourseDirectory.root = {str(self.root)!r}",
            f"c.CourseDirectory.course_id = {self.course.name!r}",
            f"c.CourseDirectory.db_url = {self.db_url!r}",
            f"c.Exchange.root = {str(self.exchange)!r}",
            f"c.Execute.timeout = {self.cell_timeout}",
            f"c.ExecuteWithinLimits.language = {self.course.language!r}",
            f"c.KeepOneLanguage.language = {self.course.language!r}",
            f"c.DecideGrades.keys = {str(self.keys_dir)!r}",
            f"c.DecideGrades.warehouse = {str(self.warehouse)!r}",
            f"c.DecideGrades.timeout = {self.cell_timeout}",
            "",
        ])
        config = self.root / "nbgrader_config.py"
        if not config.exists() or config.read_text() != text:
            config.write_text(text)

    @property
    def db_url(self) -> str:
        # A generous busy timeout: parallel graders take turns writing the gradebook.
        return f"sqlite:///{self.gradebook}?timeout=120"

    def use_wal(self) -> None:
        """Readers never block writers in WAL mode, so parallel graders do not fail on locks."""
        if self.gradebook.exists():
            with sqlite3.connect(self.gradebook) as db:
                db.execute("PRAGMA journal_mode=WAL")

    def config(self):
        from traitlets.config.loader import PyFileConfigLoader

        self.prepare()
        return PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()

    def api(self):
        """nbgrader's Python API on this course (imports nbgrader: call only when needed)."""
        from nbgrader.apps.api import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        os.environ["PATH"] = self.kernel_env()["PATH"]  # nbgrader runs `alembic` by bare name
        config = self.config()
        return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)

    def kernel_env(self) -> dict[str, str]:
        """What grading kernels need: the warehouse, no telemetry, alembic on PATH. Not the
        private keys: grades are decided outside the kernel (answers.py)."""
        bin_dir = str(Path(sys.executable).parent)
        path = os.environ.get("PATH", "")
        return {
            paths.WAREHOUSE_ENV: str(self.warehouse),
            "PLOOMBER_STATS_ENABLED": "false",
            "PATH": path if path.startswith(bin_dir) else f"{bin_dir}{os.pathsep}{path}",
        }


def check(result: dict, what: str) -> str:
    """An nbgrader API result: its log if it worked, else a GradingError with the log's end."""
    log = result.get("log") or ""
    if result.get("success"):
        return log
    tail = "\n".join((log + "\n" + (result.get("error") or "")).strip().splitlines()[-15:])
    raise GradingError(f"{what} failed. nbgrader said:\n{tail}")
