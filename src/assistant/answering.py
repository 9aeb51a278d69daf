"""Grounded answers without an LLM: the official sentences that best answer the question, each cited, or an honest abstention."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from .chunking import render_label
from .query import asks_about_live_state
from .retrieval import Retrieval
from .types import Answer, Citation, Hit

COVERAGE = (
    "I answer from the official texts on the EU's Common Foreign and Security Policy: the Treaty on European Union "
    "(Title V and the rest of the TEU), TFEU Part Five, Protocols 10 and 11, Declarations 13 and 14, Council decisions "
    "and regulations (CSDP missions, PESCO, the European Peace Facility, the European Defence Agency, sanctions regimes, "
    "non-proliferation) and their official EUR-Lex summaries."
)
ABSTAIN = "The official texts I search do not answer this question, so I will not guess. " + COVERAGE
LIVE_STATE = ("The official texts set out rules and decisions as they were adopted; they do not record current figures, "
              "who holds a post today, or whether and when a provision has been used, so I will not guess. ") + COVERAGE


def unknown_names_message(names: list[str]) -> str:
    """Abstention naming what the sources never mention."""
    quoted = " or ".join(f"“{n}”" for n in names[:3])
    return f"The official texts I search never mention {quoted}, so they cannot answer this question. " + COVERAGE


_MIN_CHARS = 25
# a sentence's score: similarity to the question, share of the question's terms, rank of its passage
_W_SIM, _W_OVERLAP, _W_PRIOR = 0.6, 0.25, 0.15


def _quotable(text: str) -> bool:
    """Sentences end like sentences; headings, titles, paragraph numbers and link lists do not."""
    return len(text) >= _MIN_CHARS and bool(re.search(r"[a-z]", text)) and text.endswith((".", ";", ":", "?", "!", ","))


class Answerer:
    """Builds an `Answer` from a `Retrieval`: verbatim sentences with [n] markers and citations as data."""

    def __init__(self, sentence_vectors_of: Callable[[int], np.ndarray], position_of: dict[str, int],
                 terms: Callable[[list[str]], list[list[str]]], threshold: float, max_sentences: int = 3, passages: int = 5,
                 unknown_names: Callable[[str], list[str]] = lambda text: []):
        self.sentence_vectors_of = sentence_vectors_of
        self.position_of = position_of
        self.terms = terms
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.passages = passages
        self.unknown_names = unknown_names

    def confidence(self, retrieval: Retrieval) -> float:
        """Evidence strength: the best similarity among the passages answered from (so asking for more hits
        never changes the answer), or full confidence for an explicit article reference."""
        if any(h.via == "reference" for h in retrieval.hits[: self.passages]):
            return 1.0
        return max([h.dense or 0.0 for h in retrieval.hits[: self.passages]] + [0.0])

    def answer(self, retrieval: Retrieval) -> Answer:
        """Answer from the retrieved passages, or abstain: when the question names something the sources never
        mention, asks about the present state of affairs, or the evidence is below the threshold."""
        confidence = self.confidence(retrieval)
        unknown = self.unknown_names(retrieval.question)
        if unknown:
            return Answer(retrieval.question, unknown_names_message(unknown), (), True, retrieval.hits, confidence)
        if asks_about_live_state(retrieval.question):
            return Answer(retrieval.question, LIVE_STATE, (), True, retrieval.hits, confidence)
        if confidence < self.threshold or not retrieval.hits:
            return Answer(retrieval.question, ABSTAIN, (), True, retrieval.hits, confidence)
        picked = self._pick(retrieval)
        if not picked:
            return Answer(retrieval.question, ABSTAIN, (), True, retrieval.hits, confidence)
        citations: dict[tuple[str, str], list] = {}
        parts = []
        for hit, sentence_text, paragraph in picked:
            key = (hit.chunk.id, paragraph)
            if key not in citations:
                citations[key] = [len(citations) + 1, hit, paragraph, []]
            citations[key][3].append(sentence_text)
            parts.append(f"{sentence_text} [{citations[key][0]}]")
        cites = tuple(
            Citation(n=n, label=render_label(hit.chunk.label_base, para) if hit.chunk.label_base else hit.chunk.label,
                     url=hit.chunk.url, source_id=hit.chunk.source_id, article=hit.chunk.article, paragraph=para,
                     kind=hit.chunk.kind, date=hit.chunk.date, title=hit.chunk.title, quote=" ".join(quotes),
                     chunk_id=hit.chunk.id)
            for n, hit, para, quotes in citations.values())
        return Answer(retrieval.question, " ".join(parts), cites, False, retrieval.hits, confidence)

    def _quoted_paragraph(self, retrieval: Retrieval) -> list[tuple[Hit, str, str]]:
        """For a question naming one paragraph ("What does Article 42(7) TEU say?"): its first sentences, in order."""
        wanted = {(r.source_id, r.article, r.paragraph) for r in retrieval.references if r.paragraph}
        picked = []
        for hit in retrieval.hits[: self.passages]:
            if hit.via != "reference" or (hit.chunk.source_id, hit.chunk.article) not in {w[:2] for w in wanted}:
                continue
            for sentence in hit.chunk.sentences:
                text = hit.chunk.text[sentence.start:sentence.end].strip()
                if ((hit.chunk.source_id, hit.chunk.article, sentence.paragraph) in wanted and _quotable(text)
                        and len(picked) < self.max_sentences):
                    picked.append((hit, text, sentence.paragraph))
        return picked

    def _pick(self, retrieval: Retrieval) -> list[tuple[Hit, str, str]]:
        """The named paragraph when the question names one; otherwise the best sentences by similarity, term
        overlap and passage rank, kept diverse; returned in reading order."""
        quoted = self._quoted_paragraph(retrieval)
        if quoted:
            return quoted
        spans = [(rank, hit, i, sentence, hit.chunk.text[sentence.start:sentence.end].strip())
                 for rank, hit in enumerate(retrieval.hits[: self.passages])
                 for i, sentence in enumerate(hit.chunk.sentences)]
        spans = [s for s in spans if _quotable(s[4])]
        if not spans:
            return []
        all_terms = self.terms([retrieval.expanded] + [s[4] for s in spans])  # one tokenizer call per question
        qterms = set(all_terms[0])
        candidates = []
        for (rank, hit, i, sentence, text), terms in zip(spans, all_terms[1:]):
            vectors = self.sentence_vectors_of(self.position_of[hit.chunk.id])
            sim = float(vectors[i] @ retrieval.query_vector) if i < len(vectors) else (hit.dense or 0.0)
            overlap = len(qterms & set(terms)) / len(qterms) if qterms else 0.0
            prior = 1.0 / (1 + rank) + (0.3 if hit.via == "reference" else 0.0)
            score = _W_SIM * sim + _W_OVERLAP * overlap + _W_PRIOR * prior
            candidates.append((score, rank, i, hit, text, sentence.paragraph, vectors[i] if i < len(vectors) else None))
        candidates.sort(key=lambda c: -c[0])
        chosen: list = []
        per_chunk: dict[str, int] = {}
        for cand in candidates:
            score, _, _, hit, text, _, vec = cand
            if len(chosen) >= self.max_sentences or (chosen and score < 0.7 * chosen[0][0]):
                break
            if per_chunk.get(hit.chunk.id, 0) >= 2:
                continue
            if vec is not None and any(c[6] is not None and float(c[6] @ vec) > 0.9 for c in chosen):
                continue  # near-duplicate of a sentence already chosen (e.g. act text and its summary)
            chosen.append(cand)
            per_chunk[hit.chunk.id] = per_chunk.get(hit.chunk.id, 0) + 1
        chosen.sort(key=lambda c: (c[1], c[2]))
        return [(c[3], c[4], c[5]) for c in chosen]
