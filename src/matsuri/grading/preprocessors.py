"""nbgrader preprocessors that SQL lessons need, each one step (wired in courses/nbgrader_config.py).

- KeepOneLanguage: release. Prose is written once per language in the source notebook (paired
  cells marked `metadata.matsuri.lang`); the learner's notebook keeps the course's language
  (`matsuri course release` keeps them all, then writes one copy per language: release.py).
- ClearSqlSolutions: release. nbgrader's stub for a Python kernel is `raise NotImplementedError()`,
  which is not SQL; a `%%sql` cell gets a SQL comment instead.
- ForgetDuplicateIds: autograde. A copied cell keeps its grade id; nbgrader's DeduplicateIds
  empties the earlier copy's nbgrader metadata, which add_missing_cells then trips over
  (KeyError), failing the notebook. Here the extra copy loses the metadata entirely.
- RestoreLockedCells: autograde. nbgrader puts back deleted *test* cells (add_missing_cells) but
  never a deleted locked setup cell, so a correct learner would score 0 through a NameError.
- ExecuteWithinLimits: autograde. nbgrader's Execute, but a cell that does not stop when
  interrupted costs only itself: the kernel is killed and started again, the cells above are run
  again quietly, and the notebook goes on.
- DecideGrades: autograde. Every check cell's outcome is decided here, on the organiser's side,
  from the learner's SQL (answers.py); what the kernel printed in check cells is replaced.
- HideTestTracebacks: feedback. Tracebacks of test cells can quote hidden tests; learners see
  our plain message (or a one-line note) instead.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearSolutions, DeduplicateIds, Execute, NbGraderPreprocessor
from traitlets import Integer, Unicode

from matsuri.checks.display import Feedback
from matsuri.checks.messages import language, render

OUR_OUTCOMES = {"Incorrect", "NotAttempted", "Uncheckable", "SqlProblem"}


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_sql_cell(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith("%%sql")


EVERY_LANGUAGE = "*"


def cell_language(cell) -> str | None:
    return cell.get("metadata", {}).get("matsuri", {}).get("lang")


def only_language(nb, language: str):
    """The notebook without the cells written for another language (cells without one stay)."""
    nb.cells = [c for c in nb.cells if cell_language(c) in (None, language)]
    return nb


class KeepOneLanguage(NbGraderPreprocessor):
    """Drop the cells written for another language than the course's."""

    language = Unicode("en", help="The course's language (course.toml); '*' keeps every one.").tag(config=True)

    def preprocess(self, nb, resources):
        if self.language != EVERY_LANGUAGE:
            only_language(nb, self.language)
        return nb, resources


class ClearSqlSolutions(ClearSolutions):
    """ClearSolutions, with the `sql` entry of `code_stub` for `%%sql` cells."""

    def preprocess_cell(self, cell, resources, cell_index):
        if not is_sql_cell(cell) or "sql" not in self.code_stub:
            return super().preprocess_cell(cell, resources, cell_index)
        language = resources["language"]
        resources["language"] = "sql"
        try:
            return super().preprocess_cell(cell, resources, cell_index)
        finally:
            resources["language"] = language


class ForgetDuplicateIds(DeduplicateIds):
    """DeduplicateIds (the last copy keeps the id), leaving earlier copies as ordinary cells."""

    def preprocess_cell(self, cell, resources, cell_index):
        if not (utils.is_grade(cell) or utils.is_solution(cell) or utils.is_locked(cell)):
            return cell, resources
        if cell.metadata.nbgrader["grade_id"] in self.grade_ids:
            del cell.metadata["nbgrader"]
            return cell, resources
        self.grade_ids.add(cell.metadata.nbgrader["grade_id"])
        return cell, resources


