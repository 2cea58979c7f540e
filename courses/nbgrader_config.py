"""nbgrader settings shared by every matsuri course.

`matsuri course …` writes an nbgrader_config.py into each course's work folder that loads this
file and adds what differs per course (folder, course id, exchange, cell timeout from course.toml).
Each pipeline below is nbgrader's default list with our steps swapped in or added; see
matsuri/grading/preprocessors.py for why each exists.
"""

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ComputeChecksums,
    DeduplicateIds,
    Execute,
    GetGrades,
    IgnorePattern,
    IncludeHeaderFooter,
    InstantiateTests,
    LimitOutput,
    LockCells,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
    SaveCells,
)

from matsuri.grading.preprocessors import ClearSqlSolutions, HideTestTracebacks, RestoreLockedCells

c = get_config()  # noqa: F821  (provided by the config loader)

# Release: a `%%sql` solution region becomes a SQL comment, not Python's NotImplementedError.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
    "sql": "-- Write your query here, then run this cell (Shift+Enter).",
}
c.GenerateAssignment.preprocessors = [
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    ClearSqlSolutions,
    ClearOutput,
    CheckCellMetadata,
    ComputeChecksums,
    SaveCells,
    ClearHiddenTests,
    ClearMarkScheme,
    ComputeChecksums,
    CheckCellMetadata,
]

# Autograde: deleted check cells come back (nbgrader), and so does a deleted setup cell (ours).
c.OverwriteCells.add_missing_cells = True
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCells,
    RestoreLockedCells,
    CheckCellMetadata,
]
c.Autograde.autograde_preprocessors = [
    Execute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# A cell that runs longer than this is interrupted and marked; the rest of the notebook and the
# batch go on. Each course sets its own value (course.toml: cell_timeout).
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# Feedback: no hidden test source, and no traceback from a test cell.
c.GenerateFeedback.preprocessors = [
    GetGrades,
    ClearHiddenTests,
    HideTestTracebacks,
    CSSHTMLHeaderPreprocessor,
]

c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]
