"""Do the rubric form and the index cards behave correctly, tested in-process without a browser?"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from matsuri.gallery.apps import RubricForm, _cards
from matsuri.hackathon import leaderboard
from matsuri.hackathon.event import EVENT_ENV
from matsuri.hackathon.rubric import marks_of
from matsuri.hackathon.submissions import submit
from support.gallery_kit import add_team, push_predictions, write_csv


def test_rubric_form_saves_reloads_and_explains_mistakes(make_event, monkeypatch):
    """Does a judge's save land in the store, come back when reopened, and bad input get a message?"""
    event = make_event()
    add_team(event, "alpha", "push-open-rate", display_name="アルファ")
    add_team(event, "beta", "call-keywords")
    monkeypatch.setenv("QUERY_STRING", "judge=%E9%88%B4%E6%9C%A8")  # ?judge=鈴木
    form = RubricForm(event)
    assert form.judge.value == "鈴木" and form.team.options[0] == ("アルファ (push-open-rate)", "alpha")
    form.team.value = "alpha"
    form.sliders["impact"].value, form.sliders["demo"].value = 5, 2
    form.note.value = "売上に効きそう"
    form.save.click()
    assert "保存しました" in form.status.value
    assert marks_of(event, "鈴木", "alpha") == ({"impact": 5, "demo": 2}, "売上に効きそう")
    assert "1 / 2 チーム採点済みです" in form.progress.value and "beta" in form.progress.value
    again = RubricForm(event)  # the judge comes back later
    again.judge.value, again.team.value = "鈴木", "alpha"
    assert again.sliders["impact"].value == 5 and again.note.value == "売上に効きそう"
    again.judge.value = ""
    again.save.click()
    assert "matsuri-error" in again.status.value and "give the judge" in again.status.value


def test_the_rubric_names_each_criterion_in_the_judges_language(make_event):
    """English judges read `name_en` / `description_en`; where a criterion has none, its words in
    the event's language stand (better than an empty label)."""
    event = make_event()
    add_team(event, "alpha", "push-open-rate")

    def words(widget) -> str:
        """Every text the form shows (its HTML widgets, nested boxes included)."""
        own = widget.value if isinstance(getattr(widget, "value", None), str) else ""
        return " ".join([own, *(words(child) for child in getattr(widget, "children", ()))])

    english, japanese = words(RubricForm(event, lang="en").box), words(RubricForm(event, lang="ja").box)
    assert "Business impact" in english and "Would it change a decision?" in english
    assert "ビジネスへの効果" not in english and "デモの分かりやすさ" in english  # no English given
    assert "ビジネスへの効果" in japanese and "判断を変えられそうですか。" in japanese
    assert "Business impact" not in japanese


def test_index_cards_show_theme_score_rank_and_a_demo_link(make_event, public_company, tmp_path, monkeypatch):
    """Does each card carry the team's theme, best public score, place and a link to its demo?"""
    event = make_event()
    add_team(event, "alpha", "push-open-rate", display_name="<アルファ>")
    add_team(event, "beta", "push-open-rate")
    submit(event, "alpha", write_csv(push_predictions(public_company, perfect=True), tmp_path / "a.csv"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demos" / "alpha").mkdir(parents=True)
    (tmp_path / "demos" / "alpha" / "demo.ipynb").write_text("{}")
    monkeypatch.setenv("VOILA_BASE_URL", "/gallery/")
    boards = {"push-open-rate": leaderboard.public_board(event, "push-open-rate")}
    html = _cards(event, boards, "all")
    assert "&lt;アルファ&gt;" in html and "roc_auc <b>1.0000</b>（1位）" in html
    assert 'href="/gallery/voila/render/demos/alpha/demo.ipynb"' in html
    assert "まだスコアがありません" in html and "デモはありません" in html
    assert 'class="matsuri-card"' not in _cards(event, boards, "call-keywords")


WARM_PROBE = """
import json, sys
import voila.utils

loaded = {}
def asked_for():  # a judge opens the page: what was loaded by then?
    loaded.update(dict.fromkeys(sys.modules))
voila.utils.wait_for_request = asked_for

from matsuri.gallery import apps
from matsuri.funnel.page import funnel_app
{"index": apps.index_app, "rubric": apps.rubric_app, "funnel": funnel_app}[sys.argv[1]]()
late = {name.split(".")[0] for name in sys.modules if name not in loaded}
print(json.dumps(sorted(late - set(sys.stdlib_module_names) - {"matsuri"})))
"""


@pytest.mark.parametrize("app", ["index", "rubric", "funnel"])
def test_a_preheated_app_has_loaded_every_library_before_the_page_is_asked_for(make_event, app, tmp_path):
    """A warm kernel waits for the judge with pandas, the widgets and matplotlib already loaded, so
    the page costs only reading the event: a library first loaded after the request (pandas alone
    is over a second here) would make every judge wait for it."""
    event = make_event()
    add_team(event, "alpha", "push-open-rate")
    env = os.environ | {"VOILA_PREHEAT": "True", EVENT_ENV: str(event.root)}
    done = subprocess.run([sys.executable, "-c", WARM_PROBE, app], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_leaderboard_chart_is_drawn_again_only_when_the_board_changed(make_event, public_company,
                                                                          tmp_path, monkeypatch):
    from matsuri.gallery import apps
    from matsuri.hackathon import charts

    drawn = []
    real = charts.leaderboard_chart
    monkeypatch.setattr(charts, "leaderboard_chart", lambda *a, **k: drawn.append(1) or real(*a, **k))
    monkeypatch.setattr(apps, "_drawn", [])
    event = make_event()
    add_team(event, "alpha", "push-open-rate")
    add_team(event, "beta", "push-open-rate")
    submit(event, "alpha", write_csv(push_predictions(public_company, perfect=True), tmp_path / "a.csv"))
    first = apps.leaderboard(event, "ja")
    assert apps.leaderboard(event, "ja")[2] == first[2] and len(drawn) == 1  # nothing changed
    assert apps.leaderboard(event, "en")[2] != first[2] and len(drawn) == 2  # other words
    submit(event, "beta", write_csv(push_predictions(public_company, perfect=False), tmp_path / "b.csv"))
    boards, metrics, png = apps.leaderboard(event, "en")
    assert len(drawn) == 3 and [e.team for e in boards["push-open-rate"]] == ["alpha", "beta"]
    assert png == real(boards, metrics, lang="en")  # what a fresh drawing gives


DRAW_PROBE = """
import json, sys
import voila.utils
from matsuri.hackathon import charts

drawn = []
real = charts.leaderboard_chart
charts.leaderboard_chart = lambda *a, **k: drawn.append(1) or real(*a, **k)
before = []
voila.utils.wait_for_request = lambda: before.append(len(drawn))

from matsuri.gallery import apps
apps.index_app()
print(json.dumps([before[0], len(drawn) - before[0]]))
"""


def test_a_preheated_index_draws_its_leaderboard_before_the_page_is_asked_for(make_event, tmp_path):
    event = make_event()
    add_team(event, "alpha", "push-open-rate")
    env = os.environ | {"VOILA_PREHEAT": "True", EVENT_ENV: str(event.root)}
    done = subprocess.run([sys.executable, "-c", DRAW_PROBE], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [1, 0]  # drawn while waiting, not after
