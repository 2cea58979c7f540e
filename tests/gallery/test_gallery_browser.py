"""Does the gallery work for judges in a real browser: leaderboard, live demos, marking together?

One real Voila server (started by `matsuri.gallery.server.serve`, 127.0.0.1, a free port) serves
the whole module; Debian chromium drives it through Playwright. Every request that would leave
the machine is blocked and recorded, so the pages must work offline.
"""

from __future__ import annotations

import os
import pwd
import time

import pytest

from conftest import free_port
from matsuri.gallery.server import serve
from matsuri.hackathon import report
from matsuri.hackathon.rubric import summary
from matsuri.hackathon.submissions import submit
from support.gallery_kit import (
    add_team,
    forked_kernels,
    notebook,
    push_predictions,
    write_csv,
)
from support.hackathon_fixtures import event_for_module

pytestmark = [pytest.mark.slow, pytest.mark.browser]

DEMO = """
import os
import ipywidgets as w
from IPython.display import display


def readable(path):
    try:
        open(path, "rb").close()
        return "yes"
    except OSError:
        return "no"

who = w.HTML(f"<span class='who'>uid {os.getuid()}, labels readable: {readable(LABELS)}</span>")
hour = w.IntSlider(value=3, min=0, max=23, description="send hour")
answer = w.HTML("<b class='answer'>predicted opens at 3h: 6%</b>")
hour.observe(lambda change: setattr(answer, "value", f"<b class='answer'>predicted opens at "
                                    f"{change['new']}h: {2 * change['new']}%</b>"), "value")
display(w.VBox([who, hour, answer]))
"""


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, public_company, sandbox_user):
    """An event with three teams (two with demos, two scored) served by a real Voila."""
    folder = tmp_path_factory.mktemp("gallery-event")
    with event_for_module(folder, public_company, sandbox_user) as event:
        for team, name, seed in (("alpha", "アルファ", 1), ("beta", "ベータ", 2), ("gamma", "ガンマ", None)):
            add_team(event, team, "push-open-rate", display_name=name)
            if seed is not None:
                notebook(event.teams_dir / team / "demo.ipynb", f"LABELS = {str(public_company.labels)!r}\n" + DEMO)
                csv = write_csv(push_predictions(public_company, seed=seed), folder / f"{team}.csv")
                submit(event, team, csv)
        with open(folder / "voila.log", "w") as log, serve(event, free_port(), log=log) as running:
            yield event, running


@pytest.fixture
def page(browser):
    """A fresh page that records (and blocks) every request leaving 127.0.0.1."""
    context = browser.new_context()
    page = context.new_page()
    page.external = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith("http://127.0.0.1:"):
            request_route.continue_()
        else:
            page.external.append(url)
            request_route.abort()

    page.route("**/*", route)
    try:
        yield page
    finally:
        context.close()


def test_index_shows_the_leaderboard_and_a_card_per_team(gallery, page):
    """Does the index render the event, the leaderboard chart and cards that filter by theme?"""
    event, running = gallery
    page.goto(running.url)
    page.wait_for_selector(".matsuri-leaderboard", timeout=90_000)
    assert page.eval_on_selector(".matsuri-leaderboard", "img => img.naturalWidth") > 300
    assert "テストまつり" in page.inner_text("h1")
    cards = page.inner_text(".matsuri-team-cards")
    for name in ("アルファ", "ベータ", "ガンマ"):
        assert name in cards
    assert cards.count("roc_auc") == 2 and "まだスコアがありません" in cards
    assert page.locator(".matsuri-demo-link").count() == 2
    chart = page.get_attribute(".matsuri-leaderboard", "src")
    page.click(".matsuri-theme-filter button:has-text('商談キーワード分析 (call-keywords)')")
    page.wait_for_function("!document.querySelector('.matsuri-team-cards').innerText.includes('アルファ')")
    # the leaderboard chart follows the filter too
    page.wait_for_function(f"document.querySelector('.matsuri-leaderboard').src !== {chart!r}")
    assert page.external == []


