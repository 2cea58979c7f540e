"""The few words nbgrader's feedback page puts around a learner's notebook ("Student's answer",
"Score: 1.0 / 1.0", "(Top)", "Comments:"), in the course's language.

The notebook itself (lesson prose, check messages) is already in the learner's language; only this
frame was English. It is rewritten after nbgrader writes the page: nbgrader's template stays whole,
and a label it adds later stays readable English rather than breaking the page.
"""

from __future__ import annotations

import re
from pathlib import Path

SCORE = r"(-?[0-9.]+)"
LABELS = {
    "ja": [
        (r'<span class="nbgrader-label">Student\'s answer</span>', '<span class="nbgrader-label">あなたの答え</span>'),
        (r'<span class="nbgrader-label">Student\'s task</span>', '<span class="nbgrader-label">あなたの課題</span>'),
        (r'<span class="nbgrader-label">Grade cell: ', '<span class="nbgrader-label">採点セル: '),
        (r'<span class="nbgrader-label">Task: ', '<span class="nbgrader-label">課題: '),
        (rf"\(Score: {SCORE} / {SCORE}\)", r"（得点 \1 / \2）"),
        (rf"\(Score: -{SCORE}\)", r"（-\1 点）"),
        (rf"Score: {SCORE} / {SCORE} <a href=\"#top\">\(Top\)</a>", r'得点 \1 / \2 <a href="#top">（先頭へ）</a>'),
        (r'<a href="#top">\(Top\)</a>', '<a href="#top">（先頭へ）</a>'),
        (r'">Test cell</a>', '">チェック</a>'),
        (r'">Coding free-response</a>', '">コードの解答</a>'),
        (r'">Written response</a>', '">記述の解答</a>'),
        (r'">Task</a>', '">課題</a>'),
        (r'">Comment</a>', '">コメント</a>'),
        (r"Late submission penalty", "提出遅れの減点"),
        (r"<b>Comments:</b>", "<b>コメント:</b>"),
        (r"<html>", '<html lang="ja">'),
    ],
}


def translate(html: str, lang: str) -> str:
    for pattern, replacement in LABELS.get(lang, []):
        html = re.sub(pattern, replacement, html)
    return html


def translate_folder(folder: Path, lang: str) -> int:
    """Rewrite every feedback page in `folder`; returns how many there were."""
    pages = sorted(Path(folder).glob("*.html")) if lang in LABELS else []
    for page in pages:
        page.write_text(translate(page.read_text(encoding="utf-8"), lang), encoding="utf-8")
    return len(pages)
