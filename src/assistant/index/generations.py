"""The served index: a manifest (`current.json`) naming the active generation, and one self-contained folder per
generation holding its chunks, vectors for scoring, BM25 index and (embedded mode) its own Chroma database.

Generations are immutable once written. An ingest builds a new one beside the served one and switches the manifest
by an atomic rename; servers notice the new manifest and move over by themselves (`Assistant.refresh`). A process
serving a generation holds a *lease* on it (a small file it keeps touching), and an old generation is deleted only
when no fresh lease holds it, so an ingest never pulls an index from under a running server.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import BACKEND_FAMILIES, Settings
from ..embedding.adapter import model_identity
from ..errors import DataDirError, IndexDamagedError, IndexMismatchError, IndexMissingError
from ..types import Chunk
from .lexical import LexicalIndex
from .store import VectorStore, close_client, make_client
from .vocabulary import Vocabulary

# 4: dense graph built on one thread and searched wide (store.HNSW); 3: with the vocabulary of the texts; 2: one folder
# per generation with its own Chroma database; 1: shared Chroma
INDEX_FORMAT = 4
MANIFEST_FILE = "current.json"
REBUILD = "re-run `cfsp-assistant ingest` to rebuild it"
FILES = ("chunks.jsonl", "passages.npy", "sentences.npy", "sentence_offsets.npy")


def index_root(settings: Settings) -> Path:
    """Folder holding the manifest, the leases and one sub-folder per generation."""
    return settings.data_dir / "index"


def generation_dir(settings: Settings, generation: str) -> Path:
    """The folder of one generation."""
    return index_root(settings) / generation


@dataclass(frozen=True)
class IndexedSource:
    """One indexed document as the manifest lists it (what `sources` shows)."""

    source_id: str
    kind: str
    title: str
    citation: str
    date: str
    url: str
    tier: int
    path: str


@dataclass(frozen=True)
class IndexManifest:
    """`current.json`: which generation is served and what it was built from and with."""

    generation: str
    collection: str
    fingerprint: str
    provider: str
    model: str
    dim: int
    chunks: int
    documents: int
    built_at: str
    sources: tuple[IndexedSource, ...] = ()
    per_source: dict[str, int] = field(default_factory=dict)
    skipped: tuple[tuple[str, str], ...] = ()
    chunk_ids: tuple[str, ...] = ()
    backend: str = "torch"
    format: int = INDEX_FORMAT
    files: dict[str, str] = field(default_factory=dict)  # sha256 of each file the ingest wrote (Chroma's aside)

    def to_json(self) -> str:
        """The file's text."""
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexManifest:
        """Parse the file's JSON; KeyError/TypeError/ValueError for a manifest that is not one."""
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        names = set(cls.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in names}
        values["sources"] = tuple(IndexedSource(**s) for s in values.get("sources", ()))
        values["skipped"] = tuple((str(p), str(r)) for p, r in values.get("skipped", ()))
        values["chunk_ids"] = tuple(str(c) for c in values.get("chunk_ids", ()))
        values["per_source"] = {str(k): int(v) for k, v in dict(values.get("per_source", {})).items()}
        values["files"] = {str(k): str(v) for k, v in dict(values.get("files", {})).items()}
        values.setdefault("format", 1)  # manifests before the format field had one shared Chroma folder
        manifest = cls(**values)
        if not manifest.generation or not isinstance(manifest.dim, int) or not isinstance(manifest.chunks, int):
            raise ValueError("generation, dim or chunks missing")
        return manifest

    def document_urls(self) -> dict[tuple[str, str], str]:
        """Each document's official page by (source id, kind)."""
        return {(s.source_id, s.kind): s.url for s in self.sources if s.url}


def read_manifest(settings: Settings) -> IndexManifest | None:
    """The active generation's manifest; None when nothing has been built; IndexDamagedError when unreadable."""
    path = index_root(settings) / MANIFEST_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexDamagedError(f"cannot read the index manifest {path} ({_reason(exc)})") from None
    try:
        return IndexManifest.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexDamagedError(f"the index manifest {path} is corrupt ({_reason(exc)})") from None


def write_manifest(settings: Settings, manifest: IndexManifest) -> None:
    """Switch the served generation atomically (write a temporary file, then rename over the old one)."""
    root = index_root(settings)
    tmp = root / f".{MANIFEST_FILE}.{os.getpid()}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(manifest.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, root / MANIFEST_FILE)


