"""Do the judges' pages read in either language on a projector, a laptop and a phone?

The gallery index, the rubric, a theme demo and the awards report, each in Japanese and English,
are opened in Debian chromium and looked at 1920, 1366 and 390 px wide (one screenshot each, in
the test's tmp_path). At every width nothing may stick out sideways; at the first, every
character must be drawn with a glyph of the font in use (tests/support/page_checks.py says how).

One gallery Voila (the event in Japanese; `?lang=en` asks for English) and one plain Voila with
the push-open-rate demo (`?lang=` too) serve the whole module; every request leaving 127.0.0.1
is refused.
"""

from __future__ import annotations

import shutil

import pytest

from conftest import free_port
from matsuri.gallery.server import serve as serve_gallery
from matsuri.hackathon import report
from matsuri.hackathon.rubric import save_marks
from matsuri.hackathon.submissions import submit
from matsuri.templates.voila import serve as serve_demo
from matsuri.theme_spec import template_dir
from support.gallery_kit import add_team, push_predictions, write_csv
from support.hackathon_fixtures import event_for_module
from support.page_checks import OVERFLOW_JS, missing_glyphs

pytestmark = [pytest.mark.slow, pytest.mark.browser]

WIDTHS = (1920, 1366, 390)
WAIT = 120_000  # ms: a cold kernel on a busy 2-core machine
PAGES = {  # page: (what shows it is ready, a text only the Japanese page has, one only the English has)
    "index": (".matsuri-team-cards .matsuri-card", "暫定リーダーボード", "Provisional leaderboard"),
    "rubric": (".matsuri-save", "保存し直すと上書きされます", "Saving again replaces"),
    "demo": (".matsuri-chart img", "予測開封率", "Predicted open rate"),
    "report": ("main", "表彰レポート", "Awards report"),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory, public_company, sandbox_user, tiny_company):
    """{"gallery": Running, "demo": Served, "reports": {lang: path}} for the module."""
    folder = tmp_path_factory.mktemp("layout")
    demos = folder / "demos"
    (demos / "push-open-rate").mkdir(parents=True)
    shutil.copy(template_dir("push-open-rate") / "demo.ipynb", demos / "push-open-rate" / "demo.ipynb")
    (folder / "event").mkdir()
    with event_for_module(folder / "event", public_company, sandbox_user) as event:
        for team, name, theme in (("alpha", "アルファ分析チーム", "push-open-rate"),
                                  ("beta", "Beta — Customer Insight Squad", "push-open-rate"),
                                  ("gamma", "ガンマ", "call-keywords")):
            add_team(event, team, theme, display_name=name)
        for team, seed in (("alpha", 1), ("beta", 2)):
            submit(event, team, write_csv(push_predictions(public_company, seed=seed), folder / f"{team}.csv"))
        save_marks(event, "佐藤", "alpha", {"impact": 5, "demo": 4}, "配信時刻の提案がすぐ使えそうです")
        save_marks(event, "鈴木", "beta", {"impact": 3, "demo": 5}, "Clear demo, easy to follow")
        reports = {lang: report.write(event, folder / f"awards-{lang}.html", lang) for lang in ("ja", "en")}
        env = {"MATSURI_WAREHOUSE": str(tiny_company.warehouse), "MATSURI_CACHE": str(demos / "cache")}
        with open(folder / "gallery.log", "w") as log, serve_gallery(event, free_port(), log=log) as gallery, \
                serve_demo(demos, free_port(), env=env, log=folder / "demo.log") as demo:
            yield {"gallery": gallery, "demo": demo, "reports": reports}


def _address(site, name: str, lang: str) -> str:
    if name == "report":
        return site["reports"][lang].as_uri()
    if name == "demo":
        return site["demo"].page("push-open-rate/demo.ipynb") + f"?lang={lang}"
    page = {"index": "index.ipynb", "rubric": "rubric.ipynb"}[name]
    return site["gallery"].page(page, lang=lang) if lang == "en" else site["gallery"].page(page)


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("name", list(PAGES))
def test_a_judges_page_fits_every_screen_and_every_character_has_a_glyph(site, browser, tmp_path, name, lang):
    ready, ja_words, en_words = PAGES[name]
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 1080})
    page = context.new_page()
    outside = []

    def offline(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "file://", "data:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", offline)
    try:
        page.goto(_address(site, name, lang), timeout=WAIT)
        page.wait_for_selector(ready, timeout=WAIT)
        page.wait_for_load_state("networkidle", timeout=WAIT)
        body = page.inner_text("body")
        shown, hidden = (ja_words, en_words) if lang == "ja" else (en_words, ja_words)
        assert shown in body and hidden not in body, f"{name} is not in {lang} only"
        glyphs = missing_glyphs(page)
        overflow = {}
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 1080 if width > 400 else 844})
            page.wait_for_timeout(400)  # the widgets' own resize handlers run
            page.screenshot(path=tmp_path / f"{name}-{lang}-{width}.png", full_page=True)
            if problems := page.evaluate(OVERFLOW_JS):
                overflow[width] = problems
        assert not glyphs, "characters drawn without a glyph:\n" + "\n".join(glyphs)
        assert not overflow, "sticks out sideways:\n" + "\n".join(
            f"{width} px: {problem}" for width, problems in overflow.items() for problem in problems)
        assert outside == []
    finally:
        context.close()
