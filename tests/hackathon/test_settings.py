"""Are event settings checked fully, with every problem named by its key?"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from matsuri import theme_spec
from matsuri.errors import NotFound, UsageError
from matsuri.hackathon import settings

EXAMPLE = Path(__file__).resolve().parents[2] / "hackathon" / "event.toml"


def example() -> dict:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def test_the_shipped_example_is_valid_and_enables_every_theme():
    """Does hackathon/event.toml load as is, with every theme of templates/ and a rubric?"""
    loaded = settings.load(EXAMPLE)
    assert set(loaded.themes) == set(theme_spec.all_themes())
    assert loaded.themes["product-ordering"].metric == "ndcg@10"
    assert abs(sum(c.weight for c in loaded.criteria) - 1.0) < 1e-9
    assert loaded.metric_weight + loaded.rubric_weight == 1.0
    for c in loaded.criteria:  # judges read the rubric in Japanese or English
        other = "en" if loaded.language == "ja" else "ja"
        assert c.label(other) != c.name and c.hint(other) != c.description, c.id
        japanese = c.name + c.description if loaded.language == "ja" else c.label("ja") + c.hint("ja")
        assert all(not ch.isascii() or not ch.isalpha() for ch in japanese), c.id


def _set(data: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return data


BAD = [
    ("event.nmae", "x", "`event.nmae` is not a setting"),
    ("themes.push-open-rate.dialy_limit", 3, "`themes.push-open-rate.dialy_limit` is not a setting"),
    ("themes.push-open-rate.daily_limit", "five", "`themes.push-open-rate.daily_limit` must be a whole number"),
    ("themes.push-open-rate.daily_limit", 0, "`themes.push-open-rate.daily_limit` must be at least 1"),
    ("themes.push-open-rate.total_limit", 2, "`themes.push-open-rate.total_limit` (2) must not be smaller"),
    ("themes.push-open-rate.metric", "ndcg@10", "`themes.push-open-rate.metric` must be one of roc_auc, log_loss"),
    ("themes.push-open-rate.public_share", 1.5, "`themes.push-open-rate.public_share` must be between"),
    ("themes.no-such-theme", {"metric": "roc_auc"}, "`themes.no-such-theme` is not a theme"),
    ("themes.push-open-rates", {}, "`themes.push-open-rates` is not a theme (did you mean push-open-rate?)"),
    ("event.name", ..., "`event.name` is missing"),
    ("event.starts", "2026-06-01", "`event.starts` must be a date like 2026-06-01"),
    ("event.ends", __import__("datetime").date(2026, 5, 1), "`event.ends` (2026-05-01) is before event.starts"),
    ("event.timezone", "Mars/Olympus", "`event.timezone` is not a known time zone"),
    ("teams.max_size", 0, "`teams.max_size` must be at least 1"),
    ("submissions.timeout_seconds", 1, "`submissions.timeout_seconds` must be at least 5"),
    ("submissions.run_as", 7, "`submissions.run_as` must be text in quotes"),
    ("rubric.scale", [5, 1], "`rubric.scale` must be [lowest, highest]"),
    ("awards.rubric_weight", 0.7, "`awards.rubric_weight` plus awards.metric_weight must be 1"),
    ("judging.judges", ["佐藤", "佐藤"], "`judging.judges` must be a list of distinct names"),
    ("gallery.pool_size", 20, "`gallery.pool_size` must be between 0 and 8"),
    ("gallery.preheat", "yes", "`gallery.preheat` must be true or false"),
]


@pytest.mark.parametrize(("key", "value", "expected"), BAD, ids=[b[0] + ":" + str(b[1]) for b in BAD])
def test_a_bad_setting_is_named_by_its_key(key, value, expected, tmp_path):
    """Does each invalid or misspelt setting produce a message naming the key and the file?"""
    data = _set(example(), key, value)
    with pytest.raises(UsageError) as caught:
        settings.parse(data, tmp_path / "event.toml")
    assert expected in str(caught.value)
    assert str(tmp_path / "event.toml") in str(caught.value)


def test_a_criterion_repeated_or_unknown_key_in_a_list_entry_is_named(tmp_path):
    """Are problems inside [[rubric.criteria]] pointed at by their position?"""
    data = example()
    data["rubric"]["criteria"][1]["id"] = data["rubric"]["criteria"][0]["id"]
    with pytest.raises(UsageError, match=r"`rubric.criteria\[1\].id` repeats the criterion id 'impact'"):
        settings.parse(data, tmp_path / "e.toml")
    data = example()
    data["rubric"]["criteria"][2]["wieght"] = 1
    with pytest.raises(UsageError, match=r"`rubric.criteria\[2\].wieght` is not a setting"):
        settings.parse(data, tmp_path / "e.toml")


def test_an_english_event_keeps_its_criteria_in_japanese_for_japanese_judges(tmp_path):
    """The event switched to English: `name` is now the English text, `name_ja` the Japanese."""
    data = example()
    data["event"]["language"] = "en"
    impact = data["rubric"]["criteria"][0]
    impact |= {"name": "Business impact", "name_ja": "ビジネスへの効果", "name_en": "Business impact"}
    loaded = settings.parse(data, tmp_path / "e.toml").criteria[0]
    assert (loaded.label("en"), loaded.label("ja")) == ("Business impact", "ビジネスへの効果")
    assert loaded.hint("fr") == loaded.description  # a language with no text: the event's own


def test_no_theme_enabled_is_refused(tmp_path):
    """Is an event with no [themes.*] table refused rather than silently useless?"""
    data = example()
    del data["themes"]
    with pytest.raises(UsageError, match="`themes` enables no theme"):
        settings.parse(data, tmp_path / "e.toml")


def test_broken_toml_and_missing_file_say_what_to_do(tmp_path):
    """Do a syntax error and a missing file get messages with the path and a next step?"""
    broken = tmp_path / "event.toml"
    broken.write_text("[event]\nname = 'x\n", encoding="utf-8")
    with pytest.raises(UsageError, match="is not valid TOML"):
        settings.load(broken)
    with pytest.raises(NotFound, match="Copy the example hackathon/event.toml"):
        settings.load(tmp_path / "nowhere" / "event.toml")


def test_theme_defaults_apply_when_a_theme_table_is_empty(tmp_path):
    """Does an empty [themes.x] table enable the theme with its default metric and limits?"""
    data = example()
    data["themes"] = {"call-keywords": {}}
    loaded = settings.parse(data, tmp_path / "e.toml")
    assert loaded.themes["call-keywords"].metric == "roc_auc"
    with pytest.raises(UsageError, match="not enabled"):
        loaded.theme("push-open-rate")
