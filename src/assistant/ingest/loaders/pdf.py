"""PDF files dropped into the corpus folder (pypdf); encrypted or image-only PDFs are refused."""

from __future__ import annotations

import io

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from ...errors import DocumentError
from ...types import DocEntry, SourceDoc
from .common import clean, make_doc, section


def load(raw: bytes, entries: list[DocEntry]) -> list[SourceDoc]:
    """One block per page, one line per text line."""
    if not raw:
        raise DocumentError("empty PDF file")
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise DocumentError("encrypted PDF: cannot read its text")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise DocumentError(f"unreadable PDF: {exc}") from None
    entry = entries[0]
    blocks = []
    for number, text in enumerate(pages, 1):
        lines = [clean(ln) for ln in text.splitlines() if clean(ln)]
        if lines:
            blocks.append(section(f"{entry.title}, page {number}", lines))
    if not blocks:
        raise DocumentError("PDF has no extractable text (scanned image?)")
    return [make_doc(entry, blocks)]
