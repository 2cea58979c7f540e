"""`matsuri course progress`: who solved what, as a learners × exercises heatmap (PNG and HTML)
and a completion table per lesson. Read from the gradebook, so it shows what grading recorded."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

from matsuri.grading.export import exercise_grades
from matsuri.grading.workspace import Workspace

SOLVED, WRONG, MISSING = "#2e7d32", "#ef9a9a", "#eceff1"


@dataclass
class LessonProgress:
    lesson: str
    title: str
    learners: int          # learners with a graded submission
    average: float         # mean share of points, 0..1
    complete: int          # learners with full marks


@dataclass
class Progress:
    learners: list[str]
    exercises: list[tuple[str, str]]            # (lesson, exercise) in course order
    solved: dict[tuple[str, str, str], bool]    # (learner, lesson, exercise) → full marks?
    lessons: list[LessonProgress]
    png: Path | None = None
    html: Path | None = None


def collect(ws: Workspace) -> Progress:
    grades = exercise_grades(ws)
    learners = sorted({g[0] for g in grades})
    exercises = [(lesson.id, e.name) for lesson in ws.course.lessons for e in lesson.exercises]
    solved = {(s, lesson, e): score is not None and score >= mx for s, lesson, e, score, mx in grades}
    lessons = []
    for lesson in ws.course.lessons:
        per: dict[str, list[float]] = {}
        for student, lid, _, score, mx in grades:
            if lid == lesson.id:
                got, total = per.get(student, [0.0, 0.0])
                per[student] = [got + (score or 0.0), total + mx]
        shares = [got / total for got, total in per.values() if total]
        lessons.append(LessonProgress(
            lesson.id, lesson.title.get("ja") or lesson.title.get("en", lesson.id), len(per),
            sum(shares) / len(shares) if shares else 0.0, sum(1 for s in shares if s >= 1.0),
        ))
    return Progress(learners, exercises, solved, lessons)


def heatmap_png(ws: Workspace, progress: Progress) -> bytes:
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    from matsuri.plotting import use_japanese_font

    use_japanese_font()
    rows, cols = len(progress.learners) or 1, len(progress.exercises)
    grid = np.full((rows, cols), np.nan)
    for i, learner in enumerate(progress.learners):
        for j, (lesson, exercise) in enumerate(progress.exercises):
            mark = progress.solved.get((learner, lesson, exercise))
            if mark is not None:
                grid[i, j] = 1.0 if mark else 0.0
    colours = ListedColormap([WRONG, SOLVED])
    colours.set_bad(MISSING)
    fig = Figure(figsize=(max(6.0, 0.26 * cols + 2.5), max(3.0, 0.24 * rows + 2.2)), dpi=110)
    ax = fig.add_subplot()
    ax.imshow(np.ma.masked_invalid(grid), cmap=colours, vmin=0, vmax=1, aspect="auto",
              interpolation="nearest")
    ax.set_xticks(range(cols), [f"{lesson[:2]}-{ex}" for lesson, ex in progress.exercises],
                  rotation=90, fontsize=7)
    ax.set_yticks(range(len(progress.learners)), progress.learners, fontsize=7)
    edges = [j for j in range(1, cols) if progress.exercises[j][0] != progress.exercises[j - 1][0]]
    for edge in edges:
        ax.axvline(edge - 0.5, color="white", linewidth=2)
    ax.set_title(f"{ws.course.name} 進捗（緑 = 正解, 赤 = 未正解, 灰 = 未提出）", fontsize=10)
    ax.set_xlabel("レッスン-問題 (lesson-exercise)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def render_html(ws: Workspace, progress: Progress, png: bytes) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(p.lesson)}</td><td>{html.escape(p.title)}</td>"
        f"<td>{p.learners}</td><td>{p.average:.0%}</td><td>{p.complete}</td></tr>"
        for p in progress.lessons
    )
    head = "".join(f"<th title='{html.escape(lesson)}'>{lesson[:2]}-{ex}</th>"
                   for lesson, ex in progress.exercises)
    body = ""
    for learner in progress.learners:
        cells = ""
        for lesson, ex in progress.exercises:
            mark = progress.solved.get((learner, lesson, ex))
            colour, text = (MISSING, "") if mark is None else (SOLVED, "✓") if mark else (WRONG, "✗")
            cells += f"<td style='background:{colour}'>{text}</td>"
        body += f"<tr><th>{html.escape(learner)}</th>{cells}</tr>"
    image = base64.b64encode(png).decode()
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>{html.escape(ws.course.name)} 進捗 / progress</title>
<style>body{{font-family:'Noto Sans CJK JP','IPAexGothic',sans-serif;margin:24px}}
table{{border-collapse:collapse;margin:12px 0}}td,th{{border:1px solid #cfd8dc;padding:3px 6px;
font-size:13px;text-align:center}}</style></head><body>
<h1>{html.escape(ws.course.title)} — 進捗 / progress</h1>
<h2>レッスン別の完了状況 / completion by lesson</h2>
<table><tr><th>lesson</th><th>title</th><th>learners</th><th>average score</th>
<th>full marks</th></tr>{rows}</table>
<h2>学習者 × 問題 / learners × exercises</h2>
<img alt="heatmap of learners by exercises" src="data:image/png;base64,{image}">
<table><tr><th></th>{head}</tr>{body}</table>
</body></html>
"""


def write(ws: Workspace, out: Path | None = None) -> Progress:
    progress = collect(ws)
    folder = Path(out) if out else ws.exports
    folder.mkdir(parents=True, exist_ok=True)
    png = heatmap_png(ws, progress)
    progress.png, progress.html = folder / "progress.png", folder / "progress.html"
    for path, data in ((progress.png, png), (progress.html, render_html(ws, progress, png).encode())):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return progress


