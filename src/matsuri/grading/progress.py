"""`matsuri course progress`: who solved what, as a learners × exercises heatmap (PNG and HTML)
and a completion table per lesson. Read through export.overview (the gradebook, the submissions
and the grading report), so a notebook that could not be graded shows as not graded, with why,
never as a wrong answer, and a lesson never sent shows as not submitted."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

from matsuri.grading.export import GRADED, NOT_GRADED, NOT_SUBMITTED, Overview, Result, overview
from matsuri.grading.workspace import Workspace

SOLVED, WRONG = "solved", "wrong"
# state → (colour, mark in the HTML table, legend label)
STATES = {
    SOLVED: ("#2e7d32", "✓", "正解 / solved"),
    WRONG: ("#ef9a9a", "✗", "不正解 / wrong"),
    NOT_GRADED: ("#ffb300", "!", "未採点 / not graded"),
    NOT_SUBMITTED: ("#eceff1", "", "未提出 / not submitted"),
}


@dataclass
class LessonProgress:
    lesson: str
    title: str
    learners: int          # learners whose lesson is graded
    average: float         # mean share of points over graded learners, 0..1
    complete: int          # graded learners with full marks
    not_graded: int = 0    # submitted, but not graded (see the report for why)
    not_submitted: int = 0


@dataclass
class Progress:
    learners: list[str]
    exercises: list[tuple[str, str]]               # (lesson, exercise) in course order
    states: dict[tuple[str, str, str], str]        # (learner, lesson, exercise) → one of STATES
    notes: dict[tuple[str, str], str]              # (learner, lesson) → why it is not graded
    lessons: list[LessonProgress]
    png: Path | None = None
    html: Path | None = None


def collect(ws: Workspace) -> Progress:
    """Each learner × exercise's state and each lesson's counts, from export.overview."""
    view = overview(ws)
    states, notes = {}, {}
    for (learner, lesson), result in view.results.items():
        if result.status == NOT_GRADED:
            notes[(learner, lesson)] = result.note
        for exercise, most in view.exercises[lesson].items():
            states[(learner, lesson, exercise)] = _state(result, exercise, most)
    exercises = [(lesson, e) for lesson, names in view.exercises.items() for e in names]
    lessons = [_lesson_progress(view, lesson.id, lesson.title.get("ja")
                                or lesson.title.get("en", lesson.id)) for lesson in ws.course.lessons]
    return Progress(view.learners, exercises, states, notes, lessons)


def _state(result: Result, exercise: str, most: float | None) -> str:
    if result.status != GRADED:
        return result.status
    score = result.scores.get(exercise)
    return SOLVED if score is not None and most is not None and score >= most else WRONG


def _lesson_progress(view: Overview, lesson: str, title: str) -> LessonProgress:
    results = [view.results[(learner, lesson)] for learner in view.learners]
    most = sum(m or 0.0 for m in view.exercises[lesson].values())
    shares = [r.score / most for r in results if r.status == GRADED and most]
    graded = sum(1 for r in results if r.status == GRADED)
    return LessonProgress(
        lesson, title, graded, sum(shares) / len(shares) if shares else 0.0,
        sum(1 for s in shares if s >= 1.0), sum(1 for r in results if r.status == NOT_GRADED),
        sum(1 for r in results if r.status == NOT_SUBMITTED))


def heatmap_figure(ws: Workspace, progress: Progress):
    """The heatmap as a matplotlib Figure: one cell per learner × exercise, coloured by state."""
    import numpy as np
    from matplotlib.colors import to_rgb
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from matsuri.plotting import use_japanese_font

    use_japanese_font()
    rows, cols = len(progress.learners) or 1, len(progress.exercises) or 1
    grid = np.tile(np.array(to_rgb(STATES[NOT_SUBMITTED][0])), (rows, cols, 1))
    for i, learner in enumerate(progress.learners):
        for j, (lesson, exercise) in enumerate(progress.exercises):
            grid[i, j] = to_rgb(STATES[progress.states[(learner, lesson, exercise)]][0])
    fig = Figure(figsize=(max(6.0, 0.26 * cols + 2.5), max(3.4, 0.24 * rows + 2.6)), dpi=110,
                 layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(grid, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(progress.exercises)),
                  [f"{lesson[:2]}-{ex}" for lesson, ex in progress.exercises], rotation=90, fontsize=7)
    ax.set_yticks(range(len(progress.learners)), progress.learners, fontsize=7)
    for j in range(1, len(progress.exercises)):
        if progress.exercises[j][0] != progress.exercises[j - 1][0]:
            ax.axvline(j - 0.5, color="white", linewidth=2)
    ax.set_title(f"{ws.course.name} 進捗 / progress", fontsize=10)
    ax.set_xlabel("レッスン-問題 / lesson-exercise", fontsize=8)
    ax.set_ylabel("学習者 / learner", fontsize=8)
    fig.legend([Patch(facecolor=colour, edgecolor="#90a4ae") for colour, _, _ in STATES.values()],
               [label for _, _, label in STATES.values()], loc="outside lower center", ncols=4,
               fontsize=8, frameon=False)
    return fig


def heatmap_png(ws: Workspace, progress: Progress) -> bytes:
    fig = heatmap_figure(ws, progress)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    return buffer.getvalue()


def render_html(ws: Workspace, progress: Progress, png: bytes) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(p.lesson)}</td><td>{html.escape(p.title)}</td><td>{p.learners}</td>"
        f"<td>{p.average:.0%}</td><td>{p.complete}</td><td>{p.not_graded}</td>"
        f"<td>{p.not_submitted}</td></tr>"
        for p in progress.lessons
    )
    head = "".join(f"<th title='{html.escape(lesson)}'>{html.escape(f'{lesson[:2]}-{ex}')}</th>"
                   for lesson, ex in progress.exercises)
    body = ""
    for learner in progress.learners:
        cells = ""
        for lesson, ex in progress.exercises:
            state = progress.states[(learner, lesson, ex)]
            tip = progress.notes.get((learner, lesson)) or STATES[state][2]
            cells += (f"<td class='{_css(state)}' title='{html.escape(tip)}'>"
                      f"{STATES[state][1]}</td>")
        body += f"<tr><th>{html.escape(learner)}</th>{cells}</tr>"
    legend = " ".join(f"<span class='{_css(s)}'>{mark or '&nbsp;'}</span> {html.escape(label)}"
                      for s, (_, mark, label) in STATES.items())
    styles = "".join(f".{_css(s)}{{background:{colour}}}" for s, (colour, _, _) in STATES.items())
    image = base64.b64encode(png).decode()
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>{html.escape(ws.course.name)} 進捗 / progress</title>
<style>body{{font-family:'Noto Sans CJK JP','IPAexGothic',sans-serif;margin:24px}}
table{{border-collapse:collapse;margin:12px 0}}td,th{{border:1px solid #cfd8dc;padding:3px 6px;
font-size:13px;text-align:center}}span{{display:inline-block;width:1.4em;text-align:center;
border:1px solid #cfd8dc;margin-left:12px}}.{_css(SOLVED)}{{color:#fff}}{styles}</style></head><body>
<h1>{html.escape(ws.course.title)} — 進捗 / progress</h1>
<h2>レッスン別の完了状況 / completion by lesson</h2>
<table><tr><th>lesson</th><th>title</th><th>採点済み / graded</th><th>平均 / average (graded)</th>
<th>満点 / full marks</th><th>未採点 / not graded</th><th>未提出 / not submitted</th></tr>{rows}</table>
<h2>学習者 × 問題 / learners × exercises</h2>
<p>{legend}</p>
<img alt="heatmap of learners by exercises" src="data:image/png;base64,{image}">
<table><tr><th></th>{head}</tr>{body}</table>
</body></html>
"""


def _css(state: str) -> str:
    return "st-" + state.replace(" ", "-")


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
