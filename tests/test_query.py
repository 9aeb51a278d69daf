"""Understanding a question once: what kind of answer it asks for, the specific things the answer must hold,
names the texts never use, and typos corrected (never taken for unknown names)."""

from __future__ import annotations

import re

import pytest

from assistant.answer import evidence
from assistant.index.vocabulary import Vocabulary
from assistant.ingest.catalogue import Term
from assistant.question.conversation import Turn
from assistant.question.query import Expander, QueryAnalyser, Thesaurus, asks_for
from assistant.question.references import find_references
from assistant.words import variants

TEXTS = [
    "The High Representative shall chair the Foreign Affairs Council. The Commission shall be fully associated.",
    "Cyber-attacks with a significant effect may lead to restrictive measures. The Commission reports to the "
    "Council. Denmark does not take part. Kaja Kallas is the High Representative.",
]


def analyser(words: dict[str, tuple[str, ...]] | None = None) -> QueryAnalyser:
    vocabulary = Vocabulary.build(TEXTS)
    english = {"stops", "older", "pays", "defense", "the", "role"}.__contains__

    def stem(texts: list[str]) -> list[list[str]]:  # a crude stand-in for the index's stemmer, enough here
        return [[w.lower().rstrip("s") for w in t.replace("?", " ").split()] for t in texts]

    return QueryAnalyser(Expander([]), Thesaurus(words or {}, stem), vocabulary, {"TEU": {"18", "31"}}, english, stem)


@pytest.mark.parametrize(
    "question,kind",
    [
        ("Who decides on sanctions?", "who"),
        ("When does the mandate end?", "when"),
        ("How often must the Council review the list?", "how_often"),
        ("How much money does the Facility have?", "how_much"),
        ("Which tasks can CSDP missions carry out?", "which"),
        ("Do they keep offices in Brussels, and to which organisations are they accredited?", "who"),
        ("Which cyber-attacks count as a threat?", "which"),
        ("Can one country block a decision?", "rule"),
        ("Are member states allowed to keep their own embassies?", "rule"),
        ("Is EU foreign policy run by the national governments?", "general"),
        ("Do EU countries vote together in UN bodies?", "general"),
        ("Why was the Agency created?", "purpose"),
        ("What is PESCO?", "definition"),
    ],
)
def test_what_a_question_asks_for(question, kind):
    assert asks_for(question) == kind


def test_specific_things_asked_for():
    a = analyser()
    assert a.analyse("How much did the Facility spend in 2023?").years == ("2023",)
    assert a.analyse("What did Decision (CFSP) 2017/2315 establish?").years == ()  # an act's number is no year
    assert a.analyse("Who was the first High Representative?").wants_person
    assert a.analyse("Who was the first High Representative?").ordinal == "first"
    assert a.analyse("Who was High Representative before Kaja Kallas?").ordinal == "before"
    assert a.analyse("Who is the High Representative?").ordinal == ""
    assert not a.analyse("Who is responsible for the mission?").wants_person  # a body, not a person
    assert a.analyse("Who is the High Representative now?").live_state
    assert a.analyse("When is the next meeting of the EU foreign ministers?").live_state  # a date still to come
    assert a.analyse("What will the Agency's budget be next year?").live_state
    # the texts' own wording for rules and procedures is no question about the present
    for rule in (
        "What happens next after a country invokes the clause?",
        "Does the Council decide at its next meeting?",
        "What is the budget for the next year?",
        "What happens in the last year of the mandate?",
        "What happens at the last meeting before a mission ends?",
    ):
        assert not a.analyse(rule).live_state, rule
    assert a.analyse("Has the solidarity clause ever been used?").record
    assert a.analyse("Has Switzerland adopted the sanctions?").event
    assert a.analyse("What does Article 5 of the NATO treaty say?").other_text == "Article 5 of the NATO treaty"


