"""Answers on the full corpus: the right article cited first, honest abstention, citations only to retrieved chunks."""

from __future__ import annotations

import pytest

from assistant.errors import QuestionError
from assistant.serve.web.examples import START

pytestmark = pytest.mark.slow

# (question, acceptable (source, article) pairs; article None means any part of that act)
CITED_FIRST = [
    ("Does the EU have a mutual defence clause?", {("TEU", "42")}),
    ("What is constructive abstention?", {("TEU", "31")}),
    ("What does the Political and Security Committee do?", {("TEU", "38")}),
    ("What is PESCO?", {("32017D2315", None), ("PROTOCOL-10", None), ("TEU", "46"), ("TEU", "42")}),
    ("What is the European Peace Facility?", {("32021D0509", None)}),
    # the treaty writes "European External Action Service" in full: that is what "EEAS" names, as fully as the
    # acronym in another act's sentence about the secretariat of a board
    ("What does the EEAS do?", {("TEU", "27")}),
    (
        "Can the EU impose sanctions for cyber-attacks?",
        {("32019R0796", None), ("32019D0797", None)},
    ),  # regulation or decision
]
# Regressions since the fine-tuned embedding model became the default (issue 20): with its candidates the hand-written
# checks let these through. Kept as strict expected failures, so the suite says when a change mends one.
REGRESSION = pytest.mark.xfail(strict=True, reason="answered wrongly since cfsp-minilm became the default (issue 20)")
OUT_OF_SCOPE_GAP = pytest.mark.xfail(
    strict=True, reason="answered from the nearest provision: the answerability model's gap (issue 20)"
)


OUT_OF_SCOPE = [
    "What is the weather in Brussels?",
    "Who won the football world cup?",
    "How do I bake sourdough bread?",
    "How do I make proper Belgian waffles at home?",  # a name a few texts use, in a question about something else
    # passages on the same subject that do not say what is asked: an agency's staff (the answerability model)
    "How many soldiers have died while serving in EU military missions?",
    "How much is a monthly bus pass in Vienna?",
    # everyday questions the answerability model lets through to the nearest provision (the languages article, the
    # EU-Japan agreement's territory): its known gap
    pytest.param("How do I apply for a Spanish driving licence?", marks=OUT_OF_SCOPE_GAP),
    pytest.param("Which countries need a visa to visit Japan?", marks=OUT_OF_SCOPE_GAP),
]


@pytest.mark.parametrize("question,acceptable", CITED_FIRST)
def test_right_source_cited_first(assistant, question, acceptable):
    answer = assistant.ask(question)
    assert not answer.abstained
    first = answer.citations[0]
    assert (first.source_id, first.article) in acceptable or (first.source_id, None) in acceptable, first.label
    assert "[1]" in answer.text


def test_a_named_paragraph_is_quoted_in_order(assistant):
    """ "What does Article 42(7) TEU say?" quotes 42(7) itself, from its first sentence, not look-alikes."""
    answer = assistant.ask("What does Article 42(7) TEU say?")
    assert {c.label for c in answer.citations} == {"Art. 42(7) TEU"}
    assert answer.text.startswith("If a Member State is the victim of armed aggression")


@pytest.mark.parametrize("question", OUT_OF_SCOPE)
def test_out_of_scope_abstains(assistant, question):
    answer = assistant.ask(question)
    assert answer.abstained and not answer.citations
    assert "do not answer" in answer.text


# Each start-screen example and the provision that answers it (any of them), cited first.
START_CITED = {
    "Can the EU decide foreign policy by majority vote?": {("TEU", "31")},
    "What is the role of the High Representative?": {("TEU", "18"), ("TEU", "27")},
    "What does EULEX Kosovo do?": {("32008E0124", None)},
    "What is PESCO?": {("32017D2315", None), ("PROTOCOL-10", None), ("TEU", "46"), ("TEU", "42")},
    "How does the EU adopt sanctions?": {
        ("TFEU", "215"),
        ("TEU", "29"),
        ("TEU", "31"),
        ("32018R1542", None),
        ("32019R0796", None),
        ("32020R1998", None),
    },
    "Does the EU have a mutual defence clause like NATO?": {("TEU", "42")},
}


def test_start_screen_examples_are_all_checked():
    assert set(START) == set(START_CITED)


@pytest.mark.parametrize("question", START)
def test_each_start_screen_example_cites_the_provision_that_answers_first(assistant, question):
    answer = assistant.ask(question)
    assert not answer.abstained, answer.text
    first = answer.citations[0]
    accepted = START_CITED[question]
    assert (first.source_id, first.article) in accepted or (first.source_id, None) in accepted, first.label


