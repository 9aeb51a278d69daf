"""Provisions split from chunks, and trimming: a list keeps its lead-in, recitals and link lines are known for what
they are, a numbered paragraph's subparagraphs stay together."""

from __future__ import annotations

import re

import numpy as np
import pytest

from assistant.answer.compose import Composer
from assistant.answer.features import Features
from assistant.answer.rank import RulesRanker
from assistant.answer.records import Candidate, Signals
from assistant.ingest.chunking import split_sentences
from assistant.ingest.provisions import split
from assistant.question.query import Query, with_terms
from assistant.retrieval.retriever import Retrieval
from assistant.types import Chunk, Hit, Via

LIST = (
    "2. Cyber-attacks constituting an external threat include those which:\n"
    "(a) originate, or are carried out, from outside the Union;\n"
    "(b) use infrastructure outside the Union;\n"
    "(c) are carried out by any person established or operating outside the Union."
)


def chunk(
    text: str,
    paragraphs: list[str],
    label: str = "Art. 1(2) of Decision (CFSP) 2019/797",
    headings: str = "Council Decision — Article 1",
) -> Chunk:
    """A chunk as the chunker makes them: text, one paragraph number per line, sentence spans."""
    return Chunk(
        id="c1",
        source_id="32019D0797",
        kind="decision",
        tier=2,
        title="Decision",
        label=label,
        url="",
        date="2019-05-17",
        article="1",
        paragraph="2",
        headings=headings,
        text=text,
        sentences=split_sentences(text, paragraphs),
    )


def test_a_list_and_its_lead_in_are_one_provision():
    provisions = split(chunk(LIST, ["2"] * 4))
    assert len(provisions) == 1
    p = provisions[0]
    assert p.kind == "list" and p.text.startswith("Cyber-attacks constituting") and "(c) are carried out" in p.text
    lead = p.sentences[0]
    assert dict(p.requires) == {item: lead for item in p.sentences[1:]}  # every item needs the lead-in


def test_a_numbered_paragraphs_subparagraphs_stay_together_and_numbers_are_not_quoted():
    text = (
        "1. Decisions shall be taken unanimously. The adoption of legislative acts shall be excluded.\n"
        "When abstaining in a vote, any member may qualify its abstention by a formal declaration."
    )
    provisions = split(chunk(text, ["1", "1"]))
    assert len(provisions) == 1 and provisions[0].kind == "paragraph"
    assert provisions[0].text.startswith("Decisions shall be taken unanimously.")  # "1." is numbering


def test_recitals_headings_and_further_reading_are_not_operative_text():
    recitals = split(
        chunk(
            "Whereas:\n(1) On 18 October 2018 the European Council adopted conclusions.",
            ["", ""],
            label="Recitals of Decision (CFSP) 2019/797",
        )
    )
    assert all(not p.operative for p in recitals)
    page = split(
        chunk(
            "Key points of the decision\nThe Council adopts the decision by unanimity.\n"
            "EU sanctions map: Syria (Council of the European Union).",
            ["", "", ""],
            label="EUR-Lex summary",
            headings="Summary — KEY POINTS",
        )
    )
    assert [p.kind for p in page] == ["heading", "text", "heading"]
    # a paragraph that merely ends with an institution's name in brackets is text, not a link
    prose = split(
        chunk(
            "The High Representative coordinates the diplomatic network through the European External "
            "Action Service (EEAS).",
            [""],
            label="CFSP overview page",
        )
    )
    assert prose[0].kind == "text"


