"""Embeddings cached by content hash in SQLite, so unchanged passages are never embedded twice."""

from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import DataDirError
from ..permissions import private_file
from ..types import Chunk


def content_key(model_id: str, chunk: Chunk) -> str:
    """Cache key: the model, the exact text embedded and its sentence spans (so a change in how sentences are
    split never meets vectors cached for the old split)."""
    spans = ",".join(f"{s.start}-{s.end}" for s in chunk.sentences)
    return hashlib.sha256(f"{model_id}\x1f{spans}\x1f{chunk.embed_text}".encode()).hexdigest()


class EmbeddingCache:
    """Passage and sentence vectors keyed by content hash; safe to interrupt (each batch commits)."""

    def __init__(self, path: Path, dim: int):
        self.dim = dim
        try:
            private_file(path)
            self.db = sqlite3.connect(path)
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, passage BLOB, sentences BLOB, n INTEGER)"
            )
        except (OSError, sqlite3.Error) as exc:
            raise DataDirError(
                f"cannot use the embedding cache {path} ({exc}): set CFSP_EMBEDDING_CACHE or "
                "CFSP_DATA_DIR to a writable place"
            ) from None

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def get_many(self, keys: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Cached (passage vector, sentence matrix) for the keys that are present."""
        found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for i in range(0, len(keys), 500):
            batch = keys[i : i + 500]
            rows = self.db.execute(
                f"SELECT key, passage, sentences, n FROM vectors WHERE key IN ({','.join('?' * len(batch))})", batch
            )
            for key, passage, sentences, n in rows:
                found[key] = (
                    np.frombuffer(passage, dtype=np.float32),
                    np.frombuffer(sentences, dtype=np.float16).reshape(n, self.dim).astype(np.float32),
                )
        return found

    def put_many(self, items: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
        """Store vectors (sentence vectors as float16 to keep the cache small)."""
        self.db.executemany(
            "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)",
            [(k, p.astype(np.float32).tobytes(), s.astype(np.float16).tobytes(), len(s)) for k, p, s in items],
        )
        self.db.commit()

    def embed(
        self,
        chunks: list[Chunk],
        model_id: str,
        compute: Callable[[list[Chunk]], tuple[np.ndarray, list[np.ndarray]]],
        batch: int = 64,
        progress: Callable[[int], None] | None = None,
        length: Callable[[Chunk], int] | None = None,
    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], int]:
        """Vectors for every chunk id, computing only the missing ones (each distinct text once); returns them and
        how many were computed. With `length` (tokens of a chunk) the missing chunks are computed longest first, so
        each batch holds texts of about one length: corpus order padded a batch to its longest text, about a fifth
        more model work for the same vectors."""
        keys = {c.id: content_key(model_id, c) for c in chunks}
        cached = self.get_many(list(set(keys.values())))
        uses = Counter(keys[c.id] for c in chunks)  # chunks sharing one text and split count once
        first: dict[str, Chunk] = {}
        for chunk in chunks:
            if keys[chunk.id] not in cached:
                first.setdefault(keys[chunk.id], chunk)
        missing = list(first.values())
        if length is not None:
            missing.sort(key=lambda c: -length(c))  # stable: ties keep corpus order
        done: dict[str, tuple[np.ndarray, np.ndarray]] = dict(cached)
        if progress:
            progress(len(chunks) - sum(uses[key] for key in first))
        for i in range(0, len(missing), batch):
            part = missing[i : i + batch]
            vectors, sentences = compute(part)
            items = [(keys[c.id], v, s) for c, v, s in zip(part, vectors, sentences, strict=True)]
            self.put_many(items)
            done.update({k: (v, s.astype(np.float16).astype(np.float32)) for k, v, s in items})
            if progress:
                progress(sum(uses[keys[c.id]] for c in part))
        return {cid: done[key] for cid, key in keys.items()}, len(missing)
