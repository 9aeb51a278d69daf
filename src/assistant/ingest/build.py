"""Idempotent, incremental, crash-safe ingest: corpus files -> chunks -> vectors -> a generation switched in at once."""

from __future__ import annotations

import fcntl
import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..config import Settings
from ..embedding.adapter import model_identity
from ..embedding.cache import EmbeddingCache
from ..embedding.embedder import Embedder
from ..errors import CorpusError, DataDirError, DocumentError, IndexDamagedError, IndexUnusableError
from ..index.generations import (
    INDEX_FORMAT,
    IndexedSource,
    IndexManifest,
    file_digests,
    generation_dir,
    index_root,
    load_index,
    open_store,
    read_manifest,
    save_generation,
    vector_family,
    write_manifest,
)
from ..index.leases import remove_stale
from ..index.lexical import LexicalIndex
from ..index.vocabulary import Vocabulary
from ..permissions import private_folder
from ..types import Chunk, DocEntry, SourceDoc
from .catalogue import drop_in_entries, load_article_titles, load_catalogue, load_checksums
from .chunking import Chunker
from .loaders import load_file, read_verified


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
    repaired: str = ""  # what was wrong with the served index when the ingest had to rebuild it
    retired: list[str] = field(default_factory=list)  # old generations deleted (none still in use)
    generation: str = ""
    seconds: float = 0.0
    # seconds per stage (read, chunk, embed, vector store, lexical, write): where a cold ingest's time goes
    stages: dict[str, float] = field(default_factory=dict)

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
    checksums = load_checksums(corpus) if settings.verify_checksums else {}
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
            docs.extend(load_file(read_verified(file, checksums.get(path), max_bytes=settings.max_file_bytes), group))
        except DocumentError as exc:
            skipped.append((path, str(exc)))
    return docs, skipped


@contextmanager
def _ingest_lock(root: Path) -> Iterator[None]:
    try:
        private_folder(root)  # the data folder and its index: the owner's only
        fh = (root / ".lock").open("w")
    except OSError as exc:
        raise DataDirError(
            f"cannot write to the data folder {root.parent} ({exc.strerror or exc}): set CFSP_DATA_DIR "
            "to a writable folder"
        ) from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CorpusError("another ingest is running on this data folder") from None
        yield


def fingerprint(settings: Settings, chunks: list[Chunk], backend: str = "torch") -> str:
    """Identity of an index's content: format, provider, model, the backend's vector family (torch and onnx give
    the same vectors, so switching between them is no change), and each chunk's content-derived id and sentence
    spans (in id order), so a change in how text is split is a change of index."""
    # fp32 keeps the name indexes were stamped with before the ONNX backends, so those stay current
    family = "torch" if vector_family(backend) == "fp32" else vector_family(backend)
    digest = hashlib.sha256(
        f"{INDEX_FORMAT}\x1f{settings.embedding_provider}\x1f{model_identity(settings)}\x1f{family}".encode()
    )
    for chunk in sorted(chunks, key=lambda c: c.id):
        digest.update(chunk.id.encode())
        digest.update(",".join(f"{s.start}-{s.end}" for s in chunk.sentences).encode())
    return digest.hexdigest()


def _metadata(chunk: Chunk) -> dict:
    return {
        "source_id": chunk.source_id,
        "article": chunk.article,
        "paragraph": chunk.paragraph,
        "kind": chunk.kind,
        "tier": chunk.tier,
        "title": chunk.title,
        "label": chunk.label,
        "url": chunk.url,
        "date": chunk.date,
    }


class Stopwatch:
    """Adds the seconds since its last call (or its creation) to `stages` under a name."""

    def __init__(self, stages: dict[str, float]):
        self.stages = stages
        self.last = time.perf_counter()

    def __call__(self, stage: str) -> None:
        """Charge the time since the last lap to `stage`."""
        now = time.perf_counter()
        self.stages[stage] = round(self.stages.get(stage, 0.0) + now - self.last, 3)
        self.last = now


def served_problem(settings: Settings, previous: IndexManifest, backend: str) -> str | None:
    """Why the served generation cannot serve as it is (None when it can): every part is opened and checked."""
    try:
        load_index(settings, previous, backend).close()
    except IndexUnusableError as exc:
        return exc.problem
    return None


