"""Step 3 of the answer stage, decide: whether the ranked candidates answer the question, or the texts do not say.

It declines when the question names something the sources never mention, asks for the text of a non-EU treaty, the
evidence is weak, none of the best provisions answers what was asked, or they do not hold the specific thing asked
for (a year, a figure, a person, an event, the present state); otherwise a provision that holds that thing leads.
Every decline says what is missing and what the texts do cover.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..labels import WEB_TIER
from ..question.languages import Language, eurlex_home
from ..question.query import Query
from ..retrieval.retriever import Retrieval
from ..types import Answer, Via
from ..words import name_phrases, variants
from . import evidence
from .answerable import AnswerabilityModel, question_row
from .rank import Ranker
from .records import MAX_PARTS, Candidate, Decision

COVERAGE = (
    "I answer from the official texts on the EU's Common Foreign and Security Policy: the Treaty on European Union "
    "(Title V and the rest of the TEU), TFEU Part Five, Protocols 10 and 11, Declarations 13 and 14, Council decisions "
    "and regulations (CSDP missions, PESCO, the European Peace Facility, the European Defence Agency, sanctions "
    "regimes, "
    "non-proliferation) and their official EUR-Lex summaries."
)
ABSTAIN = "The official texts I search do not answer this question, so I will not guess. " + COVERAGE
LIVE_STATE = (
    "The texts I search set out rules and decisions as they were adopted; none of the passages that match "
    "your question says how things stand today, who holds a post now, or whether and when a provision "
    "has been used, so I will not guess. "
) + COVERAGE
LEAD_CAN_YIELD = 0.6  # a provision that holds what was asked may lead if it scores this share of the best
FIGURE_CLOSENESS = 0.9  # ... but a figure must come from one of the best-scoring provisions
EVENT_COVERAGE = 0.35  # an event is found only in wording holding this share of the question's (weighted) terms
EVENT_ASKED = 0.12  # ... and this share of them apart from the names: what is asked about, not only who it is about
RESERVE_PASSAGES = 20  # where to look further for a specific thing asked for before saying the texts lack it


def unknown_names_message(names: list[str] | tuple[str, ...]) -> str:
    """Abstention naming what the sources never mention."""
    quoted = " or ".join(f"“{n}”" for n in names[:3])
    return f"The official texts I search never mention {quoted}, so they cannot answer this question. " + COVERAGE


def other_language(question: str, language: Language, started: float) -> Answer:
    """The answer to a question in another language when no language model can bridge it to the English texts."""
    text = (
        f"Your question seems to be in {language.name}. I search the official texts in English and, without a "
        f"language model to translate, can only answer questions asked in English: please ask in English. The "
        f"official texts are on EUR-Lex in {language.name}: {eurlex_home(language.code)}"
    )
    return Answer(
        question=question,
        text=text,
        citations=(),
        abstained=True,
        language=language.code,
        latency_ms=(time.perf_counter() - started) * 1000,
    )


def missing_message(what: str) -> str:
    """Abstention saying which specific thing the texts do not contain."""
    return f"The official texts I search do not {what}, so I will not guess. " + COVERAGE


@dataclass(frozen=True)
class Demand:
    """A specific thing the question asks for, what it means to be missing, how to find it in a candidate, and how
    close to the best candidate's score one holding it must be to lead the answer."""

    missing: str
    found: Callable[[Candidate], bool]
    closeness: float = LEAD_CAN_YIELD


