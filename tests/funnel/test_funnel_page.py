"""Does the gallery's funnel page render in a real Voila, in chromium, offline?

The gallery is started by `matsuri.gallery.server.serve` (127.0.0.1, a free port) on the festival
of tests/support/funnel_kit.py; the page finds participants.csv, the activity logs and the course
work folder through the environment the gallery is started with, as an organiser would set it.
"""

from __future__ import annotations

import pytest

from conftest import free_port
from matsuri.gallery.server import serve
from support import funnel_kit
from support.hackathon_fixtures import event_for_module

pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")]


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, public_company, sandbox_user):
    folder = tmp_path_factory.mktemp("funnel-gallery")
    (folder / "event").mkdir()
    with event_for_module(folder / "event", public_company, sandbox_user) as event, \
            pytest.MonkeyPatch.context() as patch:
        festival = funnel_kit.build(folder, event, public_company)
        patch.setenv("MATSURI_PARTICIPANTS", str(festival.participants))
        patch.setenv("MATSURI_ACTIVITY_FROM", str(festival.workspaces))
        patch.setenv("MATSURI_COURSE_WORK", str(festival.course_work))
        with open(folder / "voila.log", "w") as log, serve(festival.event, free_port(), log=log) as running:
            yield running


def test_the_funnel_page_shows_the_chart_and_the_headline_in_either_language(gallery, browser):
    page = browser.new_page()
    external = []

    def route(request_route):
        if request_route.request.url.startswith("http://127.0.0.1:"):
            request_route.continue_()
        else:
            external.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    try:
        page.goto(gallery.page("funnel.ipynb"))
        page.wait_for_selector(".matsuri-funnel-chart", timeout=90_000)
        assert page.eval_on_selector(".matsuri-funnel-chart", "img => img.naturalWidth") > 600
        headline = page.inner_text(".matsuri-headline")
        assert "60%" in headline and "エンジニア以外の参加者 5 人のうち 3 人" in headline
        assert "19.5 時間" in headline and "hours" not in headline  # the event's language only
        teams = page.inner_text(".matsuri-funnel-teams")
        assert "ALPHA" in teams and "未測定" in teams
        assert "テストまつり" in page.inner_text("h1")
        page.goto(gallery.page("funnel.ipynb", lang="en"))  # one reader's choice
        page.wait_for_selector(".matsuri-funnel-chart", timeout=90_000)
        headline = page.inner_text(".matsuri-headline")
        assert "of 5 non-engineer participants, 3 reached a scored submission" in headline
        assert "19.5 hours" in headline and "(5 people)" in headline and "時間" not in headline
        assert "not measured" in page.inner_text(".matsuri-funnel-teams")
        page.goto(gallery.url)  # the index links to it
        page.wait_for_selector("a[href$='voila/render/funnel.ipynb']", timeout=90_000)
        assert external == []
    finally:
        page.close()