def manifest_stamp(settings: Settings) -> tuple[int, int, int] | None:
    """A cheap identity of the manifest file (inode, size, mtime): changes whenever an ingest switches."""
    try:
        st = (index_root(settings) / MANIFEST_FILE).stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def check_compatible(settings: Settings, manifest: IndexManifest, backend: str | None = None) -> None:
    """IndexMismatchError when the index was built by another format, provider or model, or by a backend whose
    vectors differ from the asked one's."""
    if manifest.format != INDEX_FORMAT:
        raise IndexMismatchError(
            f"the index in {settings.data_dir} was built by an older version of the assistant", REBUILD
        )
    model = model_identity(settings)
    if manifest.model != model or manifest.provider != settings.embedding_provider:
        raise IndexMismatchError(
            f"the index was built with embedding model {manifest.model!r} ({manifest.provider}), but the settings "
            f"ask for {model!r} ({settings.embedding_provider})",
            REBUILD,
        )
    built, asked = vector_family(manifest.backend), vector_family(backend) if backend is not None else None
    if asked is not None and built != asked:  # torch and onnx give the same vectors: either serves the other's index
        raise IndexMismatchError(
            f"the index was built with the {manifest.backend!r} embedding backend ({built} vectors), but the "
            f"settings ask for {backend!r} ({asked} vectors)",
            f"{REBUILD}, or set CFSP_EMBEDDING_BACKEND={manifest.backend}",
        )


def vector_family(backend: str) -> str:
    """The kind of vectors a backend gives (fp32 for torch and onnx, int8 for onnx-int8); an unknown name is its
    own family."""
    return BACKEND_FAMILIES.get(backend, backend)


def save_generation(
    folder: Path,
    chunks: list[Chunk],
    passage_vectors: np.ndarray,
    sentence_vectors: list[np.ndarray],
    lexical: LexicalIndex,
    vocabulary: Vocabulary,
) -> None:
    """Write a generation's chunk records, passage and sentence vectors (for scoring), BM25 index and vocabulary."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "chunks.jsonl").open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
    stacked = np.concatenate(sentence_vectors) if sentence_vectors else np.zeros((0, 1), np.float32)
    np.save(folder / "passages.npy", passage_vectors.astype(np.float16))
    np.save(folder / "sentences.npy", stacked.astype(np.float16))
    np.save(folder / "sentence_offsets.npy", np.cumsum([0] + [len(s) for s in sentence_vectors]))
    lexical.save(folder / "bm25")
    vocabulary.save(folder)


def file_digests(folder: Path) -> dict[str, str]:
    """sha256 of every file of a generation folder but Chroma's (its database changes when it is opened), by path
    relative to the folder."""
    digests = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and relative.parts[0] != "chroma":
            digests[relative.as_posix()] = _sha256(path)
    return digests


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def changed_file(folder: Path, expected: dict[str, str]) -> str | None:
    """The first file of a generation that is missing or whose content differs from what the ingest recorded, as
    a problem; None when all match. (Vectors overwritten with the same shape once changed answers unnoticed.)"""
    for name, digest in sorted(expected.items()):
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if _sha256(path) != digest:
            return f"{name} does not match the checksum the ingest recorded"
    return None


def chroma_dir(settings: Settings, generation: str) -> Path:
    """Where a generation's embedded Chroma database lives (unused in server mode)."""
    return generation_dir(settings, generation) / "chroma"


def open_store(settings: Settings, manifest: IndexManifest, create: bool = False) -> VectorStore:
    """The generation's Chroma collection: its own embedded database, or its collection on the Chroma server."""
    client = make_client(
        settings, None if settings.server_mode else chroma_dir(settings, manifest.generation), create=create
    )
    return VectorStore(client, manifest.collection)


@dataclass
class Index:
    """Everything a query needs, loaded once: chunks in memory, BM25, sentence vectors and the Chroma collection."""

    manifest: IndexManifest
    chunks: list[Chunk]
    by_id: dict[str, int]
    lexical: LexicalIndex
    vectors: VectorStore
    passage_vectors: np.ndarray
    sentence_vectors: np.ndarray
    sentence_offsets: np.ndarray
    vocabulary: Vocabulary
    folder: Path
    units: dict[tuple[str, str, str], list[int]] | None = None

    def unit_of(self, chunk: Chunk) -> list[Chunk]:
        """The chunks of the unit a chunk belongs to, in reading order: all paragraphs of its article, or all
        chunks of the same summary section or page (the "whole article" a source card can show)."""
        units = self._units()
        return [self.chunks[p] for p in units.get(unit_key(chunk), [self.by_id[chunk.id]])]

    def _units(self) -> dict[tuple[str, str, str], list[int]]:
        if self.units is None:
            units: dict[tuple[str, str, str], list[int]] = {}
            for position, chunk in enumerate(self.chunks):
                units.setdefault(unit_key(chunk), []).append(position)
            self.units = units
        return self.units

    def sentences_of(self, position: int) -> np.ndarray:
        """Sentence vectors of the chunk at a position."""
        return self.sentence_vectors[self.sentence_offsets[position] : self.sentence_offsets[position + 1]]

    @property
    def model(self) -> str:
        """Embedding model the index was built with."""
        return self.manifest.model

    @property
    def generation(self) -> str:
        """The generation this index serves."""
        return self.manifest.generation

    def problem(self) -> str | None:
        """Why this loaded index can no longer answer (its vectors are gone, with or without its folder), or None
        when it can."""
        # The vector store is asked first: a process keeps the files it opened, so a removed folder still answers
        # (health once said 503 while every question got its 200); it is named when the store fails too.
        try:
            count = self.vectors.count()
        except Exception as exc:  # Chroma raises many types for a missing or broken collection
            if not self.folder.is_dir():
                return f"the index folder {self.folder} has been removed"
            return f"the vector store cannot be read ({_reason(exc)})"
        if count != len(self.chunks):
            return f"the vector store holds {count} vectors for {len(self.chunks)} passages"
        return None

    def close(self) -> None:
        """Release the Chroma client (its files may then be deleted)."""
        close_client(self.vectors.client)


