"""The served index: a manifest naming the active generation, its chunks, sentence vectors, BM25 and Chroma collection."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import Settings
from .errors import IndexMissingError
from .lexical import LexicalIndex
from .store import VectorStore, make_client
from .types import Chunk

MANIFEST = "current.json"


def index_root(settings: Settings) -> Path:
    """Folder holding the manifest and one sub-folder per generation."""
    return settings.data_dir / "index"


def read_manifest(settings: Settings) -> dict | None:
    """The active generation's manifest, or None when nothing has been built."""
    path = index_root(settings) / MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def write_manifest(settings: Settings, manifest: dict) -> None:
    """Switch the served generation atomically (write a temporary file, then rename over the old one)."""
    root = index_root(settings)
    tmp = root / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, root / MANIFEST)


def save_generation(folder: Path, chunks: list[Chunk], passage_vectors: np.ndarray, sentence_vectors: list[np.ndarray],
                    lexical: LexicalIndex) -> None:
    """Write a generation's chunk records, passage and sentence vectors (for scoring) and BM25 index."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "chunks.jsonl").open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
    stacked = np.concatenate(sentence_vectors) if sentence_vectors else np.zeros((0, 1), np.float32)
    np.save(folder / "passages.npy", passage_vectors.astype(np.float16))
    np.save(folder / "sentences.npy", stacked.astype(np.float16))
    np.save(folder / "sentence_offsets.npy", np.cumsum([0] + [len(s) for s in sentence_vectors]))
    lexical.save(folder / "bm25")


@dataclass
class Index:
    """Everything a query needs, loaded once: chunks in memory, BM25, sentence vectors and the Chroma collection."""

    manifest: dict
    chunks: list[Chunk]
    by_id: dict[str, int]
    lexical: LexicalIndex
    vectors: VectorStore
    passage_vectors: np.ndarray
    sentence_vectors: np.ndarray
    sentence_offsets: np.ndarray

    def sentences_of(self, position: int) -> np.ndarray:
        """Sentence vectors of the chunk at a position."""
        return self.sentence_vectors[self.sentence_offsets[position]:self.sentence_offsets[position + 1]]

    @property
    def model(self) -> str:
        """Embedding model the index was built with."""
        return self.manifest["model"]


def load_index(settings: Settings) -> Index:
    """Open the active generation, or explain how to build one."""
    manifest = read_manifest(settings)
    if manifest is None:
        raise IndexMissingError(f"no index in {settings.data_dir}: build it with `cfsp-assistant ingest`")
    if manifest.get("model") != settings.embedding_model or manifest.get("provider", "local") != settings.embedding_provider:
        raise IndexMissingError(
            f"the index was built with embedding model {manifest.get('model')!r} ({manifest.get('provider', 'local')}), "
            f"but the settings ask for {settings.embedding_model!r} ({settings.embedding_provider}): "
            "re-run `cfsp-assistant ingest` to rebuild it")
    folder = index_root(settings) / manifest["generation"]
    try:
        with (folder / "chunks.jsonl").open(encoding="utf-8") as fh:
            chunks = [Chunk.from_dict(json.loads(line)) for line in fh]
        lexical = LexicalIndex.load(folder / "bm25")
        passage_vectors = np.load(folder / "passages.npy")
        sentence_vectors = np.load(folder / "sentences.npy").astype(np.float32)
        offsets = np.load(folder / "sentence_offsets.npy")
    except (OSError, ValueError) as exc:
        raise IndexMissingError(f"the index in {folder} is incomplete ({exc}): re-run `cfsp-assistant ingest`") from None
    vectors = VectorStore(make_client(settings), manifest["collection"])
    try:
        vectors.collection  # noqa: B018 - open now so a missing collection is reported at start-up
    except Exception:
        raise IndexMissingError(f"Chroma collection {manifest['collection']!r} is missing: re-run `cfsp-assistant ingest`") from None
    return Index(manifest, chunks, {c.id: i for i, c in enumerate(chunks)}, lexical, vectors, passage_vectors,
                 sentence_vectors, offsets)


def remove_stale(settings: Settings, client, keep: str | None) -> None:
    """Delete generations other than `keep` (left by earlier builds or an interrupted one)."""
    from .store import collection_names

    root = index_root(settings)
    for name in collection_names(client, settings.collection_prefix):
        if keep is None or name != f"{settings.collection_prefix}-{keep}":
            VectorStore(client, name).drop()
    if root.is_dir():
        for child in root.iterdir():
            if child.is_dir() and child.name != keep:
                shutil.rmtree(child, ignore_errors=True)
