"""The words the indexed texts use: which words of a question they know, typos corrected to their words (never to an
English word's expense), the rare names, and the capitalised words of a question taken for names."""

from __future__ import annotations

import json

import pytest

from assistant.index.vocabulary import Vocabulary, english_words

# Invented sentences. Counts (lower-cased): the 11, council 4, sanctions 3, mission 3, commission 2, shall 2,
# moldavia 1, varadkian 1, funded 1, cyber-attacks 1, commission's 1.
TEXTS = [
    "The Council shall adopt sanctions against the regime. The Council acts unanimously.",
    "The Commission shall report to the Council on sanctions and on the funded mission in Moldavia.",
    "The Commission's envoy, Mr Varadkian, met the Council. The mission ends in March.",
    "Cyber-attacks on the mission led the Commission to propose new sanctions.",
]


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary.build(TEXTS)


def test_the_words_are_counted_lower_cased(vocabulary):
    assert vocabulary.counts["the"] == 11
    assert vocabulary.counts["council"] == 4
    assert vocabulary.counts["sanctions"] == 3
    assert vocabulary.counts["cyber-attacks"] == 1  # a hyphenated word is one word
    assert "Council" not in vocabulary.counts


@pytest.mark.parametrize(
    "typo,meant",
    [
        ("Comission", "commission"),  # one letter missing
        ("COMISSION", "commission"),  # whatever its case
        ("Comission's", "commission"),  # a possessive is corrected by its base word
        ("Councel", "council"),  # one letter wrong
        ("sanctons", "sanctions"),
        ("comision", "commission"),  # eight letters: two edits away is still corrected
    ],
)
def test_a_typo_is_corrected_to_the_word_the_texts_use(vocabulary, typo, meant):
    assert vocabulary.correction(typo) == meant


def test_an_english_word_is_not_taken_for_a_typo(vocabulary):
    # "stall" is one edit from "shall", which the texts use twice: only the English word list keeps it as it is
    assert vocabulary.correction("stall") == "shall"
    assert vocabulary.correction("stall", {"stall"}.__contains__) is None
    assert vocabulary.correction("stall", english_words()) is None
    # the real English word list does not save a real typo
    assert vocabulary.correction("Comission", english_words()) == "commission"


@pytest.mark.parametrize(
    "word",
    [
        "Council",  # the texts use it
        "missn",  # five letters, two edits from "mission": too far for a short word
        "tho",  # too short to correct ("the" is one edit away)
        "Counci1",  # a digit: not a word to correct
        "Moldovia",  # one edit from "Moldavia", which the texts use only once
        "Varadkiam",  # one edit from a name the texts use once
        "Ruritania",  # nothing near it
    ],
)
def test_no_correction_for_known_short_far_or_once_used_words(vocabulary, word):
    assert vocabulary.correction(word) is None


@pytest.mark.parametrize(
    "word",
    ["Council", "COUNCIL", "Council's", "Commission's", "missions", "sanction", "cyber-attack", "Cyber-Attacks"],
)
def test_the_texts_know_a_word_in_any_of_its_spellings(vocabulary, word):
    assert vocabulary.knows(word)


def test_a_name_the_texts_never_use_is_unknown(vocabulary):
    assert not vocabulary.knows("Ruritania")
    assert not vocabulary.knows("Varadkiam")
    # a hyphenated word is known when each part is; `also` adds words such as the glossary's names
    assert not vocabulary.knows("EDF-funded")
    assert vocabulary.knows("EDF-funded", also={"edf"})


def test_rare_words_are_those_the_texts_use_a_few_times(vocabulary):
    assert vocabulary.rare("Varadkian") and vocabulary.rare("Moldavia")  # once each
    assert vocabulary.rare("Varadkian's")  # by its base word
    assert not vocabulary.rare("Council")  # four times
    assert not vocabulary.rare("the")
    assert not vocabulary.rare("Ruritania")  # never used: unknown, not rare


def test_a_saved_vocabulary_loads_the_same(vocabulary, tmp_path):
    vocabulary.save(tmp_path)
    loaded = Vocabulary.load(tmp_path)
    assert loaded == vocabulary
    assert loaded.correction("Comission") == "commission"


def test_a_saved_file_that_is_not_an_object_is_refused(tmp_path):
    (tmp_path / "vocabulary.json").write_text(json.dumps(["council", "mission"]), encoding="utf-8")
    with pytest.raises(ValueError, match="not a JSON object"):
        Vocabulary.load(tmp_path)