class RestoreLockedCells(NbGraderPreprocessor):
    """Put back locked (read-only) cells a learner deleted, where the released notebook has them."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        present = {grade_id(c) for c in nb.cells}
        order = self._released_order(info["assignment"], info["notebook"])
        restored = []
        with Gradebook(info["db_url"]) as gb:
            try:
                notebook = gb.find_notebook(info["notebook"], info["assignment"])
            except MissingEntry:
                return nb, resources
            missing = [c for c in notebook.source_cells
                       if c.locked and c.name not in present and c.name in order]
            for source in sorted(missing, key=lambda c: order.index(c.name)):
                position = self._position(nb, order, source.name)
                nb.cells.insert(position, self._cell(source))
                restored.append(source.name)
        if restored:
            self.log.warning("Restored deleted locked cell(s): %s", ", ".join(restored))
            nb.metadata.setdefault("matsuri", {})["restored_cells"] = restored
        return nb, resources

    def _released_order(self, assignment: str, notebook: str) -> list[str]:
        coursedir = CourseDirectory(config=self.config)
        path = os.path.join(
            coursedir.format_path(coursedir.release_directory, ".", assignment), f"{notebook}.ipynb"
        )
        if not os.path.exists(path):
            return []
        released = nbformat.read(path, as_version=4)
        return [grade_id(c) for c in released.cells if grade_id(c)]

    @staticmethod
    def _position(nb, order: list[str], name: str) -> int:
        """Just after the nearest earlier released cell still in the notebook (or at the top)."""
        earlier = order[: order.index(name)]
        for index in range(len(nb.cells) - 1, -1, -1):
            if grade_id(nb.cells[index]) in earlier:
                return index + 1
        return 0

    @staticmethod
    def _cell(source) -> NotebookNode:
        make = nbformat.v4.new_code_cell if source.cell_type == "code" else nbformat.v4.new_markdown_cell
        cell = make(source.source)
        cell.metadata = NotebookNode({
            "deletable": False,
            "editable": False,
            "nbgrader": NotebookNode({
                "grade": False, "grade_id": source.name, "locked": True, "schema_version": 3,
                "solution": False, "task": False, "checksum": source.checksum,
            }),
        })
        return cell

    def preprocess_cell(self, cell, resources, index):
        return cell, resources


class HideTestTracebacks(NbGraderPreprocessor):
    """Feedback: test cells show our learner message, or one line, never a Python traceback."""

    note = Unicode(
        "The check of this answer stopped with an error ({ename}).",
        help="Shown instead of a traceback from a test cell.",
    ).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not utils.is_grade(cell):
            return cell, resources
        for output in cell.get("outputs", []):
            if output.output_type != "error":
                continue
            if output.ename not in OUR_OUTCOMES:
                output.traceback = [self.note.format(ename=output.ename)]
                output.evalue = ""
        return cell, resources


class ExecuteWithinLimits(Execute):
    """Execute, where a cell that ignores the interrupt (or kills its kernel) is marked and the
    notebook goes on in a new kernel, after the cells above it are run again without output."""

    restarts = Integer(3, help="New kernels one notebook may get; then the rest is not run.").tag(
        config=True)
    language = Unicode("en", help="Language of the note left in a stopped cell.").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._left = self.restarts
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if self._left < 0:
            if cell.cell_type == "code":
                cell.outputs = [self._note("stopped", "CellStopped")]
            return cell, self.resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except (CellTimeoutError, DeadKernelError) as error:
            stopped = isinstance(error, CellTimeoutError)
            self.log.warning("Cell %d %s; starting a new kernel", index,
                             "did not stop" if stopped else "killed its kernel")
            cell.outputs = [self._note("stopped" if stopped else "crashed",
                                       "CellStopped" if stopped else "KernelStopped")]
            self._left -= 1
            if self._left < 0 or not self._start_again(index):
                self._left = -1
            return cell, self.resources

    def _note(self, key: str, ename: str):
        lang = language(self.language)
        feedback = Feedback("incorrect", render("problem", lang),
                            [render(key, lang, seconds=self.timeout)])
        return new_output("error", ename=ename, evalue=feedback.text(), traceback=feedback.ansi())

    def _start_again(self, index: int) -> bool:
        """A new kernel with the state the cells above `index` left (False if that fails)."""
        try:
            run_sync(self.km.restart_kernel)(now=True)
            run_sync(self.kc.wait_for_ready)(timeout=self.startup_timeout)
            for earlier, cell in enumerate(self.nb.cells[:index]):
                if cell.cell_type == "code" and not any(
                        o.get("ename") in ("CellStopped", "KernelStopped")
                        for o in cell.get("outputs", [])):
                    self.execute_cell(copy.deepcopy(cell), earlier, store_history=False)
        except Exception as error:  # the cells above do not run again either: stop here
            self.log.warning("Could not start again after cell %d: %s", index, error)
            return False
        return True


class DecideGrades(NbGraderPreprocessor):
    """Decide each check cell from the learner's answer, outside the kernel (answers.py)."""

    keys = Unicode("", help="Folder of the private grading keys, <lesson>.json.").tag(config=True)
    warehouse = Unicode("", help="The warehouse answers are run on again.").tag(config=True)
    timeout = Integer(60, help="Seconds one answer may run here.").tag(config=True)

    def preprocess(self, nb, resources):
        from matsuri import paths
        from matsuri.checks.key_file import read
        from matsuri.checks.python_answers import ANSWERS_DIR, read_exported
        from matsuri.grading import forkserver
        from matsuri.grading.answers import (
            decide,
            decide_model,
            decide_python,
            find_answer,
            outputs,
            rerunning,
        )
        from matsuri.grading.reference import SETUP_CELL
        from matsuri.grading.workspace import GradingError

        lesson = resources["nbgrader"]["assignment"]
        path = Path(self.keys) / f"{lesson}.json"
        if not any(grade_id(c) == SETUP_CELL for c in nb.cells):
            return nb, resources  # not a SQL lesson (a plain nbgrader course): its tests decide
        if not self.keys or not path.is_file():
            raise GradingError(f"No grading key for lesson {lesson} ({path}): grade with "
                               "`matsuri course grade`, which makes it, or release the lesson again.")
        key = read(path)
        lang = language(key.language)
        exercises = {e.name: e for e in key.exercises}
        decided, notes = set(), []
        exported = (forkserver.kernel_folder() or Path(resources["metadata"]["path"])) / ANSWERS_DIR
        with rerunning(Path(self.warehouse or paths.warehouse_path()), self.timeout) as rerun:
            for index, cell in enumerate(nb.cells):
                name = grade_id(cell)
                if (cell.cell_type != "code" or not utils.is_grade(cell) or name not in exercises
                        or name in decided):
                    continue
                decided.add(name)
                key = exercises[name]
                if key.estimator:
                    verdict = decide_model(key, exported, rerun, lang)
                elif key.kind == "python":
                    verdict = decide_python(key, read_exported(exported, key.answer), lang)
                else:
                    verdict = decide(key, find_answer(nb.cells, key.answer, index), rerun, lang)
                points = float(cell.metadata.get("nbgrader", {}).get("points", 1))
                cell.outputs = [NotebookNode(o) for o in outputs(verdict, points)]
                notes += [verdict.note] if verdict.note else []
        nb.metadata.setdefault("matsuri", {})["notes"] = notes
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        return cell, resources
