"""Who counts as an engineer: the `job` column of participants.csv.

The festival's first question is whether people other than engineers reach a submission, so the
funnel needs each person's job, not their festival role (learner, instructor, judge). The column
holds a job name in any words; this rule sorts it:

- empty: unknown (left out of the non-engineer share, and counted in the notes);
- `non-engineer` or `非エンジニア`: not an engineer;
- a name with one of ENGINEER_WORDS as a word (`engineer`, `developer`, `data scientist`, `SRE` …)
  or one of ENGINEER_PARTS inside it (`エンジニア`, `開発`, `データサイエンティスト` …): an engineer;
- anything else (sales, HR, PM, marketing, finance, 営業, 人事 …): not an engineer.

So "sales engineer" and "engineering manager" count as engineers; write `non-engineer` for anyone
the rule would sort wrongly.
"""

from __future__ import annotations

import re

ENGINEER_WORDS = ("engineer", "engineers", "engineering", "developer", "programmer", "sre",
                  "devops", "data scientist", "ml engineer")
ENGINEER_PARTS = ("エンジニア", "開発", "プログラマ", "データサイエンティスト")
NOT_ENGINEER = ("non-engineer", "non engineer", "nonengineer", "非エンジニア")


def is_engineer(job: str) -> bool | None:
    """True for an engineer, False for anyone else, None when the job is not known."""
    text = " ".join(job.strip().lower().split())
    if not text:
        return None
    if text in NOT_ENGINEER:
        return False
    words = " ".join(re.findall(r"[a-z]+", text))
    if any(re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", words) for w in ENGINEER_WORDS):
        return True
    return any(part in text for part in ENGINEER_PARTS)


def label(engineer: bool | None) -> str:
    return {True: "engineer", False: "non-engineer", None: "unknown"}[engineer]
