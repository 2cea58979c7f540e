"""Does the final ranking mix leaderboard and judges as the settings say, and the report stand alone?"""

from __future__ import annotations

import re

import pytest

from matsuri.hackathon import awards, report
from matsuri.hackathon.rubric import save_marks
from matsuri.hackathon.submissions import submit
from support.hackathon_kit import add_team, ordering_predictions, push_predictions, write_csv


@pytest.fixture
def judged_event(make_event, public_company, tmp_path):
    """Three push teams (strong, middling, weak), one ordering team, marks from two judges."""
    event = make_event()
    frames = {
        "strong": push_predictions(public_company, perfect=True),
        "middle": push_predictions(public_company, seed=1),
        "weak": push_predictions(public_company, seed=2),
    }
    for team, frame in frames.items():
        add_team(event, team, "push-open-rate", display_name=f"{team} <script>alert(1)</script>")
        submit(event, team, write_csv(frame, tmp_path / f"{team}.csv"))
    add_team(event, "shop", "product-ordering", display_name="ショップ班")
    submit(event, "shop", write_csv(ordering_predictions(public_company), tmp_path / "shop.csv"))
    add_team(event, "idle", "call-keywords")  # never submitted, never judged
    save_marks(event, "佐藤", "weak", {"impact": 5, "demo": 5}, "デモが<b>最高</b>")
    save_marks(event, "鈴木", "weak", {"impact": 5, "demo": 3})
    save_marks(event, "佐藤", "strong", {"impact": 1, "demo": 1})
    save_marks(event, "鈴木", "middle", {"impact": 3, "demo": 3})
    return event


def test_final_ranking_mixes_places_and_marks_by_the_weights(judged_event):
    """Is total = 0.5 × place in theme (0..1) + 0.5 × judges' weighted mean (0..1)?"""
    standings = {s.team: s for s in awards.standings(judged_event)}
    middle_place = standings["middle"].entry.rank
    assert standings["strong"].entry.rank == 1 and standings["strong"].metric_part == 1.0
    assert standings["middle"].metric_part == pytest.approx((3 - middle_place) / 2)
    assert standings["weak"].rubric_part == pytest.approx(((5 + 5) / 2 * 0.5 + (5 + 3) / 2 * 0.5 - 1) / 4)
    assert standings["strong"].rubric_part == 0.0 and standings["middle"].rubric_part == 0.5
    assert standings["shop"].metric_part == 1.0 and standings["shop"].marks.score is None
    assert standings["idle"].entry is None and standings["idle"].total == 0.0
    for s in standings.values():
        assert s.total == pytest.approx(0.5 * s.metric_part + 0.5 * s.rubric_part)
    ordered = awards.standings(judged_event)
    assert [s.place for s in ordered] == [1, 2, 3, 4, 5]
    assert [s.total for s in ordered] == sorted((s.total for s in ordered), reverse=True)
    assert ordered[-1].team == "idle"


def test_report_is_one_self_contained_page_with_charts_and_every_team(judged_event, tmp_path):
    """Does the report embed its charts, fetch nothing, escape names, and show notes and judges?"""
    out = report.write(judged_event, tmp_path / "awards.html")
    html = out.read_text(encoding="utf-8")
    assert len(re.findall(r'<img alt="[^"]+" src="data:image/png;base64,', html)) == 3
    assert not re.search(r'(src|href)="(https?:)?//', html) and "<script>" not in html
    assert "strong &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "「デモが&lt;b&gt;最高&lt;/b&gt;」" in html and "佐藤" in html and "鈴木" in html
    assert "テストまつり" in html and "ショップ班" in html and "提出なし" in html
    for team in ("strong", "middle", "weak", "shop", "idle"):
        assert f'id="team-{team}"' in html


def test_charts_are_drawn_with_a_japanese_font(judged_event):
    """Is a CJK font selected before drawing, so Japanese names do not become boxes?"""
    from matplotlib import rcParams

    from matsuri.hackathon import charts

    png = charts.judges_chart(awards.standings(judged_event), list(judged_event.settings.criteria))
    assert png.startswith(b"\x89PNG") and len(png) > 5_000
    assert rcParams["font.family"][0] in {"IPAexGothic", "Noto Sans CJK JP"}
