"""Loaders, one per corpus format, turning files into `SourceDoc`s; `load_file` picks the right one."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from ...errors import DocumentError
from ...types import DocEntry, SourceDoc
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


def read_verified(path: Path, expected_sha256: str | None, *, max_bytes: int | None = None) -> bytes:
    """Read a corpus file, refusing it when it is larger than `max_bytes` or its checksum differs from MANIFEST.tsv."""
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if max_bytes is not None and size > max_bytes:  # refused before reading: one dump could fill the memory
                raise DocumentError(_too_large(size, max_bytes))
            raw = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror or exc}") from None
    if max_bytes is not None and len(raw) > max_bytes:  # it grew while being read
        raise DocumentError(_too_large(len(raw), max_bytes))
    if expected_sha256 and sha256_bytes(raw) != expected_sha256:
        raise DocumentError("sha256 does not match MANIFEST.tsv (file changed or corrupted)")
    return raw


def _too_large(size: int, limit: int) -> str:
    return f"the file is {size:,} bytes; the limit is {limit:,} bytes (CFSP_MAX_FILE_BYTES)"


def load_file(raw: bytes, entries: list[DocEntry]) -> list[SourceDoc]:
    """Parse one file's bytes into the documents its catalogue entries describe."""
    fmt = entries[0].format
    try:
        loader = LOADERS[fmt]
    except KeyError:
        raise DocumentError(f"unknown format {fmt!r}; known: {', '.join(LOADERS)}") from None
    try:
        docs = loader(raw, entries)
    except RecursionError:  # a parser's own recursion on a shape no loader expected: this file, not the ingest
        raise DocumentError("nested too deeply to be parsed") from None
    empty = [d.source_id for d in docs if not d.blocks]
    if empty:
        raise DocumentError(f"no text found for {', '.join(empty)}")
    return docs
