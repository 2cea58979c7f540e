"""Does the Japanese tokeniser find the words that matter, offline, in dictionary form?"""

from __future__ import annotations

from matsuri.templates import japanese
from matsuri.warehouse.signals import CALL_PHRASES


def test_every_planted_keyword_comes_out_as_one_word():
    for phrase in CALL_PHRASES:
        assert phrase.keyword in japanese.words(phrase.sentence), phrase


def test_verbs_become_their_dictionary_form_and_particles_are_dropped():
    words = japanese.words("実はもう他社に決めてしまいました。")
    assert "決める" in words and "他社" in words
    assert not {"は", "に", "ました", "しまう"} & set(words)


def test_speaker_labels_and_full_width_letters_are_normalised():
    tokens = japanese.tokens("営業：ＡＢＣ社の件です。\n顧客: 予算はあります。")
    assert "営業" not in [t.word for t in tokens] and "顧客" not in [t.word for t in tokens]
    assert "ABC" in [t.word for t in tokens] and "予算" in [t.word for t in tokens]
    text = japanese.normalise("営業：ＡＢＣ社の件です。\n顧客: 予算はあります。")
    assert all(text[t.start:t.start + len(t.surface)] == t.surface for t in tokens), "offsets point at the words"


def test_empty_or_missing_text_has_no_words():
    assert japanese.words("") == [] and japanese.words(None) == []
