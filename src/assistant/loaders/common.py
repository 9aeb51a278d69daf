"""Helpers shared by the loaders: whitespace clean-up and numbered-paragraph detection."""

from __future__ import annotations

import re

from ..types import Block, DocEntry, Paragraph, SourceDoc

_SPACE = re.compile(r"[ \t\u00a0\u2009\u202f]+")
PARA_NUMBER = re.compile(r"^(\d{1,2})\.\s+(?=\S)")
# Lines that are only a list marker ("(a)", "1.", "—") are joined to the line after them.
MARKER_ONLY = re.compile(r"^(\(?[a-z0-9ivx]{1,5}\)|\d{1,2}\.|[—–\-•*])$")


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
