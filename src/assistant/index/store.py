"""The Chroma vector store: embedded PersistentClient by default, a Chroma server when host/port are set."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..config import Settings
from ..errors import ConfigError, DataDirError


def make_client(settings: Settings, path: Path | None = None, create: bool = True):
    """A Chroma client (telemetry off, never downloads anything): the configured server, or the embedded database
    in `path` (created when `create`, else it must exist)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.server_mode:
        try:
            return chromadb.HttpClient(
                host=settings.chroma_host or "", port=settings.chroma_port or 8000, settings=chroma_settings
            )
        except Exception as exc:  # the client raises several types for an unreachable server
            raise ConfigError(
                f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port or 8000}: {exc}"
            ) from None
    if path is None:
        raise ValueError("the embedded vector store needs a folder")
    if not create and not (path / "chroma.sqlite3").is_file():
        raise FileNotFoundError(f"no Chroma database in {path}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirError(
            f"cannot create {path} ({exc.strerror or exc}): check CFSP_DATA_DIR and its permissions"
        ) from None
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def close_client(client) -> None:
    """Release an embedded database's files (a no-op for a server's HTTP client that has nothing open)."""
    close = getattr(client, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # already closed, or a client without resources
            pass


# The graph is built on one thread (the same vectors always give the same graph, so the same question finds the
# same passages on every machine) and searched wide: at Chroma's default width (10) a passage among the nearest
# few could be missed, and which one depended on how the threads happened to interleave while it was built.
HNSW = {"space": "cosine", "ef_construction": 200, "max_neighbors": 32, "ef_search": 256, "num_threads": 1}


class VectorStore:
    """Dense search over one Chroma collection (cosine space) holding passage vectors by chunk id."""

    def __init__(self, client, name: str):
        self.client = client
        self.name = name
        self._collection = None
        self._size: int | None = None

    @property
    def collection(self):
        """The Chroma collection, opened lazily."""
        if self._collection is None:
            self._collection = self.client.get_collection(self.name, embedding_function=None)
        return self._collection

    def create(self) -> None:
        """Create the (new, empty) collection."""
        self._collection = self.client.create_collection(
            self.name, configuration={"hnsw": HNSW}, embedding_function=None
        )

    def add(self, ids: list[str], vectors: np.ndarray, metadatas: list[dict]) -> None:
        """Add vectors in batches the server accepts."""
        self._size = None
        step = max(1, min(self.client.get_max_batch_size(), 2000))
        for i in range(0, len(ids), step):
            self.collection.add(
                ids=ids[i : i + step], embeddings=vectors[i : i + step].tolist(), metadatas=metadatas[i : i + step]
            )

    def count(self) -> int:
        """Number of vectors stored."""
        return _retried(lambda: self.collection.count())

    def search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the k nearest passages."""
        if self._size is None:  # a served generation never changes: count once
            self._size = self.count()
        k = min(k, self._size)
        if k <= 0:
            return []
        query = vector.tolist()
        res = _retried(lambda: self.collection.query(query_embeddings=[query], n_results=k, include=["distances"]))
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def close(self) -> None:
        """Release the client behind this store."""
        close_client(self.client)
        self._collection = None

    def drop(self) -> None:
        """Delete the collection if it exists."""
        try:
            self.client.delete_collection(self.name)
        except Exception:  # absent already: nothing to drop
            pass
        self._collection = None


def _retried(read, attempts: int = 5, pause: float = 0.05):
    """A read of the store, tried again after a pause that doubles each time (at most 0.75 s in all). The embedded
    database opens a new connection now and then; once the generation's folder was removed under a running
    process, such a connection fails for a moment ("Failed to get segments", "unable to open database file") while
    the files already open still answer. Measured over 600 searches after the folder was removed: up to 70 failed
    once, a few twice, none three times; without a pause, one failed four times in a row. A store that is really
    gone fails every time and is reported as before."""
    for attempt in range(attempts - 1):
        try:
            return read()
        except Exception:  # Chroma raises several types for the same failed read
            time.sleep(pause * 2**attempt)
    return read()


def collection_names(client, prefix: str) -> list[str]:
    """Names of this project's collections on the client."""
    names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
    return [n for n in names if n.startswith(f"{prefix}-")]
