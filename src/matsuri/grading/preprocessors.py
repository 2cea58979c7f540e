"""nbgrader preprocessors that SQL lessons need, each one step (wired in courses/nbgrader_config.py).

- ClearSqlSolutions: release. nbgrader's stub for a Python kernel is `raise NotImplementedError()`,
  which is not SQL; a `%%sql` cell gets a SQL comment instead.
- RestoreLockedCells: autograde. nbgrader puts back deleted *test* cells (add_missing_cells) but
  never a deleted locked setup cell, so a correct learner would score 0 through a NameError.
- HideTestTracebacks: feedback. Tracebacks of test cells can quote hidden tests; learners see
  our plain message (or a one-line note) instead.
"""

from __future__ import annotations

import os

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearSolutions, NbGraderPreprocessor
from traitlets import Unicode

OUR_OUTCOMES = {"Incorrect", "NotAttempted", "Uncheckable", "SqlProblem"}


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_sql_cell(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith("%%sql")


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
