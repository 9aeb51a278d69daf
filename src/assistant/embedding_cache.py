"""Embeddings cached by content hash in SQLite, so unchanged passages are never embedded twice."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import DataDirError
from .permissions import private_file
from .types import Chunk


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
    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], int]:
        """Vectors for every chunk id, computing only the missing ones; returns them and how many were computed."""
        keys = {c.id: content_key(model_id, c) for c in chunks}
        cached = self.get_many(list(set(keys.values())))
        missing = [c for c in chunks if keys[c.id] not in cached]
        done: dict[str, tuple[np.ndarray, np.ndarray]] = dict(cached)
        computed = 0
        if progress:
            progress(len(chunks) - len(missing))
        for i in range(0, len(missing), batch):
            part = [c for c in missing[i : i + batch] if keys[c.id] not in done]
            if not part:
                continue
            vectors, sentences = compute(part)
            items = [(keys[c.id], v, s) for c, v, s in zip(part, vectors, sentences, strict=True)]
            self.put_many(items)
            done.update({k: (v, s.astype(np.float16).astype(np.float32)) for k, v, s in items})
            computed += len(part)
            if progress:
                progress(len(missing[i : i + batch]))
        return {cid: done[key] for cid, key in keys.items()}, computed