def test_the_mutual_defence_example_quotes_the_mutual_assistance_clause_first(assistant):
    answer = assistant.ask("Does the EU have a mutual defence clause like NATO?")
    assert answer.citations[0].label == "Art. 42(7) TEU"
    assert answer.text.startswith("If a Member State is the victim of armed aggression")
    assert len(answer.text.split()) <= 130  # short: the full article is a click away


def test_a_list_is_quoted_with_its_lead_in(assistant):
    answer = assistant.ask("Which cyber-attacks count as an external threat to the Union?")
    listed = [c for c in answer.citations if "(a) originate" in c.quote]
    assert listed, [c.label for c in answer.citations]
    assert (listed[0].article, listed[0].paragraph) == ("1", "2")
    assert "include those which: (a) originate" in listed[0].quote


def test_a_fragment_is_quoted_with_the_provision_it_follows_on_from(assistant):
    """ "The mechanism shall be called Athena." alone does not say what Athena is: the paragraph before it does."""
    answer = assistant.ask("What is the Athena mechanism?")
    assert answer.text.startswith("A mechanism to administer the financing of the common costs of operations")
    assert "shall be called Athena" in answer.text
    assert [c.label for c in answer.citations[:2]] == [
        "Art. 2(1) of Decision (CFSP) 2015/528",
        "Art. 2(2) of Decision (CFSP) 2015/528",
    ]


def test_a_long_provision_is_trimmed_to_the_sentence_that_holds_what_is_asked(assistant):
    """Art. 31(1) TEU is long; for "how many" the quote keeps its sentence with the figure (one third)."""
    answer = assistant.ask(
        "How many member states have to abstain formally before a foreign policy decision falls through?"
    )
    assert answer.citations[0].label.startswith("Art. 31")
    assert "one third" in answer.text


def test_a_recital_is_not_quoted_for_a_question_about_the_rules(assistant):
    answer = assistant.ask("Who decides on restrictive measures against cyber-attacks?")
    assert not answer.abstained
    assert not answer.citations[0].label.startswith(("Recitals", "Preamble")), answer.citations[0].label
    for word in ("WHEREAS", "RECALLING", "BEARING IN MIND", "Having regard"):
        assert not answer.text.startswith(word)


@pytest.mark.parametrize(
    "question,searched",
    [
        ("What is the Comission's role in CFSP?", "What is the Commission's role in CFSP?"),  # possessive + typo
        ("What does the HR/VP do?", None),  # slashed acronym
        ("What is the role of the Hihg Representative?", "What is the role of the High Representative?"),
        ("How are cyber attacks sanctioned?", None),  # hyphenation
        ("What does the EU defense policy cover?", None),  # American spelling
    ],
)
def test_spelling_and_punctuation_never_make_it_decline(assistant, question, searched):
    answer = assistant.ask(question)
    assert not answer.abstained, answer.text
    if searched:  # the correction is searched for and said
        assert answer.search_query == searched and answer.corrections


@pytest.mark.parametrize(
    "question,missing",
    [
        ("How much did the European Peace Facility spend in 2023?", "do not mention 2023"),
        ("What does Article 5 of the North Atlantic Treaty say?", "do not contain the text of Article 5 of the North"),
        ("Who was the first High Representative?", "do not name the person"),
        # the page names today's holder, not the one before: that is not an answer
        ("Who was High Representative before Kaja Kallas?", "do not name the person"),
        # a mission in Niger is no record of a coup being condemned
        ("Has the EU condemned the military coup in Niger?", "do not record whether or how that happened for Niger"),
        # wording that names Ukraine but says nothing of what is asked about it
        pytest.param(
            "When will Ukraine become a full member of the EU?",
            "do not record whether or how that happened",
            marks=REGRESSION,
        ),
        ("What is in the 14th package of sanctions against Russia?", "never mention “14th”"),
        # "once the solidarity clause has been invoked, the EU mobilises ..." sets a condition, it records no use
        ("Has the EU solidarity clause ever been used in a real emergency? Which country asked for help?", "whether"),
    ],
)
def test_what_the_texts_do_not_contain_is_declined_naming_what_is_missing(assistant, question, missing):
    answer = assistant.ask(question)
    assert answer.abstained and not answer.citations
    assert missing in answer.text


@pytest.mark.parametrize(
    "question,act",
    [
        # the year names the act ("Regulation (EC) No 428/2009"), whose provisions never repeat it: no reason to decline
        ("Under the 2009 dual-use regulation, who chairs the Dual-Use Coordination Group?", "32009R0428"),
        ("Under the 2021 dual-use rules, who lays down the penalties for infringements?", "32021R0821"),
    ],
)
def test_a_year_that_names_the_act_is_found_in_the_act(assistant, question, act):
    answer = assistant.ask(question)
    assert not answer.abstained and answer.citations[0].source_id == act


# ---- the CFSP overview page (a web page): reached when only it answers, attributed, and behind the treaties


