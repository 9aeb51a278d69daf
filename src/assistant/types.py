"""Typed records that cross module borders: documents, chunks, hits, citations, answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from .labels import WEB_TIER, date_label, kind_label


@dataclass(frozen=True)
class DocEntry:
    """One catalogue entry: what a document is and where it lives in the corpus folder."""

    id: str
    title: str
    citation: str
    kind: str
    tier: int
    date: str
    url: str
    path: str
    format: str
    summary_url: str = ""
    eli: str = ""
    starts_at: str = ""
    articles: tuple[str, ...] = ("all",)
    annexes: bool = True
    act_text: bool = True
    summary: bool = True


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of a legal text: its number ("7", or "" when unnumbered) and its words."""

    number: str
    text: str


@dataclass(frozen=True)
class Block:
    """A unit of a document: an article (or recital block, annex, summary section) under its headings."""

    article: str
    headings: tuple[str, ...]
    paragraphs: tuple[Paragraph, ...]
    part: str = "article"  # article | preamble | annex | section


@dataclass(frozen=True)
class SourceDoc:
    """A loaded document: catalogue facts plus its blocks in reading order."""

    source_id: str
    title: str
    citation: str
    kind: str
    tier: int
    date: str
    url: str
    path: str
    blocks: tuple[Block, ...]
    eli: str = ""

    @property
    def article_count(self) -> int:
        """Number of distinct numbered articles."""
        return len({b.article for b in self.blocks if b.article})


@dataclass(frozen=True)
class Sentence:
    """A quotable span of a chunk's text, with the paragraph it belongs to."""

    start: int
    end: int
    paragraph: str


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage with everything needed to cite it."""

    id: str
    source_id: str
    kind: str
    tier: int
    title: str
    label: str
    url: str
    date: str
    article: str
    paragraph: str
    headings: str
    text: str
    sentences: tuple[Sentence, ...] = ()
    label_base: str = ""

    @property
    def embed_text(self) -> str:
        """The text given to the embedding model and the lexical index: headings, then the passage."""
        return f"{self.headings}\n{self.text}" if self.headings else self.text

    @property
    def body_offset(self) -> int:
        """Where `text` starts inside `embed_text`."""
        return len(self.headings) + 1 if self.headings else 0

    def to_dict(self) -> dict:
        """Plain JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Chunk":
        """Inverse of to_dict."""
        data = dict(data)
        data["sentences"] = tuple(Sentence(**s) for s in data.get("sentences", ()))
        return cls(**data)


class Via(StrEnum):
    """How a passage was found: by a search mode, an explicit reference in the question, or as another paragraph of
    a found passage's article."""

    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"
    REFERENCE = "reference"
    SIBLING = "sibling"


@dataclass(frozen=True)
class Hit:
    """A chunk found for a question, with the scores that found it."""

    chunk: Chunk
    score: float
    dense: float | None = None
    lexical: float | None = None
    via: Via = Via.HYBRID


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: points at a retrieved chunk and quotes it."""

    n: int
    label: str
    url: str
    source_id: str
    article: str
    paragraph: str
    kind: str
    date: str
    title: str
    quote: str
    chunk_id: str
    tier: int = 2  # 1 treaty, 2 legal act, 3 official summary, 4 web page or other document (not official law)
    context: str = ""  # the whole article, summary section or page the quote comes from
    highlights: tuple[tuple[int, int], ...] = ()  # where the quoted sentences are in `context` (start, end)
    local_url: str = ""  # the official text on EUR-Lex in the question's language, when it is not English

    @classmethod
    def of(cls, chunk: Chunk, n: int, label: str, paragraph: str, quote: str, **more: Any) -> Citation:
        """Citation number `n` of a chunk, quoting it; the chunk's source, kind, date and tier come with it."""
        return cls(
            n=n,
            label=label,
            url=chunk.url,
            source_id=chunk.source_id,
            article=chunk.article,
            paragraph=paragraph,
            kind=chunk.kind,
            date=chunk.date,
            title=chunk.title,
            quote=quote,
            chunk_id=chunk.id,
            tier=chunk.tier,
            **more,
        )

    @property
    def kind_label(self) -> str:
        """The kind of source as people read it ("Treaty", "Web page — not an official legal text")."""
        return kind_label(self.kind, self.tier, self.title, self.label)

    @property
    def date_label(self) -> str:
        """The date as people read it ("7 June 2016", "date unknown")."""
        return date_label(self.date)


@dataclass(frozen=True, kw_only=True)
class Answer:
    """What the assistant says: text with [n] markers, the citations behind them, and the evidence."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    hits: tuple[Hit, ...] = field(default=(), repr=False)
    confidence: float = 0.0
    latency_ms: float = 0.0
    retrieval_ms: float = 0.0
    search_query: str = ""  # the question as searched: the conversation's topic carried over, typos corrected
    also_searched: str = ""  # a language model's standalone wording of a follow-up, searched beside search_query
    corrections: tuple[tuple[str, str], ...] = ()  # (as typed, as searched) for each corrected word
    cited_hits: tuple[Hit, ...] = field(default=(), repr=False)  # the hits the citations quote, in citation order
    mode: str = "extractive"  # extractive (quoted) | llm (written by a language model, every sentence checked)
    model: str = ""  # the language model that wrote it
    fallback_reason: str = ""  # why a language model's answer was not shown (the quoted answer is shown instead)
    language: str = "en"  # the question's language (ISO 639-1)
    drafted: int = 0  # sentences the language model wrote
    dropped: tuple[str, ...] = ()  # for each sentence the checks dropped, the rule it broke
    first_sentence_ms: float = 0.0  # from the question to the first checked sentence (language model answers)

    @property
    def official_only(self) -> bool:
        """Does every citation point to an official text (none to a web page or other document)?"""
        return all(c.tier < WEB_TIER for c in self.citations)

    def evidence(self, k: int) -> tuple[Hit, ...]:
        """The first k hits, plus the hit behind each citation that lies further down (a sibling paragraph of a
        retrieved article, or a passage looked up for a specific thing asked for), so every citation points at a
        hit."""
        shown = list(self.hits[:k])
        ids = {h.chunk.id for h in shown}
        for citation in self.citations:
            if citation.chunk_id not in ids:
                shown += [h for h in self.cited_hits if h.chunk.id == citation.chunk_id][:1]
                ids.add(citation.chunk_id)
        return tuple(shown)

    def to_dict(self) -> dict:
        """JSON-ready form shared by the CLI, API and evaluation."""
        return {
            "question": self.question,
            "search_query": self.search_query or self.question,
            "also_searched": self.also_searched,
            "corrections": [list(c) for c in self.corrections],
            "mode": self.mode,
            "model": self.model,
            "fallback_reason": self.fallback_reason,
            "language": self.language,
            "answer": self.text,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "latency_ms": round(self.latency_ms, 2),
            "citations": [asdict(c) for c in self.citations],
            "retrieved": [
                {
                    "chunk_id": h.chunk.id,
                    "label": h.chunk.label,
                    "source_id": h.chunk.source_id,
                    "article": h.chunk.article,
                    "score": round(h.score, 6),
                    "dense": None if h.dense is None else round(h.dense, 4),
                    "lexical": None if h.lexical is None else round(h.lexical, 4),
                    "via": h.via,
                }
                for h in self.hits
            ],
        }
