"""Helpers shared by the loaders: whitespace clean-up, numbered-paragraph detection and the nesting limit."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from ...types import Block, DocEntry, Paragraph, SourceDoc

T = TypeVar("T")

_SPACE = re.compile(r"[ \t\u00a0\u2009\u202f]+")
PARA_NUMBER = re.compile(r"^(\d{1,2})\.\s+(?=\S)")
# Lines that are only a list marker ("(a)", "1.", "—") are joined to the line after them.
MARKER_ONLY = re.compile(r"^(\(?[a-z0-9ivx]{1,5}\)|\d{1,2}\.|[—–\-•*])$")
# Elements inside one another in a markup file (libxml2's own default limit). The official files go 15 deep at most;
# a page nested thousands deep is refused before anything walks it (a recursive walk of 1,500 levels once aborted
# the whole ingest).
MAX_NESTING = 256


def clean(text: str) -> str:
    """Collapse runs of spaces (including non-breaking ones) and trim."""
    return _SPACE.sub(" ", text).strip()


def join_markers(lines: list[str]) -> list[str]:
    """Join marker-only lines ("(a)", "—") with the line that follows them."""
    out: list[str] = []
    pending = ""
    for line in lines:
        if MARKER_ONLY.match(line):
            pending = f"{pending} {line}".strip()
            continue
        out.append(f"{pending} {line}".strip() if pending else line)
        pending = ""
    if pending:
        out.append(pending)
    return out


def numbered(lines: list[str], start_number: str = "") -> tuple[Paragraph, ...]:
    """Give each line the number of the numbered paragraph it belongs to ("" before the first)."""
    number = start_number
    paras = []
    for line in lines:
        m = PARA_NUMBER.match(line)
        if m:
            number = m.group(1)
        paras.append(Paragraph(number, line))
    return tuple(paras)


def section(heading: str, lines: list[str]) -> Block:
    """An unnumbered section of a page or document under one heading."""
    return Block("", (heading,) if heading else (), tuple(Paragraph("", line) for line in lines), "section")


def make_doc(
    entry: DocEntry,
    blocks: list[Block],
    *,
    kind: str | None = None,
    tier: int | None = None,
    url: str | None = None,
    citation: str | None = None,
) -> SourceDoc:
    """Build a SourceDoc from a catalogue entry and its blocks."""
    return SourceDoc(
        source_id=entry.id,
        title=entry.title,
        citation=citation or entry.citation,
        kind=kind or entry.kind,
        tier=tier or entry.tier,
        date=entry.date,
        url=entry.url if url is None else url,
        path=entry.path,
        blocks=tuple(b for b in blocks if b.paragraphs),
        eli=entry.eli,
    )


def in_scope(article: str, ranges: tuple[str, ...]) -> bool:
    """Whether an article number falls in a catalogue scope such as ("205-222", "275") or ("all",)."""
    if "all" in ranges:
        return True
    if not article.isdigit():
        return False
    n = int(article)
    for r in ranges:
        lo, _, hi = r.partition("-")
        if int(lo) <= n <= int(hi or lo):
            return True
    return False


def too_deep() -> str:
    """The reason a file nested too deeply is skipped."""
    return f"nested too deeply: more than {MAX_NESTING} elements inside one another"


def deepest(children: Callable[[T], Iterable[T]], root: T, limit: int = MAX_NESTING) -> int:
    """How deep the tree under `root` goes, counted without recursion and stopping once past `limit`."""
    stack, most = [(root, 1)], 0
    while stack:
        node, depth = stack.pop()
        most = max(most, depth)
        if most > limit:
            break
        stack.extend((child, depth + 1) for child in children(node))
    return most
