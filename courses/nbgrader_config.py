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

from matsuri.grading.preprocessors import (
    ClearSqlSolutions,
    DecideGrades,
    ExecuteWithinLimits,
    ForgetDuplicateIds,
    HideTestTracebacks,
    KeepOneLanguage,
    RestoreLockedCells,
)

c = get_config()  # noqa: F821  (provided by the config loader)

# Release: a `%%sql` solution region becomes a SQL comment, not Python's NotImplementedError.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
    "sql": "-- Write your query here, then run this cell (Shift+Enter).",
}
c.GenerateAssignment.preprocessors = [
    KeepOneLanguage,
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

# Autograde: deleted check cells come back (nbgrader), and so does a deleted setup cell (ours);
# a copied cell is graded once.
c.OverwriteCells.add_missing_cells = True
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    ForgetDuplicateIds,
    OverwriteKernelspec,
    OverwriteCells,
    RestoreLockedCells,
    CheckCellMetadata,
]
# Grades are decided outside the learner's kernel: DecideGrades runs each answer's SQL again on
# the organiser's side and writes the check cells' outcomes that SaveAutoGrades records.
c.Autograde.autograde_preprocessors = [
    ExecuteWithinLimits,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    DecideGrades,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# A cell that runs longer than this is interrupted (killed with its kernel if it does not stop)
# and marked; the rest of the notebook and the batch go on. Each course sets its own value
# (course.toml: cell_timeout).
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# Feedback: no hidden test source, and no traceback from a test cell.
c.GenerateFeedback.preprocessors = [
    GetGrades,
    ClearHiddenTests,
    HideTestTracebacks,
    CSSHTMLHeaderPreprocessor,
]

c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".matsuri-answers"]
