"""The answer stage's steps on small hand-made inputs whose results can be worked out by hand: rank (with and
without the reader), decide (each way of declining, and what leads) and cite (numbering, context, the web-page
caveat). The whole stage on the real corpus is tested in test_answering.py."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from assistant.answer.cite import cite, join_unit
from assistant.answer.decide import ABSTAIN, LIVE_STATE, Decider, missing_message, unknown_names_message
from assistant.answer.rank import RulesRanker, rank
from assistant.answer.reader import candidate_text
from assistant.answer.records import Candidate, Part, Signals
from assistant.ingest.provisions import split
from assistant.question.query import Query, with_terms
from assistant.retrieval.retriever import Retrieval
from assistant.types import Hit
from tests.test_provisions import chunk

SEAT = chunk(
    "1. The Agency shall have its seat in Brussels.\n2. The Agency shall be open to all Member States.",
    ["1", "2"],
    label="Art. 1 of Decision (CFSP) 2015/1835",
    headings="Council Decision (CFSP) 2015/1835 — Article 1",
)
SEAT_RULE, OPEN_RULE = split(SEAT)


def candidate(provision, features: dict[str, float], hit: Hit | None = None, score: float = 0.0) -> Candidate:
    relevance = tuple(1.0 for _ in provision.sentences)
    signals = Signals(**features)
    return Candidate(provision, hit or Hit(SEAT, 0.8, dense=0.8), 0, relevance, frozenset(), None, signals, score)


def query(text: str = "Where is the Agency?", **fields) -> Query:
    return Query(text, text, text, **fields)


class FixedReader:
    """The reader's interface with fixed probabilities per text (the real one is tested in test_reader.py)."""

    candidates = 1

    def __init__(self, probabilities: dict[str, float]):
        self.read: list[list[str]] = []
        self.by_text = probabilities

    def text(self, candidate: Candidate) -> str:
        return candidate_text(candidate)  # read from the start, as a reader with no word limit does

    def probabilities(self, question: str, texts: list[str]) -> np.ndarray:
        self.read.append(texts)
        return np.array([self.by_text[t.split("\n", 1)[1]] for t in texts])


def test_rank_scores_by_the_weighted_features_best_first():
    ranker = RulesRanker({"lexical": 1.0, "background": -0.5})
    ranked = rank(
        "q",
        [candidate(OPEN_RULE, {"lexical": 0.5, "background": 1.0}), candidate(SEAT_RULE, {"lexical": 0.5})],
        ranker,
    )
    assert [c.text for c in ranked] == [SEAT_RULE.text, OPEN_RULE.text]
    assert [c.score for c in ranked] == [0.5, 0.0]  # 0.5; 0.5 - 0.5


def test_the_reader_reads_only_the_best_and_its_probability_is_weighed_in():
    ranker = RulesRanker({"lexical": 1.0, "reader": 1.0}, reads=True)
    reader = FixedReader({SEAT_RULE.text: 0.9, OPEN_RULE.text: 0.2})
    ranked = rank(
        "q",
        [candidate(OPEN_RULE, {"lexical": 0.6}), candidate(SEAT_RULE, {"lexical": 0.5})],
        ranker,
        reader,  # type: ignore[arg-type]
    )
    # it reads one candidate, the first ranking's best (0.6); 0.6 + 0.2 = 0.8 still beats the unread 0.5
    assert reader.read == [[f"{SEAT.headings}\n{OPEN_RULE.text}"]]
    assert [c.text for c in ranked] == [OPEN_RULE.text, SEAT_RULE.text]
    assert ranked[0].score == pytest.approx(0.8) and ranked[1].features.reader is None
    # a ranker that does not read never runs it
    unread = rank("q", [candidate(SEAT_RULE, {"lexical": 0.5})], RulesRanker({"lexical": 1.0}), reader)  # type: ignore[arg-type]
    assert len(reader.read) == 1 and unread[0].score == 0.5


def decider(threshold: float = 0.5, answers_at_all: float = 0.5) -> Decider:
    return Decider(
        RulesRanker({"lexical": 1.0}),
        threshold,
        answers_at_all=answers_at_all,
    )


def retrieval(dense: float = 0.8) -> Retrieval:
    return Retrieval((Hit(SEAT, dense, dense=dense),), np.zeros(3))


def ranked_as(*candidates: Candidate):
    return lambda passages: list(candidates)


def test_decide_declines_names_the_texts_never_use_and_other_treaties():
    decided = decider().decide(query(unknown=("Ruritania",)), retrieval(), ranked_as())
    assert decided.declined == unknown_names_message(("Ruritania",)) and "Ruritania" in decided.declined
    other = decider().decide(query(other_text="the NATO treaty"), retrieval(), ranked_as())
    assert other.declined is not None and "the NATO treaty" in other.declined


