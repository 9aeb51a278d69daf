"""Every quotable provision of the corpus with its stable id: what training questions are written against and tied to.

Built from the same loaders, chunker and provision splitter as ingest, without embedding anything, so the list can be
made (and training data checked against it) before an index exists.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..config import Settings
from ..embedding.embedder import packaged_model_dir
from ..ingest.build import load_corpus
from ..ingest.catalogue import load_article_titles
from ..ingest.provisions import split


@dataclass(frozen=True)
class ProvisionEntry:
    """One provision as a writer of training questions sees it."""

    id: str
    source_id: str
    article: str
    paragraph: str
    label: str
    headings: str
    text: str
    operative: bool


def list_provisions(settings: Settings) -> list[ProvisionEntry]:
    """The corpus's provisions in reading order (headings and lists of links left out, as answers leave them)."""
    from tokenizers import Tokenizer

    from ..ingest.chunking import Chunker, render_label

    tokenizer = Tokenizer.from_file(str(packaged_model_dir(settings.models_dir) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    docs, _ = load_corpus(settings)
    chunks = Chunker(
        count, settings.chunk_tokens, settings.chunk_overlap, load_article_titles(settings.article_titles_path)
    ).chunk(docs)
    out: dict[str, ProvisionEntry] = {}
    for chunk in chunks:
        for p in split(chunk):
            if p.kind == "heading":
                continue
            label = render_label(chunk.label_base, p.paragraph) if chunk.label_base else chunk.label
            entry = ProvisionEntry(
                p.id, chunk.source_id, chunk.article, p.paragraph, label, chunk.headings, p.text, p.operative
            )
            out.setdefault(entry.id, entry)  # an overlapping split repeats a provision: listed once
    return list(out.values())


def write_listing(entries: list[ProvisionEntry], path: Path) -> None:
    """One JSON object per line."""
    with path.open("w", encoding="utf-8") as fh:
        for e in entries:
            fh.write(json.dumps(asdict(e), ensure_ascii=False) + "\n")


def read_listing(path: Path) -> list[ProvisionEntry]:
    """Inverse of write_listing."""
    with path.open(encoding="utf-8") as fh:
        return [ProvisionEntry(**json.loads(line)) for line in fh if line.strip()]
