"""Check keys computed from the reference queries on the real warehouse (any scale, any seed).

Learners get theirs beside the released notebook; grading uses a fresh private copy, so a learner
who edits their key file changes only their own instant feedback, never their grade.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from matsuri.checks.fingerprint import column_names, fingerprint
from matsuri.checks.key_file import ExerciseKey, LessonKey, warehouse_build, warehouse_signature
from matsuri.errors import UsageError
from matsuri.grading.course import Course, Lesson
from matsuri.grading.reference import reference_queries


@dataclass
class KeyBuild:
    key: LessonKey
    seconds: dict[str, float]   # reference query time per exercise


def build(course: Course, lesson: Lesson, con, *, for_learners: bool,
          answers: dict | None = None) -> KeyBuild:
    """The lesson's key: SQL answers from the reference queries run on `con`; Python answers
    from `answers` (python_reference.reference_answers: the source notebook's own run)."""
    queries = reference_queries(lesson)
    signature = warehouse_signature(con)
    exercises, seconds = [], {}
    for spec in lesson.exercises:
        sql = queries.get(spec.answer)
        if spec.estimator:
            exercises.append(_model_key(spec, (answers or {})[spec.answer], con, for_learners))
            continue
        if spec.kind == "python":
            frame, sql = (answers or {})[spec.answer], None
        elif sql is None:
            raise UsageError(f"{lesson.notebook}: no reference query for {spec.name} "
                             f"(a `%%sql {spec.answer} <<` cell with a solution region).")
        else:
            started = time.perf_counter()
            try:
                frame = con.sql(sql).df()
            except Exception as error:
                raise UsageError(f"{lesson.id}/{spec.name}: the reference query failed on this "
                                 f"warehouse: {str(error).splitlines()[0]}") from None
            seconds[spec.name] = time.perf_counter() - started
        columns = column_names(frame)
        unknown = [c for c in spec.order_by if c not in columns]
        if unknown:
            raise UsageError(f"exercises/{lesson.id}.toml: {spec.name}.order_by names "
                             f"{', '.join(unknown)}, which the reference result does not have.")
        fp = fingerprint(frame, columns, spec.order_by, spec.places, spec.name)
        exercises.append(ExerciseKey(
            name=spec.name, answer=spec.answer, title=spec.title, columns=columns, rows=fp.rows,
            places=spec.places, order_by=spec.order_by, column_hashes=fp.column_hashes,
            row_hash=fp.row_hash, order_hash=fp.order_hash, hints=spec.hints,
            explanation=spec.explanation, kind=spec.kind, figure=dict(frame.attrs.get("figure", {})),
            solution=sql if (for_learners and course.solutions) else None,
        ))
    key = LessonKey(course.name, lesson.id, course.language, course.solutions and for_learners,
                    signature, exercises, built_on=warehouse_build(con))
    return KeyBuild(key, seconds)


def _model_key(spec, model, con, for_learners: bool) -> ExerciseKey:
    """A model exercise's key: the tiers on the validation rows (for the learner's instant
    check) and, in the private key only, the rows the learner never saw and their tiers."""
    from matsuri import paths
    from matsuri.checks import estimators
    from matsuri.warehouse.query import connect

    rules = dict(spec.estimator)
    metric, label = rules.setdefault("metric", "roc_auc"), rules["label"]
    try:
        validation = con.sql(rules["validation"]).df()
        rules["train_rows"] = int(con.execute(rules["train_rows"]).fetchall()[0][0])
        hidden = con.sql(rules["hidden"]).df()
        with connect(paths.labels_path()) as labels:
            truth = labels.sql(rules["hidden_labels"]).df()
    except Exception as error:
        raise UsageError(f"{spec.name}: a query of its estimator rules failed: "
                         f"{str(error).splitlines()[0]} (the hidden rows' labels come from the "
                         f"organiser's labels store, {paths.labels_path()})") from None
    rules["tiers_validation"] = estimators.tiers(metric, estimators.score(
        model, validation.drop(columns=[label]), validation[label], metric))
    rows = hidden.merge(truth.set_axis([rules["id"], "__truth"], axis=1), on=rules["id"])
    rules["tiers_hidden"] = estimators.tiers(metric, estimators.score(
        model, rows.drop(columns=[rules["id"], "__truth"]), rows["__truth"], metric))
    if for_learners:  # the learner's copy names no hidden rows and no labels
        rules = {k: rules[k] for k in ("metric", "label", "validation", "train_rows", "tiers_validation")}
    return ExerciseKey(name=spec.name, answer=spec.answer, title=spec.title, columns=[], rows=0,
                       places=spec.places, order_by=[], column_hashes={}, row_hash="", order_hash=None,
                       hints=spec.hints, explanation=spec.explanation, kind=spec.kind, estimator=rules)


@contextmanager
def reference_connection(warehouse: Path | None):
    """The warehouse as keys are built from it: read-only, and free to return rows in any order
    (answers are compared as sets unless the query orders them), which DuckDB does faster."""
    from matsuri.warehouse.query import connect

    with connect(warehouse) as con:
        con.execute("SET preserve_insertion_order = false")
        yield con


def write_all(course: Course, lessons: list[Lesson], warehouse: Path | None, folder_of,
              *, for_learners: bool) -> dict[str, KeyBuild]:
    """Build and write one key per lesson; `folder_of(lesson)` says where its file goes."""
    from matsuri.checks.key_file import KEY_FILE
    from matsuri.grading.python_reference import all_reference_answers

    builds = {}
    answers = all_reference_answers(lessons, warehouse, course.cell_timeout * 5)
    with reference_connection(warehouse) as con:
        for lesson in lessons:
            built = build(course, lesson, con, for_learners=for_learners, answers=answers[lesson.id])
            name = KEY_FILE if for_learners else f"{lesson.id}.json"
            built.key.write(Path(folder_of(lesson)) / name)
            builds[lesson.id] = built
    return builds