def test_a_list_of_links_is_never_quoted_and_ends_at_the_next_section():
    """ "See also:" and the page titles it lists are links, however they end; the next section is text again."""
    background = split(
        chunk(
            "The measures were first adopted in 2010.\nSee also:\nIran and the EU (European External Action Service)\n"
            "Information note on EU sanctions to be lifted under the joint comprehensive plan of action "
            "(European Union).\nKEY TERMS\nFreezing of funds: preventing any move of funds.",
            ["", "", "", "", "", ""],
            label="EUR-Lex summary",
            headings="Summary — BACKGROUND",
        )
    )
    assert [p.kind for p in background] == ["text", "heading", "text"]
    assert "Information note" in background[1].text and "Freezing of funds" in background[2].text
    # a sentence after the links is text again, and a lead-in that merely speaks of information is no link list
    after = split(
        chunk(
            "See also:\nIran and the EU (European External Action Service)\n"
            "The EU lifted its nuclear-related sanctions on 16 January 2016.",
            ["", "", ""],
            label="EUR-Lex summary",
            headings="Summary — BACKGROUND",
        )
    )
    assert [p.kind for p in after] == ["heading", "text"] and after[1].text.startswith("The EU lifted")
    rules = split(
        chunk("Further information shall be provided on:\n(a) the objectives;\n(b) its duration.", ["", "", ""])
    )
    assert [p.kind for p in rules] == ["list"]


def candidate_for(provision, best: int) -> Candidate:
    """A candidate whose sentence `best` (an index into the provision's sentences) is the one that answers."""
    scores = {i: 0.0 for i in provision.sentences}
    scores[provision.sentences[best]] = 1.0
    return Candidate(
        provision,
        None,  # type: ignore[arg-type]
        0,
        tuple(scores[i] for i in provision.sentences),
        frozenset(),
        np.zeros(3),
        {},
        1.0,
    )


def trimmer() -> Composer:
    """A composer for trimming alone, with the glossary's qualifying words."""
    from assistant.config import PROJECT_ROOT
    from assistant.ingest.catalogue import load_qualifiers

    qualifiers = load_qualifiers(PROJECT_ROOT / "corpus" / "glossary.toml")
    return Composer(RulesRanker(), lambda _: 0.0, {}, qualifiers=qualifiers)


REVIEW = (
    "\nThe restrictive measures shall be reviewed every year in the light of developments on the "
    "ground, and the Council may amend them at any time when the situation so requires."
)


def test_trimming_keeps_the_lead_in_of_a_quoted_item_and_marks_omissions():
    provision = split(chunk(LIST + REVIEW, ["2"] * 5))[0]
    # "(b) use infrastructure outside the Union;" answers; 12 words leave no room for the rest of the list
    quote, kept = trimmer().trim(candidate_for(provision, 2), budget=12)
    assert kept == (provision.sentences[0], provision.sentences[2])
    assert quote.startswith("Cyber-attacks constituting an external threat include those which:")
    assert "(b) use infrastructure outside the Union;" in quote and "…" in quote
    assert "(a) originate" not in quote


def test_a_list_is_quoted_whole_when_it_fits_the_budget_again():
    provision = split(chunk(LIST + REVIEW, ["2"] * 5))[0]
    # lead-in and (b) are 13 words; the other items bring the list to 33, within twice the budget of 20: the list
    # is not quoted in part as if it were whole, and the review sentence, which does not answer, is left out
    quote, kept = trimmer().trim(candidate_for(provision, 2), budget=20)
    assert kept == provision.sentences[:4]
    assert "(a) originate" in quote and "(c) are carried out" in quote and quote.endswith("…")


def test_a_trimmed_provision_keeps_the_exception_that_qualifies_its_rule():
    text = (
        "1. Member States shall take the measures necessary to prevent the entry into, or transit through, their "
        "territories of the persons listed in the Annex, including their family members and associates.\n"
        "The Council shall keep the list of persons under constant review and amend it whenever needed in the light "
        "of developments on the ground and of the information that Member States give it.\n"
        "Paragraph 1 shall not apply where entry is required for the fulfilment of a judicial process."
    )
    provision = split(chunk(text, ["1", "1", "1"]))[0]
    assert len(provision.sentences) == 3
    # the travel ban answers; a budget of 30 words has no room for anything else, yet its exception stays
    quote, kept = trimmer().trim(candidate_for(provision, 0), budget=30)
    assert "shall not apply where entry is required for the fulfilment of a judicial process" in quote
    assert "constant review" not in quote and "…" in quote
    assert kept == (provision.sentences[0], provision.sentences[2])


