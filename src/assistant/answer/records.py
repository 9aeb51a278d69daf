"""The records passed between the answer stage's steps: a `Candidate` (a provision with its features and, once
ranked, its score), a `Decision` (decline, or the ranked candidates to answer from) and a `Part` (one quoted
provision of the answer)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..ingest.provisions import Provision
from ..types import Hit

MAX_PARTS = 3  # an answer quotes at most this many provisions: the one that answers and two that complete it


@dataclass(frozen=True, kw_only=True)
class Signals:
    """What the rankers weigh of one candidate for the question (`features.py` computes them; a ranker reads them by
    name: `rank.RULE_WEIGHTS`, a learned ranker's file). A feature not set is 0."""

    dense_best: float = 0.0  # meaning: the cosine of its best sentence with the question
    dense_whole: float = 0.0  # meaning: the cosine of its sentences' mean with the question
    lexical: float = 0.0  # share of the question's (weighted) terms it holds
    focus: float = 0.0  # the same, terms weighted by how rare they are among the candidates
    title: float = 0.0  # share of the question's terms in the headings it sits under
    subject: float = 0.0  # 1: its article or act is titled after what the question names
    distinct: float = 0.0  # meaning: its cosine with the question minus that with the candidates' common subject
    rank: float = 0.0  # 1 / (1 + rank of its passage in the retrieval)
    reference: float = 0.0  # 1: the question names this article (or paragraph)
    kind: float = 0.0  # 1: holds the kind of thing asked for (a body for "who", a date for "when" ...)
    demand: float = 0.0  # 1: holds a specific thing asked for (the year, a person's name, the present state)
    background: float = 0.0  # 1: recital, preamble or annex, for a question not about purpose or background
    orphan: float = 0.0  # 1: list items whose lead-in sits in another passage
    authority: float = 0.0  # 1 treaty ... 0 web page
    short: float = 0.0  # 1: a fragment of fewer than `features.SHORT_WORDS` words
    unnamed: float = 0.0  # share of the question's terms other than its names
    passage: float = 0.0  # meaning: its whole passage's similarity
    sibling: float = 0.0  # 1: another paragraph of a retrieved passage's article
    reader: float | None = None  # the reader's probability that it answers, once the reader has read it

    def value(self, name: str) -> float:
        """The feature called `name` (one of `SIGNALS`); 0 for the reader's before it has read."""
        return getattr(self, name) or 0.0


SIGNALS = tuple(f.name for f in fields(Signals))  # the names a ranker may weigh


@dataclass(frozen=True)
class Candidate:
    """A provision of a retrieved passage with its features for the question and its score (0 until ranked)."""

    provision: Provision
    hit: Hit
    rank: int  # of its passage in the retrieval
    sentence_scores: tuple[float, ...]  # relevance of each of its sentences (meaning and focus words), in order
    terms: frozenset[str]
    vector: np.ndarray | None
    features: Signals
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
