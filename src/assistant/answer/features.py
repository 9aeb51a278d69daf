"""Step 1 of the answer stage, features: every provision of the best retrieved passages (and of the other paragraphs
of their articles) becomes a `Candidate` with what the ranker weighs, computed for the question itself: meaning
(sentence vectors from the index), words (the question's terms weighted by how rare they are, with the glossary),
what the question asks for (a body, a date, an amount ...), whether it is operative text or background, the rank of
its passage and the authority of its source.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..ingest.provisions import Provision, split
from ..question.query import Intent, Query, name_pattern
from ..retrieval.retriever import Retrieval
from ..types import Chunk, Hit, Via
from . import evidence
from .records import Candidate, Signals

EXPANSION_WEIGHT = 0.5  # glossary words count half as much as the question's own
NAME_WEIGHT = 2.0  # a name in the question (a country, a mission) counts double
SHORT_WORDS = 8  # fewer words than this: a fragment ("The mechanism shall be called Athena.")
SENTENCE_FOCUS = 0.5  # in trimming, a sentence's share of the question's focus words counts this much beside meaning
SENTENCE_KIND = 0.2  # ... and holding the kind of thing asked for (a figure for "how many", a body for "who") this much


class Features:
    """Computes the candidates and their features for a question over one index generation: its sentence vectors
    and positions, its tokenizer, how rare each term is, and the other paragraphs of an article."""

    def __init__(
        self,
        sentence_vectors_of: Callable[[int], np.ndarray],
        position_of: dict[str, int],
        terms: Callable[[list[str]], list[list[str]]],
        idf: Callable[[str], float],
        passages: int = 5,
        siblings: Callable[[Chunk], list[Chunk]] = lambda chunk: [chunk],
    ):
        self.siblings = siblings
        self.sentence_vectors_of = sentence_vectors_of
        self.position_of = position_of
        self.terms = terms
        self.idf = idf
        self.passages = passages
        # a chunk's provisions and the terms of the index's own wording (provisions, sentences, headings) do not change
        # for the index served: worked out once, not for every question (bounded by the corpus's size)
        self._provisions: dict[str, list[Provision]] = {}
        self._known_terms: dict[str, list[str]] = {}
        self._patterns: dict[str, re.Pattern] = {}  # glossary names (a bounded set)

    def candidates(self, query: Query, retrieval: Retrieval, passages: int | None = None) -> list[Candidate]:
        """Every quotable provision of the best passages (`passages`, by default the step's) with its features, in
        retrieval order; not scored yet (`rank.rank` scores and orders them)."""
        provisions = [
            (rank, hit, p)
            for rank, hit in self._with_siblings(retrieval, passages)
            for p in self._split(hit.chunk)
            if p.kind != "heading"
        ]
        if not provisions:
            return []
        sentences = [p.sentence_text(i) for _, _, p in provisions for i in p.sentences]
        heads = sorted({hit.chunk.headings for _, hit, _ in provisions})
        # which candidates write the full name, and which any name, of each glossary term the question calls by
        # another name
        writes_full = [[bool(self._pattern(a.full).search(p.text)) for _, _, p in provisions] for a in query.aliases]
        holds = [
            [
                full or any(self._pattern(n).search(p.text) for n in a.names if n != a.full)
                for full, (_, _, p) in zip(fulls, provisions, strict=True)
            ]
            for a, fulls in zip(query.aliases, writes_full, strict=True)
        ]
        # when a candidate writes a term's full name, it is a name: the question's other name for the term already
        # says it, and a provision writing any of the term's names is credited with that name (`pool` below), so
        # its words are not sought as well. An expansion no candidate writes ("aid and assistance armed
        # aggression") describes the term: its words are sought
        written = {a.full for a, fulls in zip(query.aliases, writes_full, strict=True) if any(fulls)}
        expansions = zip(query.expansions, query.terms.expansions, strict=True)
        sought = [t for e, terms in expansions if e not in written for t in terms] + list(query.terms.related)
        texts = [p.text for _, _, p in provisions]
        own_terms = self._terms_of(texts + sentences + heads)
        sentence_terms = iter(own_terms[len(texts) : len(texts) + len(sentences)])
        head_terms = dict(zip(heads, map(frozenset, own_terms[len(texts) + len(sentences) :]), strict=True))
        weights = {t: self.idf(t) for t in set(query.terms.searched)}
        for t in set(sought) - set(weights):
            weights[t] = EXPANSION_WEIGHT * self.idf(t)
        names = set(query.terms.names)
        for t in names & set(weights):
            weights[t] *= NAME_WEIGHT
        total = sum(weights.values()) or 1.0
        unnamed_total = sum(w for t, w in weights.items() if t not in names)
        # a text that writes any name of a glossary term holds what the question's name for it says: "European
        # External Action Service" answers to "EEAS", and "the High Representative" to "the EU's top diplomat", as
        # fully as the question's own name does
        pool = [frozenset(words) for words in own_terms[: len(texts)]]
        for short, holding in zip(query.terms.aliases, holds, strict=True):
            pool = [terms | frozenset(short) if held else terms for terms, held in zip(pool, holding, strict=True)]
        # the question's focus: its terms weighted by how rare they are among these candidates, so the words that
        # every candidate shares (the act's subject) count little and the specific ask ("approve", "budget") a lot
        local = {t: weights[t] * math.log((len(pool) + 1) / (sum(t in terms for terms in pool) + 0.5)) for t in weights}
        local_total = sum(local.values()) or 1.0
        centroid = np.mean([hit_vectors for hit_vectors in self._vectors(provisions)], axis=0)
        centroid = centroid / (np.linalg.norm(centroid) + 1e-12)
        # what the question is about, by name: a glossary term's full name ("Political and Security Committee")
        entities = [e.lower() for e in query.entities if len(e.split()) > 1]
        wanted = {r.paragraph for r in query.references if r.paragraph}
        found = []
        for (rank, hit, provision), terms in zip(provisions, pool, strict=True):
            vectors = self.sentence_vectors_of(self.position_of[hit.chunk.id])
            rows = [vectors[i] for i in provision.sentences if i < len(vectors)]
            sims = [float(v @ retrieval.query_vector) for v in rows] or [hit.dense or 0.0]
            # a sentence's relevance, for trimming: its meaning, the question's focus words it holds, and whether it
            # holds the kind of thing asked for
            focus = [
                sum(local[t] for t in set(next(sentence_terms)) if t in local) / local_total
                for _ in provision.sentences
            ]
            kinds = [
                SENTENCE_KIND * evidence.answers_kind(provision.sentence_text(i), query.asks_for)
                for i in provision.sentences
            ]
            relevance = tuple(sim + SENTENCE_FOCUS * f + k for sim, f, k in zip(sims, focus, kinds, strict=False))
            whole = None
            if rows:
                whole = np.sum(rows, axis=0)
                whole = whole / (np.linalg.norm(whole) + 1e-12)
            text = provision.text
            lexical = sum(weights[t] for t in terms if t in weights) / total
            features = Signals(
                dense_best=max(sims),
                dense_whole=float(whole @ retrieval.query_vector) if whole is not None else max(sims),
                lexical=lexical,
                focus=sum(local[t] for t in terms if t in local) / local_total,
                title=sum(weights[t] for t in head_terms[hit.chunk.headings] if t in weights) / total,
                subject=float(any(e in hit.chunk.headings.rsplit(" — ", 1)[-1].lower() for e in entities)),
                distinct=(float(whole @ retrieval.query_vector) - float(whole @ centroid))
                if whole is not None
                else 0.0,
                rank=1.0 / (1 + rank),
                reference=float(hit.via is Via.REFERENCE and (not wanted or provision.paragraph in wanted)),
                kind=float(
                    evidence.answers_kind(text, query.asks_for)
                    or (query.asks_for is Intent.WHICH and bool(provision.requires))
                ),
                demand=float(_holds_demand(query, text)),
                background=float(not provision.operative and query.asks_for is not Intent.PURPOSE),
                orphan=float(provision.orphan),
                authority=(4 - hit.chunk.tier) / 3,
                short=float(len(text.split()) < SHORT_WORDS),
                # a question of names alone ("What about Ireland?") asks about its names
                unnamed=sum(weights[t] for t in terms if t in weights and t not in names) / unnamed_total
                if unnamed_total
                else lexical,
                passage=hit.dense or 0.0,  # meaning: the whole passage it comes from
                sibling=float(hit.via is Via.SIBLING),  # another paragraph of a retrieved passage's article
            )
            found.append((provision, hit, rank, relevance, terms, whole, features))
        return [
            Candidate(provision, hit, rank, relevance, terms, whole, features)
            for provision, hit, rank, relevance, terms, whole, features in found
        ]

    def _pattern(self, name: str) -> re.Pattern:
        """`.query.name_pattern`, cached: compiled once per glossary name, not once per question."""
        pattern = self._patterns.get(name)
        if pattern is None:
            pattern = self._patterns[name] = name_pattern(name)
        return pattern

    def _split(self, chunk: Chunk) -> list[Provision]:
        """The chunk's provisions (`provisions.split`), split once per chunk."""
        provisions = self._provisions.get(chunk.id)
        if provisions is None:
            provisions = self._provisions[chunk.id] = split(chunk)
        return provisions

    def _terms_of(self, texts: list[str]) -> list[list[str]]:
        """Terms of the index's own wording (provisions, sentences, headings), remembered: one tokenizer call for
        those not known yet."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._known_terms]
        if missing:
            self._known_terms.update(zip(missing, self.terms(missing), strict=True))
        return [self._known_terms[t] for t in texts]

    def _with_siblings(self, retrieval: Retrieval, passages: int | None) -> list[tuple[int, Hit]]:
        """(rank, hit) for the best passages, each followed by the other paragraphs of its article (with its rank
        and scores), so the paragraph that answers is a candidate even when a sibling was retrieved instead."""
        hits = list(retrieval.hits[: passages or self.passages])
        seen = {h.chunk.id for h in hits}
        out: list[tuple[int, Hit]] = []
        for rank, hit in enumerate(hits):
            out.append((rank, hit))
            if hit.chunk.article:
                for chunk in self.siblings(hit.chunk):
                    if chunk.id not in seen:
                        seen.add(chunk.id)
                        out.append((rank, replace(hit, chunk=chunk, via=Via.SIBLING)))
        return out

    def _vectors(self, provisions: list[tuple[int, Hit, Provision]]) -> list[np.ndarray]:
        """Each provision's mean sentence vector (unit length)."""
        out = []
        for _, hit, provision in provisions:
            vectors = self.sentence_vectors_of(self.position_of[hit.chunk.id])
            rows = [vectors[i] for i in provision.sentences if i < len(vectors)]
            if rows:
                v = np.sum(rows, axis=0)
                out.append(v / (np.linalg.norm(v) + 1e-12))
        return out or [np.zeros(1, dtype=np.float32)]


def _holds_demand(query: Query, text: str) -> bool:
    """Does the wording hold a specific thing the question asks for (a person, the present state, the year)?"""
    return bool(
        (query.wants_person and evidence.persons(text))
        or (query.live_state and evidence.states_present(text))
        or (query.years and all(evidence.has_year(text, y) for y in query.years))
    )


def idf_of(document_frequency: Callable[[str], int], documents: int) -> Callable[[str], float]:
    """BM25's inverse document frequency for a term, from how many passages contain it."""

    def idf(term: str) -> float:
        df = document_frequency(term)
        return math.log(1 + (documents - df + 0.5) / (df + 0.5))

    return idf