def test_typos_are_corrected_and_never_taken_for_unknown_names():
    a = analyser()
    query = a.analyse("What is the Comission's role?")
    assert query.searched == "What is the Commission's role?" and query.corrections == (
        ("Comission's", "Commission's"),
    )
    assert not query.unknown
    assert a.analyse("Does Denmark take part?").unknown == ()
    assert a.analyse("What about the HR/VP and cyberattacks?").unknown == ()  # slashed, hyphenation
    assert a.analyse("Is Ruritania sanctioned?").unknown == ("Ruritania",)
    # a contraction, a plural or a possessive of a word the texts use, or a glossary name inside a compound, is
    # no unknown name: these questions were declined as "never mention “I'm”"
    assert a.analyse("If I'm in Denmark, does the Commission report?").unknown == ()
    assert a.analyse("Do both Councils report to the Commissions?").unknown == ()
    assert a.analyse("Do the Representatives chair it, as Kallas's rules say?").unknown == ()
    glossary = [Term("EDF", "European Defence Fund"), Term("MEP", "members of the European Parliament", ("MEPs",))]
    vocabulary = Vocabulary.build([*TEXTS, "Results of funded projects."])
    named = QueryAnalyser(Expander(glossary), a.thesaurus, vocabulary, a.treaty_articles, a.english, a.tokenize)
    assert named.analyse("Can Denmark give EDF-funded results to the MEPs?").unknown == ()
    assert named.analyse("Can Ruritania give EDF-funded results to the MEPs?").unknown == ("Ruritania",)
    # English words the texts happen not to use are left alone, not "corrected" into other words
    assert a.analyse("What if a country stops paying?").corrections == ()
    assert a.analyse("Is the defense policy older?").corrections == ()


def test_everyday_words_bring_the_legal_words():
    a = analyser({"pay": ("financed", "contributions")})
    assert a.analyse("Who pays for the Agency?").related == ("financed", "contributions")
    assert "financed" in a.analyse("Who pays for the Agency?").lexical


def test_a_short_name_is_known_as_the_same_thing_as_its_full_name():
    from assistant.ingest.catalogue import Term

    expander = Expander([Term("EEAS", "European External Action Service", ("EU diplomatic service",))])
    full = "European External Action Service"
    names = ("EEAS", "EU diplomatic service", full)
    assert expander.aliases("What does the EEAS do?") == [("EEAS", full, names)]
    assert expander.aliases("Who heads the EU diplomatic service?") == [("EU diplomatic service", full, names)]
    # a question that writes the full name itself needs no alias; nor does one that names neither
    assert expander.aliases("Is the European External Action Service (EEAS) a body?") == []
    assert expander.aliases("What is the budget?") == []


@pytest.mark.parametrize(
    "question,protocols",
    [
        ("What does the PESCO protocol require?", ["PROTOCOL-10"]),
        ("What do the PESCO-protocol commitments say?", ["PROTOCOL-10"]),
        ("Under the protocol on permanent structured cooperation, who joins?", ["PROTOCOL-10"]),
        ("What does the protocol on Article 42 add?", ["PROTOCOL-11"]),
        ("What does the protocol on Article 42(6) require?", []),  # 42(6) is PESCO, not Protocol No 11's subject
    ],
)
def test_a_protocol_named_by_its_subject_is_a_reference_to_it(question, protocols):
    found = [r.source_id for r in find_references(question, {"TEU": {"42"}}) if r.source_id.startswith("PROTOCOL")]
    assert found == protocols


def test_every_name_of_a_glossary_term_comes_with_the_one_the_question_uses_and_a_hint_names_nothing():
    from assistant.ingest.catalogue import Term

    hr = Term("HR/VP", "High Representative of the Union", ("High Representative", "EU's top diplomat"), ("chief",))
    analyser = QueryAnalyser(
        Expander([hr]),
        Thesaurus({}, lambda t: [[]] * len(t)),
        Vocabulary.build(TEXTS),
        {},
        set().__contains__,
        lambda t: [[]] * len(t),
    )
    names = ("HR/VP", "High Representative", "EU's top diplomat", "High Representative of the Union")
    # either apostrophe
    asked = analyser.analyse("Is the EU’s top diplomat a member of the Commission?")
    assert asked.aliases == (("EU’s top diplomat", "High Representative of the Union", names),)
    assert asked.expansions == ("High Representative of the Union",)
    # a hint brings the expansion into the search, but is no name of the term
    hinted = analyser.analyse("Who is the chief?")
    assert hinted.expansions == ("High Representative of the Union",) and hinted.aliases == ()


@pytest.mark.parametrize(
    "text,recorded",
    [
        ("France invoked it in November 2015.", True),
        ("The mutual assistance clause has been invoked once, by France.", True),
        ("After the terrorist attacks in Paris, Article 42(7) was invoked by France.", True),
        ("When France was attacked in 2015, the clause was invoked for the first time.", True),
        ("Until now, the solidarity clause has been used only once.", True),
        # a condition records nothing
        ("Once the solidarity clause has been invoked, the EU mobilises all its instruments.", False),
        ("If the clause has been invoked, the Council shall act.", False),
        ("If Art. 42(7) has been invoked the Council shall act.", False),
    ],
)
def test_a_use_is_recorded_only_by_wording_that_says_it_happened(text, recorded):
    assert evidence.records_use(text) is recorded


