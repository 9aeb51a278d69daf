"""Idempotent, incremental, crash-safe ingest: corpus files -> chunks -> vectors -> a new generation, switched atomically."""

from __future__ import annotations

import fcntl
import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .catalogue import drop_in_entries, load_article_titles, load_catalogue, load_manifest
from .chunking import Chunker
from .config import Settings
from .embedding_cache import EmbeddingCache
from .embeddings import Embedder
from .errors import CorpusError, DocumentError
from .index import index_root, read_manifest, remove_stale, save_generation, write_manifest
from .lexical import LexicalIndex
from .loaders import load_file, read_verified
from .store import VectorStore, make_client
from .types import Chunk, DocEntry, SourceDoc


@dataclass
class IngestReport:
    """What an ingest did: documents, chunks per source, files skipped and why, and what changed."""

    documents: int = 0
    chunks: int = 0
    per_source: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    embedded: int = 0
    added: int = 0
    removed: int = 0
    unchanged: bool = False
    generation: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {**self.__dict__, "skipped": [{"path": p, "reason": r} for p, r in self.skipped]}


def load_corpus(settings: Settings) -> tuple[list[SourceDoc], list[tuple[str, str]]]:
    """Every catalogued and dropped-in document that loads, plus (path, reason) for each file skipped."""
    corpus = settings.corpus_dir
    if not corpus.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus} (set CFSP_CORPUS_DIR)")
    entries = load_catalogue(settings.catalogue_path)
    entries += drop_in_entries(corpus, {e.path for e in entries})
    checksums = load_manifest(corpus) if settings.verify_checksums else {}
    by_path: dict[str, list[DocEntry]] = defaultdict(list)
    for entry in entries:
        by_path[entry.path].append(entry)
    docs: list[SourceDoc] = []
    skipped: list[tuple[str, str]] = []
    for path, group in by_path.items():
        file = corpus / path
        if not file.is_file():
            skipped.append((path, "file not found in the corpus folder"))
            continue
        try:
            docs.extend(load_file(read_verified(file, checksums.get(path)), group))
        except DocumentError as exc:
            skipped.append((path, str(exc)))
    return docs, skipped


@contextmanager
def _ingest_lock(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CorpusError("another ingest is running on this data folder") from None
        yield


def fingerprint(settings: Settings, chunks: list[Chunk]) -> str:
    """Identity of an index's content: model plus the sorted content-derived chunk ids."""
    digest = hashlib.sha256(f"{settings.embedding_provider}\x1f{settings.embedding_model}".encode())
    for cid in sorted(c.id for c in chunks):
        digest.update(cid.encode())
    return digest.hexdigest()


def _metadata(chunk: Chunk) -> dict:
    return {"source_id": chunk.source_id, "article": chunk.article, "paragraph": chunk.paragraph, "kind": chunk.kind,
            "tier": chunk.tier, "title": chunk.title, "label": chunk.label, "url": chunk.url, "date": chunk.date}


def ingest(settings: Settings, embedder: Embedder, progress: Callable[[str, int, int], None] | None = None,
           before_switch: Callable[[], None] | None = None) -> IngestReport:
    """Bring the index in line with the corpus; the previously served index stays in place until the switch."""
    started = time.perf_counter()
    root = index_root(settings)
    with _ingest_lock(root):
        docs, skipped = load_corpus(settings)
        if not docs:
            raise CorpusError(f"nothing to index in {settings.corpus_dir}: every file was skipped")
        chunks = Chunker(embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap,
                         load_article_titles(settings.article_titles_path)).chunk(docs)
        report = IngestReport(documents=len(docs), chunks=len(chunks), skipped=skipped,
                              per_source=dict(sorted(Counter(c.source_id for c in chunks).items())))
        previous = read_manifest(settings)
        client = make_client(settings)
        fp = fingerprint(settings, chunks)
        if previous and previous.get("fingerprint") == fp and _serving(client, previous, len(chunks)):
            report.unchanged, report.generation = True, previous["generation"]
            report.seconds = time.perf_counter() - started
            return report
        old_ids = set(previous.get("chunk_ids", [])) if previous else set()
        new_ids = [c.id for c in chunks]
        report.added = len(set(new_ids) - old_ids)
        report.removed = len(old_ids - set(new_ids))

        remove_stale(settings, client, keep=previous["generation"] if previous else None)
        cache = EmbeddingCache(settings.embedding_cache or settings.data_dir / "embeddings.sqlite", embedder.dim)
        try:
            done = 0

            def tick(n: int) -> None:
                nonlocal done
                done += n
                if progress:
                    progress("embedding", done, len(chunks))

            def compute(part: list[Chunk]):
                spans = [[(c.body_offset + s.start, c.body_offset + s.end) for s in c.sentences] for c in part]
                return embedder.embed_passages([c.embed_text for c in part], spans)

            vectors, report.embedded = cache.embed(chunks, embedder.space, compute, progress=tick)
        finally:
            cache.close()

        generation = datetime.now(timezone.utc).strftime("g%Y%m%d%H%M%S") + f"-{fp[:8]}"
        store = VectorStore(client, f"{settings.collection_prefix}-{generation}")
        store.create()
        if progress:
            progress("storing", 0, len(chunks))
        passages = np.stack([vectors[c.id][0] for c in chunks])
        store.add(new_ids, passages, [_metadata(c) for c in chunks])
        save_generation(root / generation, chunks, passages, [vectors[c.id][1] for c in chunks],
                        LexicalIndex.build([c.embed_text for c in chunks]))
        if before_switch:
            before_switch()
        write_manifest(settings, {
            "generation": generation, "collection": store.name, "fingerprint": fp,
            "provider": settings.embedding_provider, "model": embedder.model_id, "dim": embedder.dim,
            "chunks": len(chunks), "documents": len(docs), "built_at": datetime.now(timezone.utc).isoformat(),
            "sources": [{"source_id": d.source_id, "kind": d.kind, "title": d.title, "citation": d.citation,
                         "date": d.date, "url": d.url, "tier": d.tier, "path": d.path} for d in docs],
            "per_source": report.per_source, "skipped": [list(s) for s in skipped], "chunk_ids": new_ids,
        })
        remove_stale(settings, client, keep=generation)
        report.generation = generation
        report.seconds = time.perf_counter() - started
        return report


def _serving(client, manifest: dict, expected: int) -> bool:
    """Whether the manifest's collection exists with the expected number of vectors."""
    try:
        return VectorStore(client, manifest["collection"]).count() == expected
    except Exception:  # missing collection: rebuild
        return False