def test_a_fragment_comes_with_its_context_before_it_only_for_what_is_questions():
    """A lead too short to say anything brings the provision of its article it follows on from: in reading order
    when the question asks what something is, after the fragment when the fragment holds the fact asked for."""
    c = chunk(
        "1. A mechanism to administer the financing of the common costs of operations is hereby established.\n"
        "2. It shall be called Athena.",
        ["1", "2"],
        label="Art. 2 of Decision (CFSP) 2015/528",
    )
    context, fragment = split(c)
    hit = Hit(c, 1.0)

    def candidate(provision, score: float) -> Candidate:
        relevance = tuple(1.0 for _ in provision.sentences)
        return Candidate(provision, hit, 0, relevance, frozenset(), None, Signals(), score)

    composer = Composer(RulesRanker(), lambda t: 1.0, {c.id: 0})
    ranked = [candidate(fragment, 1.0), candidate(context, 0.4)]  # the fragment scores best

    def quoted(asks_for: str) -> list[str]:
        query = Query("q", "q", "q", asks_for=asks_for)
        return [part.quote for part in composer.compose(query, ranked)]

    assert quoted("definition") == [context.text, fragment.text]
    assert quoted("how_much") == [fragment.text, context.text]


def test_a_question_of_names_alone_is_spoken_of_by_wording_that_holds_the_names():
    """A question such as "What about Ireland?" asks about nothing but a name: wording holding it speaks of what
    is asked (the "unnamed" share, undefined for such a question, is the whole share), wording without it does
    not."""
    c = chunk("1. Ireland and Italy take part.\n2. The Agency shall have its seat in Brussels.", ["1", "2"])

    def terms(texts: list[str]) -> list[list[str]]:
        return [[w for w in re.findall(r"\w+", t.lower()) if w not in {"what", "about"}] for t in texts]

    features = Features(lambda position: np.zeros((2, 3)), {c.id: 0}, terms, lambda t: 1.0)
    query = with_terms(
        Query("What about Ireland?", "What about Ireland?", "What about Ireland?", names=("Ireland",)), terms
    )
    found = {
        cand.text: cand.features.unnamed for cand in features.candidates(query, Retrieval((Hit(c, 1.0),), np.zeros(3)))
    }
    assert found == {"Ireland and Italy take part.": 1.0, "The Agency shall have its seat in Brussels.": 0.0}


def test_the_ranker_features_of_each_candidate_worked_out_by_hand():
    """Two provisions of one retrieved passage, sentence vectors set by hand: the features the ranker reads."""
    c = chunk(
        "1. The Agency shall have its seat in Brussels.\n2. Whereas the Agency was set up in 2004.",
        ["1", "2"],
        label="Art. 1 of Decision (CFSP) 2019/797",
    )

    def terms(texts: list[str]) -> list[list[str]]:
        return [[w for w in re.findall(r"\w+", t.lower()) if w not in {"where", "is", "the", "s"}] for t in texts]

    # the chunk's sentences are "1.", the rule, "2." and the recital: the rule points along x (the question's
    # direction), the recital along y
    vectors = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    features = Features(lambda position: vectors, {c.id: 0}, terms, lambda t: 1.0)
    asked = "Where is the Agency's seat?"
    query = with_terms(Query(asked, asked, asked), terms)
    retrieval = Retrieval((Hit(c, 1.0, dense=0.6, via=Via.DENSE),), np.array([1.0, 0.0, 0.0], dtype=np.float32))
    found = {cand.text: cand.features for cand in features.candidates(query, retrieval)}
    seat = found["The Agency shall have its seat in Brussels."]
    recital = found["Whereas the Agency was set up in 2004."]
    # the question's terms are "agency" and "seat", each of idf 1: the first provision holds both, the second one
    assert seat.lexical == 1.0 and recital.lexical == 0.5
    assert seat.dense_best == 1.0 and recital.dense_best == 0.0  # its sentence's cosine with the question
    assert seat.passage == recital.passage == 0.6  # the passage's own similarity
    assert seat.rank == 1.0  # 1 / (1 + rank 0)
    assert seat.background == 0.0 and recital.background == 1.0  # "Whereas ..." is a recital
    assert seat.sibling == 0.0 and seat.reference == 0.0
    assert seat.authority == pytest.approx(2 / 3)  # a legal act: (4 - tier 2) / 3
    # the rules ranker's sum of them puts the provision that answers first
    assert next(iter(found)) == "The Agency shall have its seat in Brussels."