def test_word_variants():
    assert variants("Commission's") == ["commission's", "commission"]
    assert set(variants("cyber-attacks")) >= {"cyberattacks", "cyber", "attacks"}
    vocabulary = Vocabulary.build(TEXTS)
    assert vocabulary.knows("HR/VP") is False and vocabulary.knows("Kallas") and vocabulary.rare("Kallas")
    assert not vocabulary.rare("the") and not vocabulary.rare("Ruritania")  # common, or not used at all


def test_an_international_organisation_answers_a_which_organisation_question():
    assert evidence.answers_kind("The representations are accredited to NATO and the OSCE.", "who")
    assert evidence.answers_kind("cooperation with the Organisation for Security and co-operation in Europe", "who")
    assert evidence.answers_kind("the organs of the United Nations and its specialised agencies", "who")
    # a charter or a programme is no body
    assert not evidence.answers_kind("the principles of the United Nations Charter", "who")
    assert not evidence.answers_kind("the UN Programme of Action on small arms", "who")
    assert not evidence.answers_kind("The Institute shall have a liaison office in Brussels.", "who")


@pytest.mark.parametrize(
    "text,figure",
    [
        ("The 27 EU member states maintain permanent representations.", True),
        ("The reference amount is EUR 5 million.", True),
        ("at least one third of the Member States", True),
        ("EUFOR comprises around 2000 military personnel.", True),
        ("a total of 2000 troops", True),
        ("A maximum of 12 may be seconded.", True),  # "12 may" is no date
        ("The Council shall act unanimously.", True),
        # a date or a year says when, not how much or how many
        ("in line with the Interinstitutional Agreement of 13 April 2016 on Better Law-Making", False),
        ("The measures have applied since July 2014.", False),
        ("The decision was adopted in 2015.", False),
        ("for the period 2021-2027", False),
        ("signed on April 13, 2016", False),
        ("as referred to in Article 42(7)", False),
    ],
)
def test_a_figure_is_an_amount_or_count_not_a_date(text, figure):
    assert evidence.has_figure(text) is figure


def test_a_models_rewording_of_a_follow_up_is_kept_beside_the_resolvers_query():
    history = [Turn("user", "What does the High Representative do?")]
    query = analyser().analyse("And who appoints them?", history, rewrite="Who appoints the High Representative?")
    assert query.searched.endswith("(High Representative)")  # the built-in resolver carried the topic over
    assert query.rewrite == "Who appoints the High Representative?"
    # a rewording that says nothing more than the resolver's query is not searched twice
    same = analyser().analyse("Who appoints the High Representative?", rewrite="who appoints the High Representative?")
    assert same.rewrite == ""


def test_the_query_carries_its_terms_as_the_index_tokenizer_gives_them():
    """Every later stage reads the question's terms from the query: each text tokenised once, in the stage."""
    glossary = [Term("PSC", "Political and Security Committee")]
    seen: list[list[str]] = []

    def tokenize(texts: list[str]) -> list[list[str]]:  # a stand-in for the index's tokenizer, enough here
        seen.append(list(texts))
        found = [re.findall(r"[a-z]{3,}", t.lower()) for t in texts]
        return [[w for w in words if w not in {"the", "and", "who"}] for words in found]

    a = analyser({"pays": ("financed",)})
    pay = QueryAnalyser(Expander(glossary), a.thesaurus, a.vocabulary, a.treaty_articles, a.english, tokenize)
    query = pay.analyse("Can you tell me who pays the PSC?", rewrite="Who finances the PSC?")
    calls = len(seen)
    assert calls == 1  # one call for all of its texts
    terms = query.terms
    assert terms.searched == ("can", "you", "tell", "pays", "psc")
    assert terms.expansions == (("political", "security", "committee"),)
    assert terms.expanded == terms.searched + terms.expansions[0]
    assert terms.related == ("financed",) and terms.lexical == terms.expanded + terms.related
    # the expanded and lexical terms, derived from the parts, are those of the texts the searches read
    assert list(terms.expanded) == tokenize([query.expanded])[0]
    assert list(terms.lexical) == tokenize([query.lexical])[0]
    assert terms.content == ("pays", "psc")  # without the words of conversation
    assert terms.rewrite == ("finances", "psc")
    assert terms.aliases == (("psc",),)  # the question's other name for the glossary term
    assert terms.names == ()  # an acronym is no name
