"""Composes an extractive answer from provisions: the provision that answers the question first, then at most two
that complete it, each quoted as a coherent unit (trimmed to its relevant sentences, a list never cut from its
lead-in, omissions marked with "…").

Every provision of the best retrieved passages is a candidate, scored for the question itself: meaning (sentence
vectors from the index), words (the question's terms weighted by how rare they are, with the glossary), what the
question asks for (a body, a date, an amount ...), whether it is operative text or background, the rank of its
passage and, between candidates that answer alike, the authority of its source.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from . import evidence
from .provisions import Provision, split
from .query import Query, name_pattern
from .ranking import Ranker, RulesRanker
from .reader import Reader, reader_text
from .retrieval import Retrieval
from .types import Chunk, Hit

EXPANSION_WEIGHT = 0.5  # glossary words count half as much as the question's own
NAME_WEIGHT = 2.0  # a name in the question (a country, a mission) counts double
SHORT_WORDS = 8
SENTENCE_FOCUS = 0.5  # in trimming, a sentence's share of the question's focus words counts this much beside meaning
SENTENCE_KIND = 0.2  # ... and holding the kind of thing asked for (a figure for "how many", a body for "who") this much

OPEN_ASKS = ("definition", "general", "purpose")  # questions that ask what something is or does, not a specific fact
MAX_PARTS = 3
EXTRA_MIN_SHARE = 0.75  # a further provision must score this share of the first one
EXTRA_ALONE_SHARE = 0.95  # ... and add a term the answer lacks, unless it scores this share
DUPLICATE_SIMILARITY = 0.9  # a provision this close in meaning to one already quoted repeats it
LEAD_WORDS = 75  # the first provision is trimmed to about this many words
EXTRA_WORDS = 45  # each further one to about this many
ANSWER_WORDS = 120
OMISSION = "…"


@dataclass(frozen=True)
class Candidate:
    """A provision of a retrieved passage with its scores for the question."""

    provision: Provision
    hit: Hit
    rank: int
    sentence_scores: tuple[float, ...]  # relevance of each of its sentences (meaning and focus words), in order
    terms: frozenset[str]
    vector: np.ndarray | None
    features: dict[str, float]
    score: float

    @property
    def text(self) -> str:
        """The provision's whole wording."""
        return self.provision.text


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


