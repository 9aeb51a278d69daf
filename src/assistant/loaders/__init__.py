"""Loaders, one per corpus format, turning files into `SourceDoc`s; `load_file` picks the right one."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from ..errors import DocumentError
from ..types import DocEntry, SourceDoc
from . import eurlex_sum, html, pdf, text, xhtml

# format name -> function(raw bytes, entries sharing that file) -> documents
LOADERS: dict[str, Callable[[bytes, list[DocEntry]], list[SourceDoc]]] = {
    "treaty-xhtml": xhtml.load,
    "act-xhtml": xhtml.load,
    "eurlex-sum": eurlex_sum.load,
    "text": text.load,
    "html": html.load,
    "pdf": pdf.load,
}


def sha256_bytes(raw: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(raw).hexdigest()


def read_verified(path: Path, expected_sha256: str | None) -> bytes:
    """Read a corpus file, refusing it when its checksum differs from the manifest's."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror or exc}") from None
    if expected_sha256 and sha256_bytes(raw) != expected_sha256:
        raise DocumentError("sha256 does not match MANIFEST.tsv (file changed or corrupted)")
    return raw


def load_file(raw: bytes, entries: list[DocEntry]) -> list[SourceDoc]:
    """Parse one file's bytes into the documents its catalogue entries describe."""
    fmt = entries[0].format
    try:
        loader = LOADERS[fmt]
    except KeyError:
        raise DocumentError(f"unknown format {fmt!r}; known: {', '.join(LOADERS)}") from None
    docs = loader(raw, entries)
    empty = [d.source_id for d in docs if not d.blocks]
    if empty:
        raise DocumentError(f"no text found for {', '.join(empty)}")
    return docs