def _demo_kernels(running) -> int:
    """Demo kernels alive: forked in the teams' sandboxes by their zygotes, which this process
    (the gallery's) started."""
    return len(forked_kernels(os.getpid()))


def test_a_team_demo_opens_reacts_and_runs_confined(gallery, page):
    """Does a demo linked from its card render, react, run as the sandbox user, and stop when left?"""
    event, running = gallery
    open_before = _demo_kernels(running)
    page.goto(running.url)
    page.wait_for_selector(".matsuri-card[data-team=alpha] .matsuri-demo-link", timeout=90_000)
    href = page.get_attribute(".matsuri-card[data-team=alpha] .matsuri-demo-link", "href")
    page.goto(running.base + href)
    page.wait_for_selector(".answer", timeout=90_000)
    assert page.inner_text(".answer") == "predicted opens at 3h: 6%"
    page.focus(".widget-slider .noUi-handle")
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("document.querySelector('.answer').innerText.includes('7h: 14%')")
    who = page.inner_text(".who")
    sandbox_uid = pwd.getpwnam(f"{event.settings.run_as}-1").pw_uid  # alpha: the first team
    assert who == f"uid {sandbox_uid}, labels readable: no"
    assert "LABELS" not in page.content()  # Voila strips the demo's code from the page
    assert page.external == []
    assert _demo_kernels(running) == open_before + 1
    page.unroute("**/*")  # (intercepted requests cannot outlive the page; the beacon must)
    page.goto("about:blank")  # the judge leaves: Voila's unload beacon shuts the kernel down
    deadline = time.monotonic() + 30
    while _demo_kernels(running) > open_before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _demo_kernels(running) == open_before


def _mark(page, judge: str, team: str, steps: int, note: str) -> None:
    page.select_option(".matsuri-judge select", label=judge)
    page.select_option(".matsuri-team select", label=team)
    readout = page.locator(".matsuri-criterion-impact .widget-readout")
    start = int(readout.inner_text())
    page.focus(".matsuri-criterion-impact .noUi-handle")
    for _ in range(abs(steps)):
        page.keyboard.press("ArrowRight" if steps > 0 else "ArrowLeft")
    deadline = time.monotonic() + 10
    while int(readout.inner_text()) != start + steps and time.monotonic() < deadline:
        # a key pressed while the page was still wiring the slider up is lost, as a person's would
        # be; they would see the number and press again
        page.focus(".matsuri-criterion-impact .noUi-handle")
        page.keyboard.press("ArrowRight" if int(readout.inner_text()) < start + steps else "ArrowLeft")
        page.wait_for_timeout(200)
    page.fill(".matsuri-note textarea", note)


def test_two_judges_mark_at_the_same_time_and_both_reach_the_report(gallery, browser, page, tmp_path):
    """When two judges press save together, are both sets of marks stored and in the awards report?"""
    event, running = gallery
    second = browser.new_page()
    try:
        for judge_page in (page, second):
            judge_page.goto(running.page("rubric.ipynb"))
        for judge_page in (page, second):
            judge_page.wait_for_selector(".matsuri-save", timeout=90_000)
        _mark(page, "佐藤", "アルファ (push-open-rate)", +2, "需要予測に使えそう")
        _mark(second, "鈴木", "アルファ (push-open-rate)", -2, "説明がもう少し欲しい")
        page.click(".matsuri-save")
        second.click(".matsuri-save")
        for judge_page in (page, second):
            judge_page.wait_for_selector(".matsuri-ok", timeout=30_000)
    finally:
        second.close()
    marks = summary(event)["alpha"]
    assert marks.judges == ["佐藤", "鈴木"]
    assert marks.by_criterion["impact"] == (5 + 1) / 2  # 3 + 2 and 3 - 2
    html = report.write(event, tmp_path / "awards.html").read_text(encoding="utf-8")
    assert "需要予測に使えそう" in html and "説明がもう少し欲しい" in html
    assert "審査（2 名：佐藤, 鈴木）" in html
    assert page.external == []
