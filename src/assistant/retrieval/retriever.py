"""Hybrid retrieval: BM25 and dense search fused by reciprocal rank, with explicit article references first."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest

import numpy as np

from ..embedding.embedder import Embedder
from ..index.generations import Index
from ..question.query import Query
from ..question.references import Reference
from ..types import Hit, Via

MODES = ("bm25", "dense", "hybrid")
REPEAT_DECAY = 0.7


@dataclass(frozen=True)
class Retrieval:
    """The outcome of a search: ranked hits plus the question's vector, which the answerer scores sentences with."""

    hits: tuple[Hit, ...]
    query_vector: np.ndarray


class Retriever:
    """Searches one loaded index; stateless per query, safe to share between users."""

    def __init__(self, index: Index, embedder: Embedder, candidates: int = 30, rrf_k: int = 20):
        self.index = index
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.treaty_positions = np.array([i for i, c in enumerate(index.chunks) if c.tier == 1], dtype=np.int64)
        # the treaty stratum's passage vectors, widened once rather than gathered and converted per question
        self.treaty_vectors = index.passage_vectors[self.treaty_positions].astype(np.float32)
        self.treaty_articles: dict[str, set[str]] = {}
        self.by_article: dict[tuple[str, str], list[int]] = {}
        self.by_source: dict[str, list[int]] = {}
        for pos, chunk in enumerate(index.chunks):
            if chunk.kind == "treaty":
                self.treaty_articles.setdefault(chunk.source_id, set()).add(chunk.article)
                self.by_article.setdefault((chunk.source_id, chunk.article), []).append(pos)
                self.by_source.setdefault(chunk.source_id, []).append(pos)

    def search(self, query: Query, k: int = 5, mode: str = "hybrid") -> Retrieval:
        """The k best chunks for a question by the given mode (bm25, dense or hybrid)."""
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; allowed: {', '.join(MODES)}")
        qvec = self.embedder.embed_query(query.expanded)
        passage = self.index.passage_vectors
        # Each channel is one ranking, or a ranking plus the same search over the treaties alone (so the acts'
        # volume cannot hide a treaty article). A chunk counts once per channel, by its better rank there: the
        # treaty stratum lifts a treaty article the whole ranking buried, but never votes twice in a channel, so a
        # passage that one channel ranks first (the one sentence of a web page that answers) keeps a fair chance.
        channels: list[list[list[int]]] = []
        # A model's rewording of a follow-up is searched too, one ranking per channel, but it only adds passages the
        # question's own search (the built-in resolver's query) did not find, with ranks that start below that
        # search's candidates: the passages the question found keep their scores and their order among themselves.
        reworded: list[list[int]] = []
        other = self.embedder.embed_query(query.rewrite) if query.rewrite and mode != "bm25" else None
        lexical: dict[int, float] = {}
        if mode in ("bm25", "hybrid"):
            scores = self.index.lexical.scores_of(query.terms.lexical)
            channels.append([self._top(scores)])
            lexical = {p: float(scores[p]) for p in channels[-1][0]}
            if mode == "hybrid":
                channels[-1].append(self._top(scores[self.treaty_positions], self.treaty_positions))
            if query.rewrite:
                reworded.append(self._top(self.index.lexical.scores_of(query.terms.rewrite)))
        if mode in ("dense", "hybrid"):
            channels.append([self._dense(qvec)])
            if mode == "hybrid":  # the treaty stratum is small: scored in memory
                sims = self.treaty_vectors @ qvec
                channels[-1].append(self._top(sims, self.treaty_positions, positive_only=False))
            if other is not None:
                reworded.append(self._dense(other))
        if mode == "hybrid":
            channels.append([self._best_by_sentence(qvec)])
            if other is not None:
                reworded.append(self._best_by_sentence(other))
        own = self._fuse(channels)
        added = self._fuse([[ranking] for ranking in reworded], start=self.candidates)
        fused = own | {pos: score for pos, score in added.items() if pos not in own}
        pinned = self._pin(query.references, own)
        ranked = [p for p, _ in sorted(fused.items(), key=lambda kv: -kv[1]) if p not in pinned]
        order = pinned + self._diversify(ranked, fused, set(fused) - set(own))
        hits = []
        for pos in order[:k]:
            sim = float(passage[pos].astype(np.float32) @ qvec)
            hits.append(
                Hit(
                    self.index.chunks[pos],
                    fused.get(pos, 1.0),
                    dense=sim,
                    lexical=lexical.get(pos),
                    via=Via.REFERENCE if pos in pinned else Via(mode),
                )
            )
        return Retrieval(tuple(hits), qvec)

    def _fuse(self, channels: list[list[list[int]]], start: int = 0) -> dict[int, float]:
        """Reciprocal rank fusion: one vote per channel, by the chunk's best rank in it (ranks counted from `start`)."""
        fused: dict[int, float] = {}
        for channel in channels:
            best: dict[int, int] = {}
            for ranking in channel:
                for rank, pos in enumerate(ranking, start):
                    best[pos] = min(rank, best.get(pos, rank))
            for pos, rank in best.items():
                fused[pos] = fused.get(pos, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        return fused

    def _pin(self, references: tuple[Reference, ...], fused: dict[int, float]) -> list[int]:
        """Chunks of the texts a question names explicitly, taken in turns from each reference (so "Articles 42
        and 43" shows both early): the named paragraph first, then the chunks that best match the question."""
        queues = []
        for ref in references:
            positions = (
                self.by_source.get(ref.source_id, [])
                if not ref.article
                else self.by_article.get((ref.source_id, ref.article), [])
            )
            queues.append(
                sorted(
                    positions,
                    key=lambda p: (
                        not (ref.paragraph and self.index.chunks[p].paragraph == ref.paragraph),
                        -fused.get(p, 0.0),
                        p,
                    ),
                )
            )
        pinned: list[int] = []
        for round_ in zip_longest(*queues):
            pinned += [p for p in round_ if p is not None and p not in pinned]
        return pinned

    def _top(self, scores: np.ndarray, positions: np.ndarray | None = None, positive_only: bool = True) -> list[int]:
        """The best `candidates` chunk positions by score; `scores[i]` is for `positions[i]` (all chunks by default)."""
        if not len(scores):
            return []
        n = min(self.candidates, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        pool = np.arange(len(scores)) if positions is None else positions
        return [int(pool[i]) for i in top if scores[i] > 0 or not positive_only]

    def _dense(self, qvec: np.ndarray) -> list[int]:
        """Nearest passages from the vector store."""
        found = self.index.vectors.search(qvec, self.candidates)
        return [self.index.by_id[cid] for cid, _ in found if cid in self.index.by_id]

    def _best_by_sentence(self, qvec: np.ndarray) -> list[int]:
        """Chunks ranked by their single best-matching sentence: finds the one relevant sentence of a long
        article that the passage vector averages away."""
        sims = self.index.sentence_vectors @ qvec
        best = np.full(len(self.index.chunks), -1.0, dtype=np.float32)
        starts = self.index.sentence_offsets[:-1]
        has = self.index.sentence_offsets[1:] > starts
        best[has] = np.maximum.reduceat(sims, starts[has]) if sims.size else best[has]
        top = np.argpartition(-best, min(self.candidates, len(best) - 1))[: self.candidates]
        return [int(p) for p in top[np.argsort(-best[top])]]

    def _diversify(
        self, ranked: list[int], fused: dict[int, float], added: set[int] | frozenset[int] = frozenset()
    ) -> list[int]:
        """Re-rank so that one unit (an article, or an act's or summary's unnamed parts) does not crowd out the other
        sources: each further passage of a unit already placed counts `REPEAT_DECAY` times less, once per repeat.
        Passages only a rewording found (`added`) are decayed too, but never count as placed for the question's own."""
        placed: dict[tuple[str, str, str], int] = {}
        extra: dict[tuple[str, str, str], int] = {}
        adjusted = []
        for pos in ranked:  # best first, so a unit's repeats are always the later ones
            chunk = self.index.chunks[pos]
            unit = (chunk.source_id, chunk.kind, chunk.article)
            repeats = placed.get(unit, 0) + extra.get(unit, 0) if pos in added else placed.get(unit, 0)
            adjusted.append((fused[pos] * REPEAT_DECAY**repeats, pos))
            counter = extra if pos in added else placed
            counter[unit] = counter.get(unit, 0) + 1
        return [pos for _, pos in sorted(adjusted, key=lambda item: -item[0])]
