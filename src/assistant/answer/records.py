"""The records passed between the answer stage's steps: a `Candidate` (a provision with its features and, once
ranked, its score), a `Decision` (decline, or the ranked candidates to answer from) and a `Part` (one quoted
provision of the answer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..ingest.provisions import Provision
from ..types import Hit

MAX_PARTS = 3  # an answer quotes at most this many provisions: the one that answers and two that complete it


@dataclass(frozen=True)
class Candidate:
    """A provision of a retrieved passage with its features for the question and its score (0 until ranked)."""

    provision: Provision
    hit: Hit
    rank: int  # of its passage in the retrieval
    sentence_scores: tuple[float, ...]  # relevance of each of its sentences (meaning and focus words), in order
    terms: frozenset[str]
    vector: np.ndarray | None
    features: Mapping[str, float]
    score: float = 0.0

    @property
    def text(self) -> str:
        """The provision's whole wording."""
        return self.provision.text


@dataclass(frozen=True)
class Decision:
    """What the decide step concluded: `declined` (the message saying what the texts lack) or the candidates to
    answer from, best first (the one holding what was asked moved to the front), with the evidence's confidence."""

    confidence: float
    declined: str | None = None
    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True)
class Part:
    """One quoted provision of an answer: the candidate and its (possibly trimmed) wording."""

    candidate: Candidate
    quote: str
    sentences: tuple[int, ...] = ()  # the chunk sentences quoted (indexes into `Chunk.sentences`)

    @property
    def words(self) -> int:
        """Length in words."""
        return len(self.quote.split())