class Composer:
    """Scores the provisions of the best passages for a question and picks what the answer quotes."""

    def __init__(
        self,
        sentence_vectors_of: Callable[[int], np.ndarray],
        position_of: dict[str, int],
        terms: Callable[[list[str]], list[list[str]]],
        idf: Callable[[str], float],
        passages: int = 5,
        siblings: Callable[[Chunk], list[Chunk]] = lambda chunk: [chunk],
        ranker: Ranker | None = None,
        qualifiers: tuple[str, ...] = (),
        reader: Reader | None = None,
    ):
        self.ranker: Ranker = ranker or RulesRanker()
        self.reader = reader
        # words that qualify a rule, as whole words or phrases ("not" but not "notably")
        self.qualifies = (
            re.compile(r"\b(" + "|".join(re.escape(q) for q in qualifiers) + r")\b", re.I) if qualifiers else None
        )
        self.siblings = siblings
        self.sentence_vectors_of = sentence_vectors_of
        self.position_of = position_of
        self.terms = terms
        self.idf = idf
        self.passages = passages
        # a chunk's provisions and the terms of the index's own wording (provisions, sentences, headings) do not change
        # for the index a composer serves: worked out once, not for every question (bounded by the corpus's size)
        self._provisions: dict[str, list[Provision]] = {}
        self._known_terms: dict[str, list[str]] = {}
        self._patterns: dict[str, re.Pattern] = {}  # glossary names (a bounded set)

    def candidates(self, query: Query, retrieval: Retrieval, passages: int | None = None) -> list[Candidate]:
        """Every quotable provision of the best passages (`passages`, by default the composer's), best first."""
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
        sought = [e for e in query.expansions if e not in written]
        asked = [query.searched, " ".join(sought + list(query.related))]
        named = [" ".join(query.names)] if query.names else []
        texts = asked + [p.text for _, _, p in provisions]
        short_names = [alias.written for alias in query.aliases]
        question_terms, own_terms = self._tokenise(asked + named + short_names, texts[len(asked) :] + sentences + heads)
        name_terms = question_terms[len(asked) : len(asked) + len(named)]
        short_terms = question_terms[len(asked) + len(named) :]
        tokenised = question_terms[: len(asked)] + own_terms
        sentence_terms = iter(tokenised[len(texts) : len(texts) + len(sentences)])
        head_terms = dict(zip(heads, map(frozenset, tokenised[len(texts) + len(sentences) :]), strict=True))
        tokenised = tokenised[: len(texts)]
        weights = {t: self.idf(t) for t in set(tokenised[0])}
        for t in set(tokenised[1]) - set(weights):
            weights[t] = EXPANSION_WEIGHT * self.idf(t)
        names = set(name_terms[0]) if name_terms else set()
        for t in names & set(weights):
            weights[t] *= NAME_WEIGHT
        total = sum(weights.values()) or 1.0
        unnamed_total = sum(w for t, w in weights.items() if t not in names)
        # a text that writes any name of a glossary term holds what the question's name for it says: "European
        # External Action Service" answers to "EEAS", and "the High Representative" to "the EU's top diplomat", as
        # fully as the question's own name does
        pool = [frozenset(words) for words in tokenised[2:]]
        for short, holding in zip(short_terms, holds, strict=True):
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
            features = {
                "dense_best": max(sims),
                "dense_whole": float(whole @ retrieval.query_vector) if whole is not None else max(sims),
                "lexical": lexical,
                "focus": sum(local[t] for t in terms if t in local) / local_total,
                "title": sum(weights[t] for t in head_terms[hit.chunk.headings] if t in weights) / total,
                "subject": float(any(e in hit.chunk.headings.rsplit(" — ", 1)[-1].lower() for e in entities)),
                "distinct": (float(whole @ retrieval.query_vector) - float(whole @ centroid))
                if whole is not None
                else 0.0,
                "rank": 1.0 / (1 + rank),
                "reference": float(hit.via == "reference" and (not wanted or provision.paragraph in wanted)),
                "kind": float(
                    evidence.answers_kind(text, query.asks_for)
                    or (query.asks_for == "which" and bool(provision.requires))
                ),
                "demand": float(_holds_demand(query, text)),
                "background": float(not provision.operative and query.asks_for != "purpose"),
                "orphan": float(provision.orphan),
                "authority": (4 - hit.chunk.tier) / 3,
                "short": float(len(text.split()) < SHORT_WORDS),
                # a question of names alone ("What about Ireland?") asks about its names
                "unnamed": sum(weights[t] for t in terms if t in weights and t not in names) / unnamed_total
                if unnamed_total
                else lexical,
                "passage": hit.dense or 0.0,  # meaning: the whole passage it comes from
                "sibling": float(hit.via == "sibling"),  # another paragraph of a retrieved passage's article
            }
            found.append((provision, hit, rank, relevance, terms, whole, features))
        scores = self.ranker.scores([row[-1] for row in found])
        if self.reader is not None and self.ranker.reads:
            # the reader reads the question with the first ranking's best candidates; its probability is a feature
            best = sorted(range(len(found)), key=lambda i: -scores[i])[: self.reader.candidates]
            read = self.reader.probabilities(
                query.searched, [reader_text(found[i][1].chunk.headings, found[i][0].text) for i in best]
            )
            for i, p in zip(best, read, strict=True):
                found[i][-1]["reader"] = float(p)
            scores = self.ranker.scores([row[-1] for row in found])
        out = [
            Candidate(provision, hit, rank, relevance, terms, whole, features, score)
            for (provision, hit, rank, relevance, terms, whole, features), score in zip(found, scores, strict=True)
        ]
        out.sort(key=lambda c: -c.score)
        return out

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

    def _tokenise(self, fresh: list[str], own: list[str]) -> tuple[list[list[str]], list[list[str]]]:
        """Terms of the question's texts (`fresh`) and of the index's wording (`own`, remembered), in one tokenizer
        call for what is not known yet; a text's terms do not depend on the others tokenised with it."""
        missing = [t for t in dict.fromkeys(own) if t not in self._known_terms]
        tokenised = self.terms(fresh + missing)
        self._known_terms.update(zip(missing, tokenised[len(fresh) :], strict=True))
        return tokenised[: len(fresh)], [self._known_terms[t] for t in own]

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
                        out.append((rank, replace(hit, chunk=chunk, via="sibling")))
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

    def compose(self, query: Query, candidates: list[Candidate]) -> list[Part]:
        """The provisions the answer quotes, the best first: at most three, within the length budget."""
        if not candidates:
            return []
        named = self._named_paragraph(query, candidates)
        if named:
            return named
        lead = candidates[0]
        parts = [Part(lead, *self.trim(lead, LEAD_WORDS))]
        if len(lead.text.split()) < SHORT_WORDS:  # a fragment ("The mechanism shall be called Athena.") says little
            # alone: the provision of its own article it follows on from comes with it; in reading order when the
            # question asks what something is, after it when the fragment holds a specific thing asked for
            context, before = self._unit_context(lead, candidates)
            if context is not None:
                part = Part(context, *self.trim(context, EXTRA_WORDS))
                first = before and query.asks_for in OPEN_ASKS
                parts = [part, *parts] if first else [*parts, part]
        covered = set().union(*(p.candidate.terms for p in parts))
        asked: set[str] | None = None  # the question's terms, tokenised once when a further provision needs them
        for cand in candidates[1:]:
            if len(parts) >= MAX_PARTS:
                break
            if self.ranker.share(cand.score, lead.score) < EXTRA_MIN_SHARE:
                break
            new_terms = {t for t in cand.terms - covered if self.idf(t) > 0}
            if asked is None:
                asked = set(self.terms([query.expanded])[0])
            relevant_new = new_terms & asked
            if not relevant_new and self.ranker.share(cand.score, lead.score) < EXTRA_ALONE_SHARE:
                continue
            if any(self._repeats(cand, p.candidate) for p in parts):
                continue
            quote, kept = self.trim(cand, EXTRA_WORDS)
            if sum(p.words for p in parts) + len(quote.split()) > ANSWER_WORDS:
                continue
            parts.append(Part(cand, quote, kept))
            covered |= cand.terms
        return parts

    def _unit_context(self, lead: Candidate, candidates: list[Candidate]) -> tuple[Candidate | None, bool]:
        """The provision of the lead's article or section that comes just before it (what a fragment such as "The
        mechanism shall be called Athena." refers back to), else the one just after, among those that say
        something on their own; and whether it comes before."""
        chunk = lead.hit.chunk
        unit = [
            c
            for c in candidates
            if (c.hit.chunk.source_id, c.hit.chunk.article, c.hit.chunk.headings)
            == (chunk.source_id, chunk.article, chunk.headings)
            and (c is lead or len(c.text.split()) >= SHORT_WORDS)
        ]
        unit.sort(key=lambda c: (self.position_of[c.hit.chunk.id], c.provision.sentences[:1]))
        at = next(i for i, c in enumerate(unit) if c is lead)
        if at > 0:
            return unit[at - 1], True
        return (unit[at + 1] if at + 1 < len(unit) else None), False

    def _named_paragraph(self, query: Query, candidates: list[Candidate]) -> list[Part]:
        """For "What does Article 42(7) TEU say?": that paragraph's provisions in reading order."""
        wanted = {(r.source_id, r.article, r.paragraph) for r in query.references if r.paragraph}
        if not wanted:
            return []
        chosen = [
            c
            for c in candidates
            if c.hit.via == "reference"
            and (c.hit.chunk.source_id, c.hit.chunk.article, c.provision.paragraph) in wanted
        ]
        chosen.sort(key=lambda c: (c.rank, c.provision.sentences))
        parts: list[Part] = []
        for cand in chosen:  # quoted from its beginning, in order: the reader asked for this paragraph
            quote, kept = self.trim(cand, LEAD_WORDS if not parts else EXTRA_WORDS, from_start=True)
            if parts and sum(p.words for p in parts) + len(quote.split()) > ANSWER_WORDS:
                break
            parts.append(Part(cand, quote, kept))
        return parts

    @staticmethod
    def _repeats(a: Candidate, b: Candidate) -> bool:
        if a.provision == b.provision:
            return True
        if a.vector is None or b.vector is None:
            return False
        return float(a.vector @ b.vector) > DUPLICATE_SIMILARITY

    def trim(self, cand: Candidate, budget: int, from_start: bool = False) -> tuple[str, tuple[int, ...]]:
        """The provision's wording within about `budget` words: whole if it fits, else its most relevant sentences
        in reading order (a list item keeps its lead-in, a lead-in its best items, or all its items when they fit
        in the budget again), "…" where sentences are left out. A sentence of the provision that qualifies its
        rule (`qualifiers`: "except", "unless", "shall not apply" ...) is never left out."""
        p = cand.provision
        length = {i: len(p.sentence_text(i).split()) for i in p.sentences}
        if sum(length.values()) <= budget:
            return p.text, p.sentences
        score = dict(zip(p.sentences, cand.sentence_scores, strict=False))
        if from_start:  # earlier sentences first
            score = {i: -k for k, i in enumerate(p.sentences)}
        lead_of = dict(p.requires)
        keep: set[int] = set()
        used = 0
        for i in sorted(p.sentences, key=lambda i: -score.get(i, 0.0)):
            wanted = {i} | ({lead_of[i]} if i in lead_of else set())
            if i in p.lead_ins:  # a lead-in comes with its best item
                items = [item for item, lead in p.requires if lead == i]
                if items:
                    wanted.add(max(items, key=lambda item: score.get(item, 0.0)))
            extra = sum(length[j] for j in wanted - keep)
            if keep and used + extra > budget:
                continue
            keep |= wanted
            used += extra
        for lead in p.lead_ins & keep:  # a list quoted whole when it fits in the budget again
            items = [item for item, of in p.requires if of == lead and item not in keep]
            if used + sum(length[i] for i in items) <= 2 * budget:
                keep |= set(items)
                used += sum(length[i] for i in items)
        if self.qualifies is not None:  # what qualifies the quoted rule stays, whatever the budget
            keep |= {i for i in p.sentences if self.qualifies.search(p.sentence_text(i))}
            keep |= {lead_of[i] for i in keep if i in lead_of}
        pieces: list[str] = []
        skipped = False
        for i in p.sentences:
            if i in keep:
                if skipped and pieces:
                    pieces.append(OMISSION)
                pieces.append(p.sentence_text(i))
                skipped = False
            else:
                skipped = True
        if skipped:
            pieces.append(OMISSION)
        return " ".join(pieces), tuple(i for i in p.sentences if i in keep)


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
