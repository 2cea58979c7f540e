"""What a team hands in, taken in safely: a notebook, a CSV or a folder, as its theme's spec says.

Only ordinary files are taken, never through a link (see matsuri.sandbox.intake): this runs as
root on a path a participant chose.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from matsuri.hackathon.predictions import InvalidSubmission


def kind_of(source: Path) -> str:
    if source.is_dir():
        return "folder"
    return {".ipynb": "notebook", ".csv": "file"}.get(source.suffix.lower(), "unsupported")


def take_in(source: Path, kind: str, files: Path, max_bytes: int, spec) -> None:
    """Copy what was handed in: a CSV becomes the theme's main prediction file; a folder gives the
    files the theme reads (its spec); a notebook keeps its name.

    Only ordinary files are taken, never through a link (see matsuri.sandbox.intake): this runs
    as root on a path a participant chose.
    """
    from matsuri.sandbox.intake import copy_in, folder_entries, open_folder
    from matsuri.sandbox.text import quoted

    files.mkdir(parents=True, exist_ok=True)
    main = next(f.name for f in spec.files if f.required)
    if kind in ("file", "notebook"):
        copy_in(source, files / (main if kind == "file" else source.name), max_bytes)
        return
    with open_folder(source) as folder:
        entries = folder_entries(folder)
        wanted = [f.name for f in spec.files]
        missing = [f.name for f in spec.files if f.required and f.name not in entries]
        if missing:
            present = ", ".join(quoted(n) for n in sorted(entries)[:6]) or "nothing"
            raise InvalidSubmission(
                f"The folder {quoted(source.name)} has no {', '.join(missing)} (it holds: {present}). "
                f"Put your predictions in a file named {missing[0]} inside it and submit again."
            )
        for name in wanted:
            if name in entries:
                copy_in(Path(name), files / name, max_bytes,
                        f"{name} in the folder {source.name}", folder=folder)


def likely_path(typed: Path, event_root: Path, workspace: Path) -> Path | None:
    """Where a hand-in path that leads nowhere most likely meant, inside the team's workspace only
    (a suggestion never reveals another team's files or the event's state), else None.

    Tried in order: the same relative path under the event folder (`teams/sushi/starter.ipynb`
    typed from the project root means `hackathon/teams/sushi/starter.ipynb`), what follows
    `teams/` under the event's teams folder, the path under the workspace, the file of that name
    in the workspace, and for a notebook the workspace's starter notebook.
    """
    typed = Path(typed)
    candidates = [] if typed.is_absolute() else [event_root / typed, workspace / typed]
    parts = typed.parts
    if "teams" in parts[:-1]:
        candidates.append(event_root / "teams" / Path(*parts[parts.index("teams") + 1:]))
    candidates.append(workspace / typed.name)
    if typed.suffix.lower() == ".ipynb":
        candidates.append(workspace / "starter.ipynb")
    home = workspace.resolve()
    for candidate in candidates:
        if candidate.exists() and candidate.resolve().is_relative_to(home):
            return candidate
    return None


def nothing_at(typed: Path, likely: Path | None) -> str:
    """The message for a hand-in path that leads nowhere: what was wrong, the likely path, what to do."""
    typed = Path(typed)
    wrong = f"There is nothing at {typed}"
    if not typed.is_absolute():
        wrong += f" (looking from {Path.cwd()})"
    if likely is None:
        return f"{wrong}. Give the path of a notebook, a CSV file or a folder."
    return f"{wrong}. Did you mean {_from_here(likely)}? Give that path instead."


def _from_here(path: Path) -> str:
    """The path as typed from the current folder when it lies below it, else in full."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def digest(files: Path, spec) -> str:
    """One hash of the prediction files handed in (equal files, equal submissions)."""
    digest = hashlib.sha256()
    for file in spec.files:
        if (files / file.name).is_file():
            digest.update((files / file.name).read_bytes())
    return digest.hexdigest()


def check_notebook(path: Path) -> None:
    import nbformat

    try:
        nbformat.read(path, as_version=4)
    except Exception:
        raise InvalidSubmission(
            f"{path.name} is not a notebook that Jupyter can open (it may be damaged or not an "
            ".ipynb file at all). Open it in JupyterLab, save it again and submit again."
        ) from None


