"""Publications Office XHTML (the consolidated treaties and Official Journal acts, with or without `oj-` classes)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from ...errors import DocumentError
from ...types import Block, DocEntry, SourceDoc
from .common import MAX_NESTING, clean, deepest, in_scope, join_markers, make_doc, numbered, too_deep

_HEADING_LEVELS = ("PART", "TITLE", "CHAPTER", "SECTION")
_SKIP_CLASSES = {"note", "hd-date", "hd-lg", "hd-ti", "hd-oj", "signatory", "final", "doc-end", "tbl-num"}
_ARTICLE = re.compile(r"^Article (\d+[a-z]?)$")


@dataclass
class Line:
    """One visual line of the page: its (prefix-free) class and text."""

    cls: str
    text: str


def _class(el) -> str:
    return " ".join(c.removeprefix("oj-") for c in (el.get("class") or "").split())


def _text(p) -> str:
    """Text of a paragraph without its footnote markers (spans whose class mentions "note")."""
    parts: list[str] = []

    def walk(el) -> None:
        if el is not p and (not isinstance(el.tag, str) or "note" in (el.get("class") or "")):
            parts.append(el.tail or "")
            return
        parts.append(el.text or "")
        for child in el:
            walk(child)
        if el is not p:
            parts.append(el.tail or "")

    walk(p)
    return clean("".join(parts))


def parse_lines(raw: bytes) -> list[Line]:
    """Parse the XHTML strictly and return its lines in reading order; table rows become one line."""
    try:
        root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
    except etree.XMLSyntaxError as exc:
        raise DocumentError(f"malformed XHTML: {exc}") from None
    if deepest(list, root) > MAX_NESTING:
        raise DocumentError(too_deep())
    lines: list[Line] = []
    last_row = None
    for p in root.iter("{*}p"):
        cls = _class(p)
        if set(cls.split()) & _SKIP_CLASSES:
            continue
        text = _text(p)
        if not text:
            continue
        row = next((a for a in p.iterancestors("{*}tr")), None)
        if row is not None and row is last_row and lines:
            lines[-1].text = f"{lines[-1].text} {text}"
            continue
        last_row = row
        lines.append(Line(cls.split()[0] if cls else "normal", text))
    return lines


def _segment(lines: list[Line], starts_at: str) -> list[Line]:
    """The lines of one document inside a multi-document file, from its opening heading to the next sibling."""
    if not starts_at:
        return lines
    try:
        start = next(i for i, ln in enumerate(lines) if ln.text == starts_at)
    except StopIteration:
        raise DocumentError(f"heading {starts_at!r} not found") from None
    kind = lines[start].cls
    end = len(lines)
    in_title = True
    for i in range(start + 1, len(lines)):
        cls = lines[i].cls
        if cls == "doc-ti" and in_title:
            continue
        in_title = False
        if cls == "doc-ti" or (kind == "ti-grseq-1" and cls == "ti-grseq-1"):
            end = i
            break
    return lines[start:end]


def _blocks(lines: list[Line], entry: DocEntry) -> list[Block]:
    headings: dict[str, str] = {}
    level = ""
    blocks: list[Block] = []
    article, part = "", "preamble"
    subtitle: list[str] = []
    body: list[str] = []

    def flush() -> None:
        if not body:
            return
        keep = (
            (part == "article" and in_scope(article, entry.articles))
            or (part == "preamble" and "all" in entry.articles)
            or (part == "annex" and entry.annexes)
        )
        if keep:
            heads = tuple(headings[k] for k in _HEADING_LEVELS if k in headings) + tuple(subtitle)
            blocks.append(Block(article, heads, numbered(join_markers(body)), part))
        body.clear()

    for ln in lines:
        cls, text = ln.cls, ln.text
        m = _ARTICLE.match(text) if cls == "ti-art" else None
        if m:
            flush()
            article, part, subtitle = m.group(1), "article", []
        elif cls == "sti-art":
            if not text.startswith("(ex Article"):
                subtitle.append(text)
        elif cls == "ti-section-1":
            level = text.split(" ")[0].upper()
            if level in _HEADING_LEVELS:
                flush()
                for k in _HEADING_LEVELS[_HEADING_LEVELS.index(level) :]:
                    headings.pop(k, None)
                headings[level] = text
        elif cls == "ti-section-2" and level in headings:
            headings[level] = f"{headings[level]}: {text}"
        elif cls == "doc-ti" and part != "preamble" and text.upper().startswith("ANNEX"):
            flush()
            article, part, subtitle = "", "annex", [text]
        elif cls in ("doc-ti", "ti-grseq-1") and part == "preamble" and not body:
            continue  # the document's own title lines
        elif text.startswith("Done at ") and part == "article":
            flush()
            part = "closing"
        elif part != "closing":
            body.append(text)
    flush()
    return blocks


def load(raw: bytes, entries: list[DocEntry]) -> list[SourceDoc]:
    """Documents from one Publications Office XHTML file (one per catalogue entry sharing it)."""
    lines = parse_lines(raw)
    return [make_doc(e, _blocks(_segment(lines, e.starts_at), e)) for e in entries]
