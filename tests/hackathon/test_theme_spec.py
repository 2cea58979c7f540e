"""Is a theme one folder? Every spec loads; a typo is named; a toy theme written in a test (a
regression on an existing table) is validated, scored, ranked and shown with no code change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from matsuri import theme_spec
from matsuri.errors import UsageError
from support.hackathon_kit import add_team, write_csv

TOY = '''
id = "toy-orders"

[title]
ja = "注文数の予測"
en = "How many orders"

[description]
ja = "締め日の後に各ユーザーが何件注文するかを予測します。"
en = "Predict how many products each user orders after the cutoff."

[holdout]
table = "holdout_ordering_users"
id = "user_id"
labels = "SELECT user_id, count(*)::DOUBLE AS orders FROM ordering_labels GROUP BY 1"

[[files]]
name = "predictions.csv"
kind = "value"

[[metrics]]
name = "rmse"
direction = "lower"
leaderboard = true
format = "{:.2f}"

[[metrics]]
name = "mae"
'''


@pytest.fixture
def templates(tmp_path, monkeypatch):
    """The kit's theme folders plus a toy one, as the kit's templates folder."""
    folder = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", folder)
    toy = folder / "toy-orders"
    toy.mkdir()
    (toy / "theme.toml").write_text(TOY, encoding="utf-8")
    for name in theme_spec.TEMPLATE_FILES:
        shutil.copy(folder / "push-open-rate" / name, toy / name)
    monkeypatch.setenv(theme_spec.TEMPLATES_ENV, str(folder))
    return folder


def test_does_every_theme_of_the_kit_load_from_its_folder():
    themes = theme_spec.all_themes()
    assert len(themes) >= 3
    for theme_id, spec in themes.items():
        assert spec.folder == ROOT / "templates" / theme_id
        assert theme_spec.template_dir(theme_id) == spec.folder
        assert spec.title["ja"] and spec.title["en"] and spec.description["ja"]
        assert spec.leaderboard in [m.name for m in spec.metrics]
    assert set(theme_spec.output_files()) >= {"predictions.csv"}


@pytest.mark.parametrize(("change", "named"), [
    (("leaderboard = true", "leaderbord = true"), "`metrics[0].leaderbord` is not a setting matsuri "
                                                  "knows (did you mean leaderboard?)"),
    (('kind = "value"', 'kind = "values"'), "`files[0].kind` must be one of probability, value, "
                                            "ranking, keywords (did you mean value?)"),
    (('name = "rmse"', 'name = "rsme"'), "`metrics[0].name` ('rsme') is not a metric matsuri knows "
                                         "(did you mean rmse?)"),
    (('direction = "lower"', 'direction = "higher"'), "`metrics[0].direction` is wrong for rmse"),
    (('id = "user_id"', 'id = "user id"'), "`holdout.id` must be a table or column name"),
    (("[title]\nja", "[title]\njp"), "`title.ja` is missing"),
])
def test_does_a_typo_in_a_spec_name_its_key(tmp_path, change, named):
    folder = tmp_path / "toy-orders"
    folder.mkdir()
    (folder / "theme.toml").write_text(TOY.replace(*change), encoding="utf-8")
    with pytest.raises(UsageError) as error:
        theme_spec.load(folder)
    assert named in str(error.value)
    assert str(folder / "theme.toml") in str(error.value)


def test_is_an_unknown_theme_answered_with_the_closest_one():
    with pytest.raises(UsageError, match="did you mean push-open-rate"):
        theme_spec.get("push-open-rates")


def test_is_a_toy_theme_validated_scored_ranked_and_shown(templates, make_event, public_company):
    from matsuri.hackathon import leaderboard, report
    from matsuri.hackathon.predictions import InvalidSubmission
    from matsuri.hackathon.submissions import submit

    event = make_event(extra_themes="[themes.toy-orders]\npublic_share = 0.5\n")
    assert event.settings.theme("toy-orders").metric == "rmse"
    users = public_company.query("SELECT user_id FROM holdout_ordering_users ORDER BY 1")
    truth = public_company.query(
        "SELECT user_id, count(*)::DOUBLE AS n FROM ordering_labels GROUP BY 1", labels=True)
    exact = users.merge(truth, on="user_id", how="left").fillna(0.0)
    add_team(event, "guess", "toy-orders")
    add_team(event, "exact", "toy-orders")
    folder = Path(event.root)
    guess = write_csv(users.assign(value=1.0), folder / "guess.csv")
    perfect = write_csv(exact.rename(columns={"n": "value"}), folder / "perfect.csv")
    assert submit(event, "guess", guess).status == "scored"
    assert submit(event, "exact", perfect).status == "scored"
    board = leaderboard.public_board(event, "toy-orders")
    assert [e.team for e in board] == ["exact", "guess"]          # lower rmse ranks first
    assert board[0].score == pytest.approx(0.0) and board[1].score > 0
    assert set(board[0].metrics) == {"rmse", "mae"}
    broken = write_csv(users.assign(value="lots"), folder / "broken.csv")
    with pytest.raises(InvalidSubmission, match="value"):
        submit(event, "guess", broken)
    page = report.render(event)
    assert "toy-orders" in page and "exact" in page
    from matsuri.gallery.apps import _cards
    from matsuri.hackathon.charts import leaderboard_chart

    cards = _cards(event, {"toy-orders": board}, "toy-orders")
    assert "rmse <b>0.00</b>（1位）" in cards                       # formatted as its spec says
    assert leaderboard_chart({"toy-orders": board}, {"toy-orders": "rmse"})[:4] == b"\x89PNG"
