"""Plain text and Markdown pages, with web-page furniture ("Skip to content", "Read also:") removed."""

from __future__ import annotations

import re

from ...errors import DocumentError
from ...types import DocEntry, SourceDoc
from .common import clean, make_doc, section

_FURNITURE = re.compile(
    r"^(skip to (main )?content|read also:?|share( this page)?|print|back to top|menu|search|cookies?.*)$", re.I
)
_MD_HEADING = re.compile(r"^#{1,6}\s+")


def decode(raw: bytes) -> str:
    """Decode UTF-8 text (with or without BOM), refusing binary data."""
    if b"\x00" in raw[:4096]:
        raise DocumentError("binary data where text was expected")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None


def page_lines(text: str) -> list[str]:
    """Non-empty lines without page furniture, without a line repeated right after itself."""
    out: list[str] = []
    for raw_line in text.splitlines():
        line = clean(_MD_HEADING.sub("", raw_line)).strip("*_ ")
        if not line or _FURNITURE.match(line) or (out and out[-1] == line):
            continue
        out.append(line)
    return out


def load(raw: bytes, entries: list[DocEntry]) -> list[SourceDoc]:
    """One document per entry: the page's paragraphs in one block under the page title."""
    lines = page_lines(decode(raw))
    if not lines:
        raise DocumentError("no text in file")
    entry = entries[0]
    # short lines without a final full stop at the top are page titles and navigation, not content
    body_start = next((i for i, ln in enumerate(lines) if len(ln) > 120 or ln.endswith(".")), 0)
    heading = lines[0] if body_start else entry.title
    block = section(heading, lines[body_start:])
    return [make_doc(entry, [block])]
