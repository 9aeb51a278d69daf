"""Step 5 of the answer stage, cite: the answer text with [n] markers and one citation per quoted paragraph,
numbered in reading order, each with the whole article (or summary section, or page) it comes from and where the
quote sits in it: citations as data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..ingest.chunking import render_label
from ..labels import WEB_TIER
from ..question.query import Query
from ..retrieval.retriever import Retrieval
from ..types import Answer, Chunk, Citation
from .records import Part

OVERLAP_CHARS, MIN_OVERLAP = 400, 20  # how a split paragraph's repeated words are recognised when joining


def cite(
    query: Query,
    parts: Sequence[Part],
    retrieval: Retrieval,
    confidence: float,
    siblings: Callable[[Chunk], list[Chunk]],
) -> Answer:
    """The answer quoting `parts`, with [n] markers and its citations (`siblings`: the chunks of a chunk's article,
    section or page, in order)."""
    numbers: dict[tuple[str, str], int] = {}
    quotes: dict[int, list[str]] = {}
    quoted: dict[int, list[int]] = {}
    texts = []
    for part in parts:
        chunk, paragraph = part.candidate.hit.chunk, part.candidate.provision.paragraph
        n = numbers.setdefault((chunk.id, paragraph), len(numbers) + 1)
        quotes.setdefault(n, []).append(part.quote)
        quoted.setdefault(n, []).extend(part.sentences)
        texts.append(f"{part.quote} [{n}]")
    citations = []
    for (chunk_id, paragraph), n in numbers.items():
        chunk = next(p.candidate.hit.chunk for p in parts if p.candidate.hit.chunk.id == chunk_id)
        label = render_label(chunk.label_base, paragraph) if chunk.label_base else chunk.label
        context, highlights = _context(chunk, sorted(set(quoted[n])), siblings)
        citations.append(
            Citation.of(chunk, n, label, paragraph, " ".join(quotes[n]), context=context, highlights=highlights)
        )
    lead = parts[0].candidate.hit.chunk
    text = " ".join(texts)
    if lead.tier >= WEB_TIER:  # say plainly where a statement that is not official law comes from
        caveat = "; it may be out of date" if query.live_state else ""
        text = f"According to the {citations[0].label} (a web page, not an official legal text{caveat}): {text}"
    cited = tuple(next(p.candidate.hit for p in parts if p.candidate.hit.chunk.id == c.chunk_id) for c in citations)
    return Answer(
        question=query.asked,
        text=text,
        citations=tuple(citations),
        abstained=False,
        hits=retrieval.hits,
        confidence=confidence,
        cited_hits=cited,
        search_query=query.searched,
    )


def _context(
    chunk: Chunk, quoted: list[int], siblings: Callable[[Chunk], list[Chunk]]
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The whole article (or summary section, or page) a quote comes from, and where its sentences are in it."""
    text, starts = join_unit(siblings(chunk))
    start = starts.get(chunk.id)
    if start is None:
        return text, ()
    offset, skipped = start
    spans = [chunk.sentences[i] for i in quoted]
    return text, tuple((offset + s.start - skipped, offset + s.end - skipped) for s in spans if s.start >= skipped)


def join_unit(chunks: list[Chunk]) -> tuple[str, dict[str, tuple[int, int]]]:
    """The texts of a unit's chunks as one text, a line apart; where a chunk repeats the end of the one before it
    (an over-long paragraph split with overlap), the repeated part is left out. Returns the text and, per chunk id,
    (where its text starts, how many of its leading characters were left out)."""
    text, starts = "", {}
    for chunk in chunks:
        skipped = 0
        if text:
            skipped = _overlap(text, chunk.text)
            text += "" if skipped else "\n"
        starts[chunk.id] = (len(text), skipped)
        text += chunk.text[skipped:]
    return text, starts


def _overlap(text: str, following: str) -> int:
    """The longest start of `following` (MIN_OVERLAP to OVERLAP_CHARS characters) that `text` ends with, or 0. Only
    where its first MIN_OVERLAP characters occur near the end can it match, so only those places are tried."""
    limit = min(len(following), len(text), OVERLAP_CHARS)
    if limit < MIN_OVERLAP:
        return 0
    head = following[:MIN_OVERLAP]
    at = text.find(head, len(text) - limit)
    while at != -1:  # from the left: the longest overlap first
        if text.endswith(following[: len(text) - at]):
            return len(text) - at
        at = text.find(head, at + 1)
    return 0
