"""The answer stage wired in order: features → rank → decide → compose → cite. Grounded answers without an LLM: the
official provisions that answer the question, each cited, or an honest "the texts do not say" that names what is
missing."""

from __future__ import annotations

from collections.abc import Callable

from ..question.query import Query
from ..retrieval.retriever import Retrieval
from ..types import Answer, Chunk
from .cite import cite
from .compose import Composer
from .decide import ABSTAIN, Decider
from .features import Features
from .rank import Ranker, rank
from .reader import Reader
from .records import Candidate


class Answerer:
    """Builds an `Answer` from a `Query` and its `Retrieval`: provisions quoted verbatim with [n] markers and
    citations as data, or an abstention."""

    def __init__(
        self,
        features: Features,
        ranker: Ranker,
        decider: Decider,
        composer: Composer,
        reader: Reader | None = None,
    ):
        self.features = features
        self.ranker = ranker
        self.decider = decider
        self.composer = composer
        self.reader = reader

    @property
    def siblings(self) -> Callable[[Chunk], list[Chunk]]:
        """The chunks of a chunk's article, section or page, in order."""
        return self.features.siblings

    def candidates(self, query: Query, retrieval: Retrieval, passages: int | None = None) -> list[Candidate]:
        """Every quotable provision of the best passages (`passages`, by default the stage's), scored, best first."""
        return rank(query.searched, self.features.candidates(query, retrieval, passages), self.ranker, self.reader)

    def answer(self, query: Query, retrieval: Retrieval) -> Answer:
        """Answer from the retrieved passages, or decline saying why (`decide.Decider.decide`)."""
        decision = self.decider.decide(query, retrieval, lambda passages: self.candidates(query, retrieval, passages))
        declined = decision.declined
        if declined is None:
            parts = self.composer.compose(query, decision.candidates)
            if parts:
                return cite(query, parts, retrieval, decision.confidence, self.siblings)
            declined = ABSTAIN
        return Answer(
            question=query.asked,
            text=declined,
            citations=(),
            abstained=True,
            hits=retrieval.hits,
            confidence=decision.confidence,
        )
