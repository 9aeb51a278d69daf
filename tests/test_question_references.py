"""Explicit references in a question: the treaty articles (with their paragraph), protocols and declarations it names,
and articles of texts that are not indexed ("Article 5 of the North Atlantic Treaty")."""

from __future__ import annotations

import pytest

from assistant.question.references import Reference, find_references, other_text

# The articles an index holds, by treaty (a selection: "31" is in both, "215" and "222" only in the TFEU)
ARTICLES = {"TEU": {"5", "21", "24", "31", "42", "43"}, "TFEU": {"31", "215", "222"}}


def refs(question: str) -> list[tuple[str, str, str]]:
    return [(r.source_id, r.article, r.paragraph) for r in find_references(question, ARTICLES)]


@pytest.mark.parametrize(
    "question",
    [
        "What does Art. 42(7) TEU require?",
        "What does Article 42(7) of the Treaty on European Union say?",
        "what does art 42 (7) teu say?",
        "Article 42(7) of the TEU",
    ],
)
def test_an_article_and_paragraph_of_the_teu(question):
    assert find_references(question, ARTICLES) == [Reference("TEU", "42", "7")]


def test_the_treaty_named_decides_and_a_bare_article_prefers_the_teu():
    assert refs("What does Article 31 TFEU say?") == [("TFEU", "31", "")]
    assert refs("Article 31 of the Treaty on the Functioning of the European Union") == [("TFEU", "31", "")]
    assert refs("What does Article 31 say?") == [("TEU", "31", "")]  # in both: the TEU's
    assert refs("Explain Article 215") == [("TFEU", "215", "")]  # only the TFEU has it


def test_an_article_the_index_does_not_hold_is_no_reference():
    assert refs("What does Article 999 TEU say?") == []
    assert refs("Article 215 TEU") == []  # the TEU has no such article here
    assert refs("In 2019 the mission cost 42 million euros, part 3 of the budget") == []  # numbers are not articles


def test_every_article_of_a_list_with_the_treaty_named_after_it():
    assert refs("Compare Articles 42(6) and 43 TEU") == [("TEU", "42", "6"), ("TEU", "43", "")]
    # 22 is not in the index: left out, the others kept in order
    assert refs("What do Articles 21, 22 and 24 say?") == [("TEU", "21", ""), ("TEU", "24", "")]


def test_protocols_and_declarations_mean_the_whole_text():
    assert refs("What is in Protocol No 10?") == [("PROTOCOL-10", "", "")]
    assert refs("What is in Protocol (No. 11)?") == [("PROTOCOL-11", "", "")]
    assert refs("What does the PESCO protocol say?") == [("PROTOCOL-10", "", "")]
    assert refs("And Declaration No 14?") == [("DECLARATION-14", "", "")]
    # "the protocol on Article 42" is No 11, named first; "on Article 42(6)" is the article itself
    assert refs("What is the protocol on Article 42?") == [("PROTOCOL-11", "", ""), ("TEU", "42", "")]
    assert refs("What is the protocol on Article 42(6)?") == [("TEU", "42", "6")]


def test_a_reference_named_twice_counts_once():
    assert refs("Article 42(7) TEU, and again Article 42(7) TEU") == [("TEU", "42", "7")]


@pytest.mark.parametrize(
    "question,named",
    [
        ("What does Article 5 of the North Atlantic Treaty say?", "Article 5 of the North Atlantic Treaty"),
        ("What does Article 5 of the NATO treaty say?", "Article 5 of the NATO treaty"),
        ("Article 24 of the UN Charter", "Article 24 of the UN Charter"),
        # named after a place: the whole name, not "the Treaty"
        ("What does Article 2 of the Treaty of Westphalia of 1648 say?", "Article 2 of the Treaty of Westphalia"),
        ("Is Article 3 of the Treaty of the North Atlantic binding?", "Article 3 of the Treaty of the North Atlantic"),
        ("Is Article 5 of the Treaty of Washington EU law?", "Article 5 of the Treaty of Washington"),
        ("Did Article 2 of the Treaty of Amsterdam In 1997 change it?", "Article 2 of the Treaty of Amsterdam"),
    ],
)
def test_an_article_of_another_text_is_not_a_treaty_reference(question, named):
    assert other_text(question) == named
    assert refs(question) == []  # not taken for the TEU article of the same number, which the index holds


def test_an_article_of_the_eu_treaties_is_no_other_text():
    assert other_text("What does Article 42(7) TEU say?") == ""
    assert other_text("Article 24 of the Treaty on European Union") == ""
    # beside another text's article, the EU one is still found
    question = "Article 5 of the North Atlantic Treaty and Article 42(7) TEU"
    assert other_text(question) == "Article 5 of the North Atlantic Treaty"
    assert refs(question) == [("TEU", "42", "7")]


@pytest.mark.parametrize("treaty", ["the EU Treaty", "the Treaty"])
def test_an_article_of_the_eu_treaty_in_plain_words_is_a_treaty_reference(treaty):
    question = f"What does Article 24 of {treaty} say?"
    assert other_text(question) == ""
    assert refs(question) == [("TEU", "24", "")]
