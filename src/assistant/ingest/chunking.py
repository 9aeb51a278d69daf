"""Structure-aware chunking: article, then numbered paragraph, then token size; every chunk knows its citation."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ..types import Block, Chunk, Paragraph, Sentence, SourceDoc

TokenCounter = Callable[[str], int]

_ABBREVIATIONS = {
    "art",
    "arts",
    "no",
    "nos",
    "e.g",
    "i.e",
    "p",
    "pp",
    "para",
    "mr",
    "ms",
    "dr",
    "st",
    "etc",
    "cf",
    "vol",
    "co",
    "ltd",
    "inc",
    "op",
    "oj",
    "ibid",
    "approx",
    "jr",
    "sr",
    "reg",
    "dec",
    "vs",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'’”)]?\s+(?=[A-Z(‘\"“\d—–])")
ELI = "http://data.europa.eu/eli/treaty/{eli}/art_{article}/oj"
# Web pages and other documents without legal structure (tier 4) are prose: a chunk is a paragraph or two, so each
# passage's vector says one thing instead of averaging a page of topics.
PROSE_TIER = 4
PROSE_TOKENS = 120
TREATIES = ("TEU", "TFEU")  # the Treaties themselves, as against their protocols and declarations


def label_template(doc: SourceDoc, block: Block) -> str:
    """Citation label with a `{p}` slot for the paragraph: "Art. 42{p} TEU", "Art. 4{p} of Decision (CFSP) 2019/797"."""
    if doc.kind in ("official summary", "web page", "document") or (
        not block.article and doc.kind == "treaty" and doc.source_id not in TREATIES
    ):
        return doc.citation
    if block.article:
        if doc.source_id in TREATIES:
            return f"Art. {block.article}{{p}} {doc.citation}"
        return f"Art. {block.article}{{p}} of {doc.citation}"
    if block.part == "preamble":
        return f"Preamble of the {doc.citation}" if doc.kind == "treaty" else f"Recitals of {doc.citation}"
    if block.part == "annex":
        return f"Annex to {doc.citation}"
    return doc.citation


def render_label(template: str, paragraph: str) -> str:
    """Fill the paragraph slot of a label template."""
    return template.replace("{p}", f"({paragraph})" if paragraph else "")


def split_sentences(text: str, paragraphs: list[str]) -> tuple[Sentence, ...]:
    """Quotable spans of a chunk text (one line per paragraph line), each with its paragraph number."""
    spans: list[Sentence] = []
    offset = 0
    for line, number in zip(text.split("\n"), paragraphs, strict=True):
        start = 0
        for m in _SENTENCE_END.finditer(line):
            before = line[start : m.start()].rstrip(".!?\"'’”)")
            last_word = before.split()[-1].lower() if before.split() else ""
            if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
                continue
            if line[start : m.start()].strip():
                spans.append(Sentence(offset + start, offset + m.start() + len(m.group(0).rstrip()), number))
            start = m.end()
        if line[start:].strip():
            spans.append(Sentence(offset + start, offset + len(line), number))
        offset += len(line) + 1
    return tuple(spans)


class Chunker:
    """Splits documents into chunks of about `max_tokens` tokens along their legal structure."""

    def __init__(
        self,
        count_tokens: TokenCounter,
        max_tokens: int = 230,
        overlap: int = 30,
        article_titles: Mapping[tuple[str, str], str] | None = None,
    ):
        self.count = count_tokens
        self.article_titles = article_titles or {}
        self._counts: dict[str, int] = {}
        self.max_tokens = max_tokens
        self.splitter = RecursiveCharacterTextSplitter(
            chunk_size=max_tokens,
            chunk_overlap=overlap,
            length_function=count_tokens,
            separators=["\n", "; ", ". ", ", ", " ", ""],
            keep_separator="end",
        )

    def chunk(self, docs: Iterable[SourceDoc]) -> list[Chunk]:
        """All chunks of the given documents, with stable content-derived ids."""
        chunks: list[Chunk] = []
        seen: dict[str, int] = {}
        for doc in docs:
            prose = doc.tier >= PROSE_TIER
            for block in doc.blocks:
                for lines in self._pack(list(block.paragraphs), PROSE_TOKENS) if prose else self._pieces(block):
                    chunk = self._make(doc, block, lines, seen)
                    chunks.append(chunk)
        return chunks

    def _pieces(self, block: Block) -> list[list[Paragraph]]:
        """Lines of a block grouped into chunk-sized pieces."""
        lines = list(block.paragraphs)
        if self._tokens(lines) <= self.max_tokens:
            return [lines]
        groups: list[list[Paragraph]] = []
        for line in lines:  # runs of lines sharing a paragraph number
            if groups and groups[-1][-1].number == line.number:
                groups[-1].append(line)
            else:
                groups.append([line])
        pieces: list[list[Paragraph]] = []
        for group in groups:
            pieces.extend(self._pack(group))
        return pieces

    def _pack(self, lines: list[Paragraph], limit: int | None = None) -> list[list[Paragraph]]:
        """Greedy packing of lines up to the size limit; an over-long line is split by the text splitter."""
        limit = limit or self.max_tokens
        pieces: list[list[Paragraph]] = []
        current: list[Paragraph] = []
        for line in lines:
            if self._count_line(line.text) > self.max_tokens:
                if current:
                    pieces.append(current)
                    current = []
                pieces.extend([[Paragraph(line.number, part)] for part in self.splitter.split_text(line.text)])
                continue
            if current and self._tokens(current + [line]) > limit:
                pieces.append(current)
                current = []
            current.append(line)
        if current:
            pieces.append(current)
        return pieces

    def _tokens(self, lines: list[Paragraph]) -> int:
        # word-piece counts add up across lines (a line break is only whitespace), so count each line once
        return sum(self._count_line(p.text) for p in lines)

    def _count_line(self, text: str) -> int:
        if text not in self._counts:
            self._counts[text] = self.count(text)
        return self._counts[text]

    def _make(self, doc: SourceDoc, block: Block, lines: list[Paragraph], seen: dict[str, int]) -> Chunk:
        numbers = {p.number for p in lines}
        paragraph = numbers.pop() if len(numbers) == 1 else ""
        template = label_template(doc, block)
        # the most specific headings only: long repeated heading paths drown what the passage itself says. The
        # Treaties are headed by their citations (their full titles add only words every question shares); their
        # protocols and declarations, like acts, by their titles, which say what they are about ("Protocol (No 10) on
        # permanent structured cooperation ...")
        heads = [doc.citation if doc.source_id in TREATIES else doc.title, *block.headings[-2:]]
        if block.article:  # with the project's descriptive title where the text itself has none
            title = self.article_titles.get((doc.source_id, block.article))
            heads.append(f"Article {block.article}: {title}" if title else f"Article {block.article}")
        headings = " — ".join(h for h in heads if h)
        text = "\n".join(p.text for p in lines)
        url = ELI.format(eli=doc.eli, article=block.article) if doc.eli and block.article else doc.url
        key = f"{doc.source_id}\x1f{doc.kind}\x1f{template}\x1f{headings}\x1f{text}"
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
        seen[digest] = seen.get(digest, 0) + 1
        chunk_id = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
        return Chunk(
            id=chunk_id,
            source_id=doc.source_id,
            kind=doc.kind,
            tier=doc.tier,
            title=doc.title,
            label=render_label(template, paragraph),
            url=url,
            date=doc.date,
            article=block.article,
            paragraph=paragraph,
            headings=headings,
            text=text,
            sentences=split_sentences(text, [p.number for p in lines for _ in p.text.split("\n")]),
            label_base=template,
        )
