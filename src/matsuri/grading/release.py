"""`matsuri course release`: source notebooks → learner notebooks + check keys → the exchange.

For each lesson: nbgrader's generate_assignment (solutions cleared, hidden tests removed, cells
locked, checksums in the gradebook), then a check key computed on the real warehouse beside the
released notebook, then nbgrader's release_assignment to the exchange. Before anything leaves,
the released files are searched for the reference SQL: finding it stops the release.

Prose written in several languages (cells marked `metadata.matsuri.lang`) is kept through
generation, then split: `release/<lesson>/` (what the exchange gets) carries the course's
language, and `release-by-language/<lang>/<lesson>/` one copy per language, for learners who read
another language than the course's (participants.csv `language`). The exchange gets the copies too
(see `language_fetch`). The copies differ only in prose, so they are graded alike.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from tqdm.auto import tqdm

from matsuri.checks import key_file
from matsuri.checks.key_file import KEY_FILE
from matsuri.grading import key_builder
from matsuri.grading.language_fetch import OUTBOUND_BY_LANGUAGE, language_copy
from matsuri.grading.preprocessors import EVERY_LANGUAGE, cell_language, only_language
from matsuri.grading.reference import reference_queries, require_consistent
from matsuri.grading.workspace import BY_LANGUAGE, GradingError, Workspace, check


@dataclass
class ReleaseResult:
    lessons: list[str]
    release_dir: Path
    exchange: Path
    query_seconds: dict[str, dict[str, float]] = field(default_factory=dict)


def release(ws: Workspace, lesson: str | None = None, progress: bool = True) -> ReleaseResult:
    """Release lessons. A plain nbgrader course has no SQL exercises: no keys, nbgrader alone."""
    lessons = ws.course.select(lesson)
    sql = [] if ws.course.plain else lessons
    require_consistent(sql)
    ws.prepare()
    for item in lessons:  # a snapshot: grading later uses exactly what was released
        target = ws.step("source", item.id)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(item.notebook.parent, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    api = ws.api()
    api.config.KeepOneLanguage.language = EVERY_LANGUAGE  # split after generation: split_languages
    bar = tqdm(total=len(lessons) * 2, desc="release", unit="step", disable=not progress)
    for item in lessons:
        check(api.generate_assignment(item.id, force=True, create=True), f"Generating {item.id}")
        for notebook in item.notebooks:
            label(ws.released_notebook(item.id, notebook), ws.course.name, item.id)
        hand_out(ws.course.handouts.get(item.id, []), ws.step("release", item.id))
        bar.update(1)
    built = key_builder.write_all(ws.course, sql, ws.warehouse, lambda x: ws.step("release", x.id),
                           for_learners=True)
    # the grading keys too, so that grading (ours or stock `nbgrader autograde`) can decide
    key_builder.write_all(ws.course, sql, ws.warehouse, lambda x: ws.keys_dir, for_learners=False)
    for item in sql:
        refuse_leaks(ws, item)
    for item in lessons:
        found = split_languages(ws, item.id)
        publish(api, item.id, {lang: ws.step(BY_LANGUAGE, lang, item.id) for lang in found})
        bar.update(1)
    bar.close()
    ws.use_wal()
    return ReleaseResult([x.id for x in lessons], ws.step("release"), ws.exchange,
                         {k: b.seconds for k, b in built.items()})


def label(notebook: Path, course: str, lesson: str) -> None:
    """Say in the notebook which lesson it is, so grading knows one handed in under another."""
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["matsuri"] = {"course": course, "lesson": lesson}
    nbformat.write(nb, notebook)


def hand_out(folders: list[Path], released: Path) -> None:
    """Copy course.toml's [handouts] of a lesson into its release, each as a folder of its name."""
    for folder in folders:
        if not folder.is_dir():
            raise GradingError(f"course.toml hands out {folder} with {released.name}, but there is no "
                               "such folder. Fix the path under [handouts] (it starts at the project "
                               "root), then release again.")
        shutil.copytree(folder, released / folder.name, dirs_exist_ok=True)


def split_languages(ws: Workspace, lesson: str) -> list[str]:
    """Write each language's copy of a released lesson (its check key says that language, so
    instant feedback matches the prose), then keep the course's language in the release itself. Returns the languages found (none: a lesson in one language stays as it is)."""
    folder = ws.step("release", lesson)
    notebooks = {path: nbformat.read(path, as_version=4) for path in sorted(folder.glob("*.ipynb"))}
    found = sorted({lang for nb in notebooks.values() for c in nb.cells if (lang := cell_language(c))})
    for lang in found:
        target = ws.step(BY_LANGUAGE, lang, lesson)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(folder, target)
        for path, nb in notebooks.items():
            nbformat.write(only_language(nbformat.from_dict(nb), lang), target / path.name)
        if (target / KEY_FILE).is_file():  # the checks speak the copy's language with no setting
            key = key_file.read(target / KEY_FILE)
            key.language = lang
            key.write(target / KEY_FILE)
    for path, nb in notebooks.items():
        nbformat.write(only_language(nb, ws.course.language), path)
    return found


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def readable_text(path: Path) -> str:
    """What a learner can read in a released file: cell sources, or every string of a JSON file."""
    if path.suffix == ".ipynb":
        return "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    return "\n".join(strings(json.loads(path.read_text(encoding="utf-8"))))


def refuse_leaks(ws: Workspace, lesson) -> None:
    """Stop if a reference query (or a solution, when not allowed) reached the released files."""
    released = [ws.released_notebook(lesson.id)]
    if not ws.course.solutions:  # when solution() is allowed the key carries the SQL on purpose
        released.append(ws.step("release", lesson.id, KEY_FILE))
    texts = {path: _normal(readable_text(path)) for path in released}
    for var, sql in reference_queries(lesson).items():
        for path, text in texts.items():
            if _normal(sql) in text:
                raise GradingError(
                    f"The reference query of `{var}` is in the released {path}. Put it inside a "
                    f"-- BEGIN SOLUTION / -- END SOLUTION region of a solution cell, then release again."
                )


def publish(api, lesson_id: str, copies: dict[str, Path]) -> None:
    """Copy the released lesson to the exchange (replacing an earlier release of it), and each
    language's copy beside it, readable as nbgrader made the lesson readable."""
    from nbgrader.utils import capture_log, temp_attrs

    with temp_attrs(api.coursedir, assignment_id=lesson_id):
        app = api.exchange.ReleaseAssignment(coursedir=api.coursedir,
                                             authenticator=api.authenticator, parent=api)
        app.force = True
        check(capture_log(app), f"Releasing {lesson_id} to the exchange")
    if not hasattr(app, "dest_path"):  # an exchange of another kind: it has no place for copies
        return
    released = Path(app.dest_path)
    dir_mode = released.stat().st_mode & 0o7777
    file_mode = next((p.stat().st_mode for p in released.rglob("*") if p.is_file()), 0o644) & 0o7777
    for stale in (released.parent.parent / OUTBOUND_BY_LANGUAGE).glob(f"*/{lesson_id}"):
        if stale.parent.name not in copies:  # an earlier release's language this one no longer has
            shutil.rmtree(stale)
    for lang, folder in copies.items():
        target = language_copy(released.parent.parent, lesson_id, lang)
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        for parent in (target.parent, target.parent.parent):
            parent.chmod(dir_mode)
        shutil.copytree(folder, target)
        for path in [target, *target.rglob("*")]:
            path.chmod(dir_mode if path.is_dir() else file_mode)
