"""HTML pages dropped into the corpus folder (BeautifulSoup with lxml)."""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag

from ...errors import DocumentError
from ...types import Block, DocEntry, SourceDoc
from .common import MAX_NESTING, clean, deepest, make_doc, section, too_deep
from .text import decode

_DROP = ("script", "style", "nav", "header", "footer", "noscript", "form", "aside")


def load(raw: bytes, entries: list[DocEntry]) -> list[SourceDoc]:
    """One block per section heading (h1-h3), paragraphs and list items as lines."""
    soup = BeautifulSoup(decode(raw), "lxml")
    top: Tag = soup
    if deepest(lambda tag: [c for c in tag.contents if isinstance(c, Tag)], top) > MAX_NESTING:
        raise DocumentError(too_deep())
    for tag in soup(_DROP):
        tag.decompose()
    entry = entries[0]
    title = clean(soup.title.get_text()) if soup.title and soup.title.get_text(strip=True) else entry.title
    blocks: list[Block] = []
    heading = title
    lines: list[str] = []
    for el in soup.find_all(["h1", "h2", "h3", "p", "li", "td"]):
        text = clean(el.get_text(" "))
        if not text:
            continue
        if el.name in ("h1", "h2", "h3"):
            if lines:
                blocks.append(section(heading, lines))
            heading, lines = text, []
        else:
            lines.append(text)
    if lines:
        blocks.append(section(heading, lines))
    if not blocks:
        raise DocumentError("no text in HTML page")
    return [make_doc(entry, blocks, citation=entry.citation if entry.citation != entry.path.split("/")[-1] else title)]