def test_a_question_only_the_page_answers_is_answered_from_it_and_says_what_it_is(assistant):
    answer = assistant.ask("Which regions does EU foreign policy focus on?")
    first = answer.citations[0]
    assert first.source_id == "cfsp-overview" and first.tier == 4
    assert answer.text.startswith("According to the CFSP overview page (a web page, not an official legal text)")
    assert "Southeast Asia" in first.quote


def test_the_iran_nuclear_deal_is_known_by_its_official_name(assistant):
    """The glossary ties "nuclear deal" to the Joint Comprehensive Plan of Action, the name the texts use."""
    answer = assistant.ask("What role did the EU have in the Iran nuclear deal?")
    assert not answer.abstained
    assert "joint comprehensive plan of action" in answer.citations[0].quote.lower()


@REGRESSION
def test_which_organisations_are_asked_for_by_a_body_not_by_a_word_in_common(assistant):
    """A "which organisations" question asks for bodies: the page naming NATO comes before a liaison office."""
    for question in (
        "Do EU countries keep permanent offices in Brussels, and which organisations are they accredited to?",
        "Are the member states represented in Brussels, and to which organisations?",
    ):
        first = assistant.ask(question).citations[0]
        assert first.source_id == "cfsp-overview" and "NATO" in first.quote, (question, first.label)


def test_who_holds_the_office_now_is_answered_from_the_page_with_the_caveat(assistant):
    answer = assistant.ask("Who is the High Representative now?")
    assert not answer.abstained
    assert answer.citations[0].source_id == "cfsp-overview" and "Kaja Kallas" in answer.citations[0].quote
    assert "a web page, not an official legal text; it may be out of date" in answer.text


def test_a_question_about_a_person_the_page_names_is_answered_from_it(assistant):
    """The person's name alone ties "Who is Kaja Kallas?" to the page, however unlike the page's wording it is."""
    for question in ("Who is Kaja Kallas?", "Can you tell me who Kaja Kallas is?"):
        answer = assistant.ask(question)
        assert not answer.abstained, question
        assert answer.citations[0].source_id == "cfsp-overview" and "Kaja Kallas" in answer.citations[0].quote


@REGRESSION
def test_a_present_state_question_no_source_answers_is_still_declined(assistant):
    answer = assistant.ask("How many people are on the EU terrorist list today?")
    assert answer.abstained and "how things stand today" in answer.text


def test_where_a_treaty_and_the_page_say_the_same_the_treaty_comes_first(assistant):
    answer = assistant.ask("Who chairs the Foreign Affairs Council?")
    first = answer.citations[0]
    assert first.tier < 4 and first.source_id != "cfsp-overview", first.label
    assert "High Representative" in first.quote


def test_the_paragraph_that_answers_comes_before_one_that_only_spells_out_the_title(assistant):
    """A glossary term's full name that the texts write is the same thing as the name the question uses: Art. 18(1)
    spelling out "High Representative of the Union for Foreign Affairs and Security Policy" is no better an answer
    to "is the High Representative a member of the Commission?" than Art. 18(4), which says it (wrong with the rules
    alone since cfsp-minilm became the default; the reader puts 18(4) first)."""
    first = assistant.ask("Is the High Representative a member of the Commission?").citations[0]
    assert first.label == "Art. 18(4) TEU" and "Vice-Presidents of the Commission" in first.quote, first.label


def test_majority_vote_cites_article_31(assistant):
    answer = assistant.ask("Can the EU decide foreign policy by majority vote?")
    assert answer.citations[0].label.startswith("Art. 31(")
    assert answer.citations[0].url == "http://data.europa.eu/eli/treaty/teu_2016/art_31/oj"


@pytest.mark.parametrize("question", [c[0] for c in CITED_FIRST])
def test_citations_point_to_retrieved_chunks_and_quote_them(assistant, question):
    answer = assistant.ask(question)
    retrieved = {h.chunk.id: h.chunk for h in answer.hits}
    assert answer.citations and not answer.abstained  # the loop below checks something
    for citation in answer.citations:
        assert citation.chunk_id in retrieved
        chunk = retrieved[citation.chunk_id]
        assert " ".join(citation.quote.split())[:60] in " ".join(chunk.text.split())  # quoted verbatim
        assert f"[{citation.n}]" in answer.text


@pytest.mark.parametrize("bad,message", [("", "empty"), ("   \n\t", "empty"), ("x" * 2001, "limit is 2000")])
def test_bad_questions_get_clear_errors(assistant, bad, message):
    with pytest.raises(QuestionError, match=message):
        assistant.ask(bad)


def test_answer_record_is_json_ready(assistant):
    data = assistant.ask("What does Article 42(7) TEU say?").to_dict()
    assert data["citations"][0]["label"] == "Art. 42(7) TEU"
    assert "aid and assistance" in data["citations"][0]["quote"]