def unit_key(chunk: Chunk) -> tuple[str, str, str]:
    """What a chunk is part of: its article (treaties and acts), else its section heading (summaries, pages)."""
    return (chunk.source_id, chunk.kind, f"art {chunk.article}" if chunk.article else chunk.headings)


def require_manifest(settings: Settings) -> IndexManifest:
    """The active generation's manifest, or an IndexMissingError saying how to build one."""
    manifest = read_manifest(settings)
    if manifest is None:
        raise IndexMissingError(
            f"no index in {settings.data_dir}",
            "build it with `cfsp-assistant ingest`, or set CFSP_DATA_DIR to the folder that holds one",
        )
    return manifest


def load_index(settings: Settings, manifest: IndexManifest | None = None, backend: str | None = None) -> Index:
    """Open the active generation (or the given one) and check that its parts agree, or explain how to fix it."""
    manifest = manifest or require_manifest(settings)
    check_compatible(settings, manifest, backend)
    folder = generation_dir(settings, manifest.generation)
    damaged = f"the index in {folder} is damaged"
    changed = changed_file(folder, manifest.files) if folder.is_dir() else None
    if changed:
        raise IndexDamagedError(f"{damaged}: {changed}")
    try:
        with (folder / "chunks.jsonl").open(encoding="utf-8") as fh:
            chunks = [Chunk.from_dict(json.loads(line)) for line in fh]
        lexical = LexicalIndex.load(folder / "bm25")
        passage_vectors = np.load(folder / "passages.npy")
        sentence_vectors = np.load(folder / "sentences.npy").astype(np.float32)
        offsets = np.load(folder / "sentence_offsets.npy")
        vocabulary = Vocabulary.load(folder)
    except FileNotFoundError as exc:
        raise IndexDamagedError(f"{damaged}: {Path(exc.filename or '?').name} is missing") from None
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        raise IndexDamagedError(f"{damaged} ({_reason(exc)})") from None
    n = len(chunks)
    problems = []
    if n != manifest.chunks or (manifest.chunk_ids and tuple(c.id for c in chunks) != manifest.chunk_ids):
        problems.append(f"chunks.jsonl holds {n} passages, the manifest {manifest.chunks}")
    if passage_vectors.shape != (n, manifest.dim):
        problems.append(f"passages.npy has shape {passage_vectors.shape}, expected ({n}, {manifest.dim})")
    if len(offsets) != n + 1 or (n and int(offsets[-1]) != len(sentence_vectors)):
        problems.append("the sentence vectors do not match the passages")
    if lexical.size != n:
        problems.append(f"the BM25 index holds {lexical.size} passages, not {n}")
    if problems:
        raise IndexDamagedError(f"{damaged}: {problems[0]}")
    try:
        vectors = open_store(settings, manifest)
        count = vectors.count()
    except (IndexMissingError, IndexDamagedError, DataDirError):
        raise
    except Exception as exc:  # a missing collection or a corrupt database: Chroma raises many types
        store = chroma_dir(settings, manifest.generation)
        if not settings.server_mode and store.is_dir() and not os.access(store, os.W_OK):
            raise DataDirError(
                f"the vector store in {store} cannot be opened without write access "
                f"({_reason(exc)}): make CFSP_DATA_DIR a folder you can write to"
            ) from None
        raise IndexDamagedError(f"{damaged}: its vector store cannot be read ({_reason(exc)})") from None
    if count != n:
        vectors.close()
        raise IndexDamagedError(f"{damaged}: the vector store holds {count} vectors for {n} passages")
    return Index(
        manifest,
        chunks,
        {c.id: i for i, c in enumerate(chunks)},
        lexical,
        vectors,
        passage_vectors,
        sentence_vectors,
        offsets,
        vocabulary,
        folder,
    )


def _reason(exc: BaseException) -> str:
    """An exception as a short clause for a one-line message."""
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    return text if len(text) <= 160 else text[:157] + "..."