def ingest(
    settings: Settings,
    embedder: Embedder,
    progress: Callable[[str, int, int], None] | None = None,
    before_switch: Callable[[], None] | None = None,
    rebuild: bool = False,
) -> IngestReport:
    """Bring the index in line with the corpus; the previously served index stays in place until the switch.
    A served index that is damaged (files missing or cut short, a corrupt manifest or vector store) is rebuilt;
    `rebuild` forces a fresh generation even when nothing changed."""
    started = time.perf_counter()
    stages: dict[str, float] = {}
    lap = Stopwatch(stages)
    root = index_root(settings)
    backend = getattr(embedder, "backend", "torch")
    with _ingest_lock(root):
        docs, skipped = load_corpus(settings)
        if not docs:
            raise CorpusError(f"nothing to index in {settings.corpus_dir}: every file was skipped")
        lap("read")
        chunks = Chunker(
            embedder.count_tokens,
            settings.chunk_tokens,
            settings.chunk_overlap,
            load_article_titles(settings.article_titles_path),
        ).chunk(docs)
        lap("chunk")
        report = IngestReport(
            documents=len(docs),
            chunks=len(chunks),
            skipped=skipped,
            per_source=dict(sorted(Counter(c.source_id for c in chunks).items())),
            stages=stages,
        )
        try:
            previous = read_manifest(settings)
        except IndexDamagedError as exc:
            previous, report.repaired = None, exc.problem
        fp = fingerprint(settings, chunks, backend)
        if previous is not None and previous.fingerprint == fp and not rebuild:
            problem = served_problem(settings, previous, backend)
            if problem is None:
                report.retired = remove_stale(settings, keep={previous.generation})  # generations servers let go
                report.unchanged, report.generation = True, previous.generation
                lap("compare")
                report.seconds = time.perf_counter() - started
                return report
            report.repaired = problem
        old_ids = set(previous.chunk_ids) if previous else set()
        new_ids = [c.id for c in chunks]
        report.added = len(set(new_ids) - old_ids)
        report.removed = len(old_ids - set(new_ids))
        lap("compare")  # with the served index: fingerprint, manifest, the served generation checked

        # leftovers of interrupted builds go; the served generation and any still leased stay
        remove_stale(settings, keep={previous.generation} if previous else set())
        cache = EmbeddingCache(settings.embedding_cache or settings.data_dir / "embeddings.sqlite", embedder.dim)
        try:
            done = 0

            def tick(n: int) -> None:
                nonlocal done
                done += n
                if progress:
                    progress("embedding", done, len(chunks))

            def compute(part: list[Chunk]) -> tuple[np.ndarray, list[np.ndarray]]:
                spans = [[(c.body_offset + s.start, c.body_offset + s.end) for s in c.sentences] for c in part]
                return embedder.embed_passages([c.embed_text for c in part], spans)

            vectors, report.embedded = cache.embed(
                chunks, embedder.space, compute, progress=tick, length=lambda c: embedder.count_tokens(c.embed_text)
            )
        finally:
            cache.close()
        lap("embed")

        generation = datetime.now(timezone.utc).strftime("g%Y%m%d%H%M%S%f") + f"-{fp[:8]}"
        manifest = IndexManifest(
            generation=generation,
            collection=f"{settings.collection_prefix}-{generation}",
            fingerprint=fp,
            provider=settings.embedding_provider,
            model=embedder.model_id,
            dim=embedder.dim,
            chunks=len(chunks),
            documents=len(docs),
            built_at=datetime.now(timezone.utc).isoformat(),
            sources=tuple(
                IndexedSource(d.source_id, d.kind, d.title, d.citation, d.date, d.url, d.tier, d.path) for d in docs
            ),
            per_source=report.per_source,
            skipped=tuple(skipped),
            chunk_ids=tuple(new_ids),
            backend=backend,
        )
        if progress:
            progress("storing", 0, len(chunks))
        passages = np.stack([vectors[c.id][0] for c in chunks])
        store = open_store(settings, manifest, create=True)
        try:
            store.create()
            store.add(new_ids, passages, [_metadata(c) for c in chunks])
        finally:
            store.close()
        lap("vector store")
        texts = [c.embed_text for c in chunks]
        lexical, vocabulary = LexicalIndex.build(texts), Vocabulary.build(texts)
        lap("lexical")
        folder = generation_dir(settings, generation)
        save_generation(
            folder,
            chunks,
            passages,
            [vectors[c.id][1] for c in chunks],
            lexical,
            vocabulary,
        )
        manifest = replace(manifest, files=file_digests(folder))  # checked by every load: ingest and start-up
        if before_switch:
            before_switch()
        write_manifest(settings, manifest)
        # the generation just replaced stays while a running server still holds a lease on it
        report.retired = remove_stale(settings, keep={generation})
        lap("write")
        report.generation = generation
        report.seconds = time.perf_counter() - started
        return report
