"""The check key of one lesson: what the checks need and nothing more.

Built by the organiser (`matsuri course release` for learners, `matsuri course grade` for grading)
from reference queries run on the real warehouse. It holds the shape of each answer (column
names, row count) and hashes of its values, never the values or the reference SQL; the SQL is
included only when the course allows `solution()`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

FORMAT = 1
KEY_FILE = "checks.json"           # next to the released notebook
KEYS_ENV = "MATSURI_CHECK_KEYS"    # grading kernels: a folder of <lesson>.json, set by the grader


@dataclass
class ExerciseKey:
    name: str                       # "q1": the object the learner calls check() on
    answer: str                     # "q1_result": the variable the SQL cell stores its table in
    title: dict[str, str]
    columns: list[str]
    rows: int
    places: int
    order_by: list[str]
    column_hashes: dict[str, str]
    row_hash: str
    order_hash: str | None
    hints: dict[str, list[str]] = field(default_factory=dict)
    explanation: dict[str, str] = field(default_factory=dict)
    solution: str | None = None
    kind: str = "sql"               # sql: the SQL cell's table; python: the value in `answer`
    figure: dict = field(default_factory=dict)  # a chart answer: its kind and labels (not secret)
    estimator: dict = field(default_factory=dict)  # a model answer: metric, rows and tiers

    @property
    def salt(self) -> str:
        return self.name


@dataclass
class LessonKey:
    course: str
    lesson: str
    language: str
    solutions: bool
    warehouse: str                  # a signature of the warehouse the answers were computed on
    exercises: list[ExerciseKey]
    format: int = FORMAT
    built_on: str = ""              # its build (scale, seed, build id) when `data build` made it

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LessonKey:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown check key format {data.get('format')!r}")
        data["exercises"] = [ExerciseKey(**e) for e in data["exercises"]]
        return cls(**data)

    def write(self, path: Path) -> Path:
        """Write atomically: a reader never sees half a key."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)
        return path


def read(path: Path) -> LessonKey:
    return LessonKey.from_json(path.read_text(encoding="utf-8"))


def warehouse_build(con) -> str:
    """The build stamp `matsuri data build` leaves on every table ("" for other warehouses)."""
    stamps = {r[0] for r in con.execute(
        "SELECT comment FROM duckdb_tables() WHERE schema_name = 'main' AND comment IS NOT NULL"
    ).fetchall()}
    return stamps.pop() if len(stamps) == 1 else ""


def warehouse_signature(con) -> str:
    """Row counts of every table and the build stamp, hashed: cheap, and different when the
    warehouse was rebuilt (another seed gives another stamp even where counts are the same)."""
    import hashlib

    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
    ).fetchall()]
    counts = []
    for table in tables:
        rows = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
        counts.append(f"{table}:{rows}")
    counts.append(warehouse_build(con))
    return hashlib.sha256("|".join(counts).encode()).hexdigest()[:16]
