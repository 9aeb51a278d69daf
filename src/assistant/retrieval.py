"""Hybrid retrieval: BM25 and dense search fused by reciprocal rank, with explicit article references first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .embeddings import Embedder
from .index import Index
from .query import Expander, Reference, find_references
from .types import Hit

MODES = ("bm25", "dense", "hybrid")
# treaty > legal act > official summary > web page
TIER_WEIGHT = {1: 1.5, 2: 1.0, 3: 1.0, 4: 0.9}


@dataclass(frozen=True)
class Retrieval:
    """The outcome of a search: ranked hits plus what the answerer needs to pick sentences."""

    question: str
    expanded: str
    hits: tuple[Hit, ...]
    query_vector: np.ndarray
    references: tuple[Reference, ...]


class Retriever:
    """Searches one loaded index; stateless per query, safe to share between users."""

    def __init__(self, index: Index, embedder: Embedder, expander: Expander, candidates: int = 30, rrf_k: int = 60):
        self.index = index
        self.embedder = embedder
        self.expander = expander
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.treaty_articles: dict[str, set[str]] = {}
        self.by_article: dict[tuple[str, str], list[int]] = {}
        for pos, chunk in enumerate(index.chunks):
            if chunk.kind == "treaty":
                self.treaty_articles.setdefault(chunk.source_id, set()).add(chunk.article)
                self.by_article.setdefault((chunk.source_id, chunk.article), []).append(pos)

    def search(self, question: str, k: int = 5, mode: str = "hybrid") -> Retrieval:
        """The k best chunks for a question by the given mode (bm25, dense or hybrid)."""
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; allowed: {', '.join(MODES)}")
        expanded = self.expander.expand(question)
        qvec = self.embedder.embed_query(expanded)
        passage = self.index.passage_vectors
        fused: dict[int, float] = {}
        lexical: dict[int, float] = {}
        if mode in ("bm25", "hybrid"):
            for rank, (pos, score) in enumerate(self.index.lexical.search(expanded, self.candidates)):
                lexical[pos] = score
                fused[pos] = fused.get(pos, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        if mode in ("dense", "hybrid"):
            for rank, (cid, sim) in enumerate(self.index.vectors.search(qvec, self.candidates)):
                pos = self.index.by_id.get(cid)
                if pos is None:
                    continue
                fused[pos] = fused.get(pos, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        for pos in fused:  # prefer the more authoritative text when the evidence is otherwise close
            fused[pos] *= TIER_WEIGHT.get(self.index.chunks[pos].tier, 1.0)
        references = tuple(find_references(question, self.treaty_articles))
        pinned: list[int] = []
        for ref in references:
            positions = self.by_article.get((ref.source_id, ref.article), [])
            exact = [p for p in positions if ref.paragraph and self.index.chunks[p].paragraph == ref.paragraph]
            pinned += exact + [p for p in positions if p not in exact]
        order = list(dict.fromkeys(pinned)) + [p for p, _ in sorted(fused.items(), key=lambda kv: -kv[1]) if p not in pinned]
        hits = []
        for pos in order[:k]:
            sim = float(passage[pos].astype(np.float32) @ qvec)
            hits.append(Hit(self.index.chunks[pos], fused.get(pos, 1.0), sim, lexical.get(pos),
                            "reference" if pos in pinned else mode))
        return Retrieval(question, expanded, tuple(hits), qvec, references)
