"""Embedding providers behind one interface, chosen by name; the default is the packaged all-MiniLM-L6-v2."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..config import BACKENDS, PACKAGED_MODEL, PROVIDERS, Settings
from ..errors import ModelError
from .adapter import TUNED_MODEL, adapter_identity, tuned_model_dir
from .model_files import MODEL_PACKAGE, MODEL_SHA256, packaged_model_dir, sha256_file
from .pooling import pool_sentences

__all__ = ["MODEL_PACKAGE", "MODEL_SHA256", "Embedder", "make_embedder", "packaged_model_dir", "sha256_file"]


class Embedder(Protocol):
    """What ingest and retrieval need from an embedding model."""

    model_id: str
    dim: int
    space: str  # names the vector space for the embedding cache: provider, model and (int8) vector family

    def embed_query(self, text: str) -> np.ndarray:
        """Unit-length vector for a question."""

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Unit-length vectors for any texts, one row each (what /v1/embeddings serves)."""

    def embed_passages(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Unit-length vectors for passages, plus one unit vector per character span (sentence) of each passage."""

    def count_tokens(self, text: str) -> int:
        """Number of model tokens in a text (without special tokens)."""


class LocalEmbedder:
    """sentence-transformers on this machine, loaded from a local folder only (never from a model hub)."""

    backend = "torch"

    def __init__(self, model_path: Path | str, model_id: str, batch_size: int = 32, threads: int = 0):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # a command's output is its answer: no weight-loading bars or tokenizer length notes on the terminal
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        if threads:
            torch.set_num_threads(threads)
        try:
            self.model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load embedding model {model_id!r} from {model_path}: {exc}") from None
        self.model_id = model_id
        self.space = model_id  # the default provider's cache namespace is the bare model name
        self.dim = int(self.model.get_embedding_dimension() or 0)
        self.batch_size = batch_size
        self.max_length = int(self.model.max_seq_length or 512)
        self._torch = torch
        # Counting has its own copy of the tokenizer: calling the model's with other truncation settings changes
        # them for every thread, and a request embedding at that moment ran untruncated (a 500 under load).
        from tokenizers import Tokenizer

        self._counter = Tokenizer.from_str(self.model.tokenizer.backend_tokenizer.to_str())
        self._counter.no_padding()
        self._counter.no_truncation()

    def count_tokens(self, text: str) -> int:
        """Number of word-piece tokens, without [CLS]/[SEP]."""
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def use_threads(self, threads: int) -> None:
        """How many threads torch gives each model call (a process-wide setting)."""
        self._torch.set_num_threads(threads)

    @property
    def threads(self) -> int:
        """Threads each model call uses now."""
        return int(self._torch.get_num_threads())

    def embed_query(self, text: str) -> np.ndarray:
        """Unit vector of one question."""
        with self._torch.inference_mode():
            vec = self.model.encode([text], batch_size=1, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vec[0], dtype=np.float32)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of the texts, batched."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._torch.inference_mode():
            vecs = self.model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return np.asarray(vecs, dtype=np.float32)

    def embed_passages(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors, and sentence vectors pooled from the same forward pass (no extra model calls)."""
        with self._torch.inference_mode():
            # with output_value=None each output is a dict of tensors: the pooled vector and the token vectors
            outputs: list[dict[str, Any]] = self.model.encode(  # type: ignore[assignment]
                texts, batch_size=self.batch_size, output_value=None, show_progress_bar=False
            )
        vectors = np.stack([o["sentence_embedding"].float().numpy() for o in outputs])
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        sentence_vectors = []
        for text, text_spans, out, passage in zip(texts, spans, outputs, vectors, strict=True):
            offsets = self.model.tokenizer(
                text, return_offsets_mapping=True, truncation=True, max_length=self.max_length
            )["offset_mapping"]
            tokens = out["token_embeddings"].float().numpy()[: len(offsets)]
            sentence_vectors.append(pool_sentences(tokens, np.asarray(offsets).reshape(-1, 2), text_spans, passage))
        return vectors.astype(np.float32), sentence_vectors


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for; names the allowed providers and backends when given others."""
    if settings.embedding_provider == "local":
        if settings.embedding_backend not in BACKENDS:
            raise ModelError(
                f"unknown embedding backend {settings.embedding_backend!r}; allowed: {', '.join(BACKENDS)}"
            )
        own = settings.embedding_model in (PACKAGED_MODEL, TUNED_MODEL)
        # the ONNX backends run the packaged model (or the project's fine-tuned one) only: another model runs on
        # torch unless onnx was asked for
        chosen = "embedding_backend" in settings.model_fields_set
        if settings.embedding_backend != "torch" and (own or chosen):
            return _onnx_embedder(settings)
        if own:
            path, _, model_id = local_model(settings)
            return LocalEmbedder(path, model_id, settings.embedding_batch_size, settings.embedding_threads)
        return LocalEmbedder(
            settings.embedding_model,
            settings.embedding_model,
            settings.embedding_batch_size,
            settings.embedding_threads,
        )
    if settings.embedding_provider == "openai-compatible":
        from .remote import OpenAICompatibleEmbedder

        key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None
        return OpenAICompatibleEmbedder(
            settings.embedding_base_url or "",
            settings.embedding_model,
            packaged_model_dir(settings.models_dir) / "tokenizer.json",
            key,
            settings.embedding_batch_size,
            settings.embedding_timeout,
            settings.embedding_retries,
        )
    raise ModelError(f"unknown embedding provider {settings.embedding_provider!r}; allowed: {', '.join(PROVIDERS)}")


def local_model(settings: Settings) -> tuple[Path, str, str]:
    """(folder, sha256 of its weights, model id) of the packaged model or of the project's fine-tuned one (the
    packaged weights with the shipped adapter merged in, "cfsp-minilm@<adapter sha>")."""
    if settings.embedding_model == TUNED_MODEL:
        folder, weights = tuned_model_dir(settings.models_dir, settings.embedding_adapter)
        return folder, weights, adapter_identity(settings.embedding_adapter)
    return packaged_model_dir(settings.models_dir), MODEL_SHA256, PACKAGED_MODEL


def _onnx_embedder(settings: Settings) -> Embedder:
    """The packaged (or fine-tuned) model on ONNX Runtime, its ONNX file made from the verified weights at first
    use."""
    from .onnx import VARIANTS, OnnxEmbedder
    from .onnx_files import ensure_onnx_model

    backend = settings.embedding_backend
    if settings.embedding_model not in (PACKAGED_MODEL, TUNED_MODEL):
        if not Path(settings.embedding_model).is_dir():
            raise ModelError(f"cannot load embedding model {settings.embedding_model!r}: no such folder")
        raise ModelError(
            f"the {backend} backend runs the packaged {PACKAGED_MODEL} (or {TUNED_MODEL}) only: set "
            f"CFSP_EMBEDDING_BACKEND=torch for {settings.embedding_model!r}"
        )
    model_dir, weights, model_id = local_model(settings)
    onnx_file = ensure_onnx_model(model_dir, settings.models_dir, VARIANTS[backend], weights)
    return OnnxEmbedder(
        model_dir,
        onnx_file,
        model_id,
        backend,
        settings.embedding_batch_size,
        settings.embedding_threads,
    )
