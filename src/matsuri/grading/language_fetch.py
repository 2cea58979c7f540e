"""nbgrader's fetch, in the reader's language.

`matsuri course release` puts each language's copy of a bilingual lesson in the exchange beside
nbgrader's own `outbound/` (`<course>/outbound-by-language/<lang>/<lesson>/`). A participant whose
server has MATSURI_LANG (participants.csv `language`, set by the hub) fetches that copy; everyone
else, and every lesson released in one language only, gets nbgrader's `outbound/` as before. The
copies differ only in prose, so submissions are collected and graded alike.

Chosen in nbgrader's config (the hub's, `HubLayout.nbgrader_global`, and the Kubernetes chart's):
`c.ExchangeFactory.fetch_assignment = 'matsuri.grading.language_fetch.FetchInReadersLanguage'`.
"""

from __future__ import annotations

import os
from pathlib import Path

from nbgrader.exchange.default import ExchangeFetchAssignment

from matsuri.language import from_environment

OUTBOUND_BY_LANGUAGE = "outbound-by-language"


def language_copy(course_path: Path, lesson: str, lang: str) -> Path:
    return Path(course_path) / OUTBOUND_BY_LANGUAGE / lang / lesson


class FetchInReadersLanguage(ExchangeFetchAssignment):
    """Fetch from the reader's language copy when the release left one they may read."""

    def init_src(self):
        super().init_src()
        lang = from_environment()
        if not lang:
            return
        copy = language_copy(self.course_path, self.coursedir.assignment_id, lang)
        if copy.is_dir() and os.access(copy, os.R_OK | os.X_OK):
            self.log.info("Fetching the %s copy of %s", lang, self.coursedir.assignment_id)
            self.src_path = str(copy)