class Decider:
    """Decides from the query, its retrieval and its ranked candidates whether to answer, and what leads."""

    def __init__(
        self,
        ranker: Ranker,
        threshold: float,
        passages: int = 5,
        rare: Callable[[str], bool] = lambda name: False,
        unused: Callable[[str], bool] = lambda term: False,
        answers_at_all: float = 0.0,
        answerable: AnswerabilityModel | None = None,
    ):
        # the least a provision must have of meaning (its best sentence's similarity) plus the question's non-name
        # terms (their share, glossary and related words at half weight) for the best ones to answer at all
        self.answers_at_all = answers_at_all
        self.rare = rare  # is a name particular to very few passages (a person), not a country or a city?
        self.unused = unused  # is a search term (as the lexical index stems it) in none of the passages?
        self.ranker = ranker
        self.answerable = answerable  # the model that says whether anything answers (else the rules below)
        self.threshold = threshold
        self.passages = passages

    def confidence(self, query: Query, retrieval: Retrieval) -> float:
        """Evidence strength: the best similarity among the passages answered from (so asking for more hits
        never changes the answer); full confidence for an explicit article reference, or when a passage names
        every particular name the question asks about ("Who is Kaja Kallas?") and asks about nothing the texts never
        mention (a rare name in "How do I make Belgian waffles?" is not what the question is about)."""
        hits = retrieval.hits[: self.passages]
        if any(h.via is Via.REFERENCE for h in hits):
            return 1.0
        names = [n for n in query.names if not evidence.is_generic(n)]
        if (
            names
            and all(self.rare(n) for n in names)
            and any(all(_mentions(h.chunk.text, n) for n in names) for h in hits)
            and not any(self.unused(t) for t in query.terms.content)
        ):
            return 1.0
        return max([h.dense or 0.0 for h in hits] + [0.0])

    def decide(self, query: Query, retrieval: Retrieval, ranked: Callable[[int | None], list[Candidate]]) -> Decision:
        """Answer from the ranked candidates of the best passages (`ranked(None)`; `ranked(n)` ranks those of the
        best n), or decline with the message that says why."""
        confidence = self.confidence(query, retrieval)

        def decline(text: str) -> Decision:
            return Decision(confidence, declined=text)

        if query.unknown:
            return decline(unknown_names_message(query.unknown))
        if query.other_text:
            return decline(
                missing_message(
                    f"contain the text of {query.other_text}: they are the EU Treaties, "
                    "Council acts and their official summaries"
                )
            )
        # a model's probability says whether anything answers: the answerability model's, else the learned ranker's;
        # without either, the rules: weak evidence, then meaning plus the question's words (below)
        calibrated = self.answerable is not None or self.ranker.answers(1.0) is not None
        if not retrieval.hits or (not calibrated and confidence < self.threshold):
            return decline(ABSTAIN)
        candidates = ranked(None)
        if not candidates:
            return decline(ABSTAIN)
        # none of the best provisions answers what was asked: a passage on the same subject ("EUCAP Sahel Niger" for
        # "Has the EU condemned the coup in Niger?") is no answer. Said after the specific things asked for, whose
        # messages say more
        verdict = self.answered(query, retrieval, candidates, confidence)
        if verdict is None:
            verdict = any(
                c.features.dense_best + c.features.unnamed >= self.answers_at_all
                for c in candidates[:MAX_PARTS]  # as many as an answer quotes
            )
        off_subject = confidence < 1.0 and not verdict
        best = candidates[0].score
        for demand in demands(query):
            led = self._lead_with(candidates, demand, best, self.ranker)
            if led is None:  # not in the best passages: look a little further before saying the texts lack it
                led = self._lead_with(ranked(RESERVE_PASSAGES), demand, best, self.ranker)
            if led is None:
                return decline(LIVE_STATE if demand.missing == "live" else missing_message(demand.missing))
            candidates = led
        if off_subject:
            return decline(ABSTAIN)
        return Decision(confidence, candidates=tuple(candidates))

    def row(self, query: Query, retrieval: Retrieval, candidates: list[Candidate]) -> np.ndarray:
        """What the answerability model reads of the question (`answerable.question_row`)."""
        return question_row(retrieval.query_vector, candidates, self.confidence(query, retrieval))

    def answered(
        self, query: Query, retrieval: Retrieval, candidates: list[Candidate], confidence: float
    ) -> bool | None:
        """Whether the candidates answer the question, by the answerability model, else by the ranker's calibrated
        score; None when neither can tell."""
        if self.answerable is not None:
            return self.answerable.answers(question_row(retrieval.query_vector, candidates, confidence))
        return self.ranker.answers(candidates[0].score)

    @staticmethod
    def _lead_with(candidates: list[Candidate], demand: Demand, best: float, ranker: Ranker) -> list[Candidate] | None:
        """The candidates with one that holds what the demand asks for first, or None when none of those scoring
        at least LEAD_CAN_YIELD of the best does."""
        for i, cand in enumerate(candidates):
            if ranker.share(cand.score, best) < demand.closeness:
                break
            if demand.found(cand):
                return [cand] + candidates[:i] + candidates[i + 1 :]
        return None


def demands(query: Query) -> list[Demand]:
    """The specific things a question asks for, each with how to recognise it in a candidate provision."""
    found: list[Demand] = []
    for year in query.years:
        found.append(Demand(f"mention {year}", partial(_holds_year, year=year)))
    if query.wants_figure:  # a figure about the thing asked: in one of the provisions that answer best
        found.append(Demand("give the figure you ask for", lambda c: evidence.has_figure(c.text), FIGURE_CLOSENESS))
    if query.wants_person:  # "who was the first ...": a name given as the first one, not just any holder's
        found.append(Demand("name the person who holds or held that post", partial(_names_person, which=query.ordinal)))
    if query.event:  # the wording must name who or what the event is about, and speak of what was asked
        names = [variants(n)[1] if len(variants(n)) > 1 else n for n in query.names if not evidence.is_generic(n)]
        if names:
            # as the question writes them ("the Red Sea", not "Red, Sea"), then any carried over from earlier turns
            phrases = name_phrases(query.asked, names)
            shown = phrases + [n for n in names if not any(n in p.split() for p in phrases)]
            found.append(
                Demand(
                    f"record whether or how that happened for {', '.join(shown[:3])}",
                    partial(_tells_event, names=tuple(names)),
                )
            )
    if query.record:
        found.append(Demand("live", lambda c: evidence.records_use(c.text)))
    if query.live_state:
        # legal acts speak as adopted; a web page speaks of the time it was written, so what it says is a
        # statement of the (then) present, given with that caveat
        found.append(Demand("live", lambda c: evidence.states_present(c.text) or c.hit.chunk.tier >= WEB_TIER))
    return found


def _holds_year(candidate: Candidate, year: str) -> bool:
    """The provision mentions the year, or belongs to an act of that year ("the 2009 dual-use regulation": Regulation
    (EC) No 428/2009 is dated and numbered 2009, which its provisions never repeat)."""
    chunk = candidate.hit.chunk
    return evidence.has_year(candidate.text, year) or evidence.has_year(f"{chunk.label} {chunk.date}", year)


def _names_person(candidate: Candidate, which: str) -> bool:
    """Wording that names a person, and says which one of a series it is when the question asks for one ("first")."""
    return bool(evidence.persons(candidate.text)) and (
        not which or re.search(rf"\b{which}\b", candidate.text, re.I) is not None
    )


def _tells_event(candidate: Candidate, names: tuple[str, ...]) -> bool:
    """Wording that names who or what an event is about and speaks of what was asked."""
    return (
        all(_mentions(candidate.text, n) for n in names)
        and candidate.features.lexical >= EVENT_COVERAGE
        and candidate.features.unnamed >= EVENT_ASKED
    )


def _mentions(text: str, name: str) -> bool:
    """Does the text use the name (in any of its spellings)?"""
    lowered = text.lower()
    return any(form in lowered for form in variants(name))
