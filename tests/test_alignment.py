"""The alignment rules on invented sentences, each verdict worked out by hand (no index, no model)."""

from __future__ import annotations

import pytest

from assistant.llm.alignment import Aligner, source_of

SOURCE = (
    "The Council shall adopt the measures within 30 days, except where the Commission objects. "
    "The board shall not publish its opinions, but shall send them to the Member States."
)
FIRST = SOURCE.split(". ")[0] + "."
SECOND = SOURCE.split(". ")[1]
GIVEN = ["Art. 9 of Decision 2021/7", SOURCE]


@pytest.fixture(scope="module")
def aligner() -> Aligner:
    return Aligner()


@pytest.mark.parametrize(
    ("sentence", "source", "rule"),
    [
        # faithful: plain words, "must" for "shall", "EU countries" for "Member States", reordered
        ("The Council adopts the measures within 30 days, except where the Commission objects.", FIRST, ""),
        ("The board does not publish its opinions but must send them to the EU countries.", SECOND, ""),
        # a word the source does not have
        ("The Council adopts the measures within 30 days unless NATO objects.", FIRST, "support"),
        # a number bound to another word, or not in the source
        ("The Council adopts the measures within 30 weeks, except where the Commission objects.", FIRST, "number"),
        ("The Council adopts the measures within 45 days, except where the Commission objects.", FIRST, "number"),
        # the exception dropped while its rule is kept
        ("The Council must adopt the measures within 30 days.", FIRST, "operator"),
        # obligation made a permission
        ("The Council may adopt the measures within 30 days, except where the Commission objects.", FIRST, "operator"),
        # negation moved from "publish" to "send"
        ("The board publishes its opinions but does not send them to the Member States.", SECOND, "negation"),
        # negation dropped
        ("The board publishes its opinions and sends them to the Member States.", SECOND, "negation"),
        # quantifier added
        ("The board must send all its opinions to the Member States, not publish them.", SECOND, "operator"),
        # the actor swapped, in the passive
        (
            "The measures are adopted by the Commission within 30 days, except where the Council objects.",
            FIRST,
            "actor",
        ),
        # a reference not given, or given for another treaty
        (
            "Under Article 12 TEU the Council adopts the measures within 30 days, except where the Commission objects.",
            FIRST,
            "reference",
        ),
    ],
)
def test_each_rule(aligner, sentence, source, rule):
    assert aligner.check(sentence, source, GIVEN) == rule


def test_a_word_used_negated_and_not_is_told_apart_by_what_follows_it(aligner):
    source = "Costs that are not charged to the budget shall be charged to the Member States."
    # the negation stays on the use of "charged" it qualifies, in either order
    assert aligner.check("Costs not charged to the budget are charged to the Member States.", source, []) == ""
    assert aligner.check("The Member States are charged the costs that the budget does not pay.", source, []) == ""
    # moved onto the other use: "charged to the Member States" is what the source does not negate
    moved = "Costs charged to the budget are not charged to the Member States."
    assert aligner.check(moved, source, []) == "negation"


def test_references_are_matched_whole(aligner):
    given = ["Art. 42(7) TEU", "Article 51 of the United Nations Charter applies."]
    assert aligner.check("Article 42(7) TEU applies.", "Article 42(7) TEU applies.", given) == ""
    assert aligner.check("Article 42(7) TFEU applies.", "Article 42(7) TFEU applies.", given) == "reference"


def test_the_source_is_the_whole_sentence_and_the_one_a_pronoun_points_back_to():
    text = "The Council acts. It shall adopt decisions, unless the board objects. The board meets twice."
    at = text.index("adopt decisions")
    assert source_of(text, at, at + 15) == "The Council acts. It shall adopt decisions, unless the board objects."
    at = text.index("meets")
    assert source_of(text, at, at + 5) == "The board meets twice."


def test_a_translation_must_name_the_same_bodies_and_modality(aligner):
    english = "The Council must adopt the measures."
    assert aligner.translated("Le Conseil doit adopter les mesures.", english) == ""
    assert aligner.translated("La Commission doit adopter les mesures.", english) == "translation"
    assert aligner.translated("Le Conseil peut adopter les mesures.", english) == "translation"
    assert aligner.translated("Der Europäische Rat muss die Maßnahmen erlassen.", english) == "translation"


def test_another_passage_cited_must_say_it_too(aligner):
    assert aligner.grounds("The Council adopts the measures.", SOURCE)
    assert not aligner.grounds("The Council adopts the measures.", "The Parliament holds debates twice a year.")