def test_decide_declines_weak_evidence_and_candidates_that_do_not_speak_of_what_was_asked():
    good = candidate(SEAT_RULE, {"lexical": 1.0, "dense_best": 0.4, "unnamed": 0.2}, score=1.0)
    # the passages' best similarity 0.3 is below the threshold 0.5: nothing is ranked
    assert decider().decide(query(), retrieval(0.3), ranked_as(good)).declined == ABSTAIN
    # strong enough, and meaning + the question's own words = 0.6 reaches 0.5: it answers
    decided = decider().decide(query(), retrieval(), ranked_as(good))
    assert decided.declined is None and decided.candidates == (good,) and decided.confidence == 0.8
    # the same candidate against a bar of 0.7: none of the best speaks of what was asked
    assert decider(answers_at_all=0.7).decide(query(), retrieval(), ranked_as(good)).declined == ABSTAIN


def test_decide_puts_first_the_candidate_holding_the_year_asked_for_or_says_the_texts_lack_it():
    features = {"dense_best": 0.5, "unnamed": 0.5}
    best = candidate(SEAT_RULE, features, score=1.0)
    dated = chunk("The Agency was established in 2004.", ["1"])
    with_year = candidate(split(dated)[0], features, Hit(dated, 0.7, dense=0.7), score=0.7)
    decided = decider().decide(query(years=("2004",)), retrieval(), ranked_as(best, with_year))
    assert decided.candidates == (with_year, best)  # 0.7 is within 0.6 of the best: it may lead
    # below 0.6 of the best it may not, and nothing else holds the year
    low = candidate(split(dated)[0], features, Hit(dated, 0.5, dense=0.5), score=0.5)
    lacking = decider().decide(query(years=("2004",)), retrieval(), ranked_as(best, low))
    assert lacking.declined == missing_message("mention 2004")
    # "today": legal acts speak as adopted; no statement of the present state among them
    assert decider().decide(query(live_state=True), retrieval(), ranked_as(best)).declined == LIVE_STATE


def test_cite_numbers_paragraphs_in_reading_order_with_their_article_as_context():
    hit = Hit(SEAT, 0.8, dense=0.8)
    parts = [
        Part(candidate(OPEN_RULE, {}, hit), OPEN_RULE.text, OPEN_RULE.sentences),
        Part(candidate(SEAT_RULE, {}, hit), SEAT_RULE.text, SEAT_RULE.sentences),
    ]
    answer = cite(query(), parts, retrieval(), 0.8, lambda c: [c])
    assert answer.text == f"{OPEN_RULE.text} [1] {SEAT_RULE.text} [2]"
    assert [c.n for c in answer.citations] == [1, 2]
    assert [c.paragraph for c in answer.citations] == ["2", "1"]
    first = answer.citations[0]
    assert first.context == SEAT.text
    start, end = first.highlights[-1]
    assert first.context[start:end] == OPEN_RULE.text
    assert not answer.abstained and answer.confidence == 0.8


def test_join_unit_leaves_out_what_a_split_paragraph_repeats():
    a = chunk("The Council shall act unanimously on a proposal from a Member State.", ["1"])
    b = chunk("on a proposal from a Member State. It may also act on a proposal of the High Representative.", ["1"])
    b = replace(b, id="c2")
    text, starts = join_unit([a, b])
    assert text == (
        "The Council shall act unanimously on a proposal from a Member State. It may also act on a proposal of the "
        "High Representative."
    )
    assert starts == {"c1": (0, 0), "c2": (len(a.text), len("on a proposal from a Member State."))}


def test_full_confidence_for_a_rare_name_a_passage_holds_unless_the_question_asks_what_no_text_says():
    """A question about a name particular to few passages ("Brussels" here) that a retrieved passage holds is
    answered with full confidence, unless one of its content terms is in no passage at all (the name is then not what
    it is about); otherwise the confidence is the best passage's similarity."""

    def terms(texts: list[str]) -> list[list[str]]:  # lower-cased words, as a stand-in for the index's tokenizer
        return [[w.lower() for w in text.replace("?", "").split()] for text in texts]

    unused = {"waffles"}
    judge = Decider(RulesRanker({"lexical": 1.0}), 0.5, rare=lambda name: True, unused=unused.__contains__)
    asked = "What is decided in Brussels?"
    seat = with_terms(Query(asked, asked, asked, names=("Brussels",)), terms)
    assert seat.terms.content == ("decided", "brussels")  # its content words: not "what", "is", "in"
    assert judge.confidence(seat, retrieval(0.4)) == 1.0
    waffles = "How are waffles made in Brussels?"
    baking = with_terms(Query(waffles, waffles, waffles, names=("Brussels",)), terms)
    assert "waffles" in baking.terms.content
    assert judge.confidence(baking, retrieval(0.4)) == pytest.approx(0.4)  # the passage's own similarity
