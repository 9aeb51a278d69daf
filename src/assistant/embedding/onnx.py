"""The packaged model run by ONNX Runtime (`CFSP_EMBEDDING_BACKEND=onnx` or `onnx-int8`): `tokenizers` splits the
text, ONNX Runtime computes the token vectors, numpy pools and normalises them as sentence-transformers does
(mean over the real tokens, then unit length). Nothing here imports torch, transformers or sentence-transformers.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..config import BACKEND_FAMILIES
from ..errors import ModelError
from .pooling import pool_sentences

VARIANTS = {"onnx": "fp32", "onnx-int8": "int8"}  # backend -> ONNX file (onnx_files.FILES)


class OnnxEmbedder:
    """Unit vectors from an ONNX export of a sentence-transformers model (mean pooling, normalised).

    The ONNX Runtime session is opened at the first model call, not in the constructor, so a process that forks
    workers after building the embedder never shares a session's threads across a fork."""

    def __init__(
        self, model_dir: Path, onnx_file: Path, model_id: str, backend: str, batch_size: int = 16, threads: int = 0
    ):
        # tokenizers' own thread pool would compete with ONNX Runtime's for the same cores (and warns after a fork)
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from tokenizers import Tokenizer

        self.model_id = model_id
        self.backend = backend
        family = BACKEND_FAMILIES[backend]
        # fp32 vectors are the torch backend's (tested), so they share its cache space; int8 ones never mix with them
        self.space = model_id if family == "fp32" else f"{model_id}#{family}"
        self.onnx_file = onnx_file
        self.batch_size = batch_size
        self.threads = threads
        try:
            config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
            pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
            self.max_length = int(config["max_seq_length"])
            self.dim = int(pooling["word_embedding_dimension"])
            # tokenizer.json ships truncation at 128 tokens and padding to a fixed 128: the model reads 256, and
            # batches are padded here to their longest text, as sentence-transformers does
            self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            self._counter = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        except Exception as exc:  # a missing file, bad JSON, or tokenizers' own error for a broken tokenizer.json
            raise ModelError(
                f"cannot load the tokenizer and settings of {model_id!r} from {model_dir}: {exc}"
            ) from None
        if not pooling.get("pooling_mode_mean_tokens"):
            raise ModelError(f"{model_dir} does not pool by mean: the ONNX backends cannot reproduce its vectors")
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_length)
        self._counter.no_padding()
        self._counter.no_truncation()
        self._pad_id = self._tokenizer.token_to_id("[PAD]") or 0
        self._session: Any = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the ONNX Runtime session

    def _open(self, threads: int) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads  # 0: one per physical core
        # waiting threads sleep instead of spinning: on a shared machine (or with several workers) spinning burns the
        # cores other calls need
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                str(self.onnx_file), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ONNX Runtime raises its own types for unreadable or invalid graphs
            raise ModelError(f"cannot load the ONNX model {self.onnx_file}: {exc}") from None
        inputs = {i.name for i in session.get_inputs()}
        shrink = ort.RunOptions()
        # a batch's activations go back to the OS after the call: without it the arena kept ~370 MB after an ingest
        shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        return session, inputs, shrink

    def _model(self) -> Any:
        opened = self._session
        if opened is None:
            with self._lock:
                if self._session is None:
                    self._session = self._open(self.threads)
                opened = self._session
        return opened

    def use_threads(self, threads: int) -> None:
        """How many threads each model call uses (the next call opens a session with that many)."""
        with self._lock:
            if threads != self.threads:
                self.threads = threads
                self._session = None  # calls in flight finish on the session they hold

    # ------------------------------------------------------------------ vectors

    def _run(self, encodings: list) -> tuple[np.ndarray, np.ndarray]:
        """Token vectors (batch x longest x dim) and the attention mask of a batch of encodings."""
        session, inputs, shrink = self._model()
        longest = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), longest), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), longest), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in inputs:
            feed["token_type_ids"] = np.zeros_like(ids)  # single texts: every token is of the first segment
        (hidden,) = session.run(["last_hidden_state"], feed, shrink if len(encodings) > 1 else None)
        return hidden, mask

    @staticmethod
    def _unit(vectors: np.ndarray) -> np.ndarray:
        # as torch.nn.functional.normalize: x / max(|x|, 1e-12)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)

    def _pooled(self, texts: list[str], keep_tokens: bool = False) -> tuple[np.ndarray, list, list[np.ndarray]]:
        """Mean-pooled vectors (not yet unit length), the encodings and (with `keep_tokens`) each text's token
        vectors, batched by length so a batch holds texts of about the same number of tokens and little padding."""
        encodings = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        pooled = np.empty((len(texts), self.dim), dtype=np.float32)
        tokens: list[np.ndarray] = [np.empty(0)] * len(texts)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            hidden, mask = self._run([encodings[i] for i in rows])
            weights = mask.astype(np.float32)
            pooled[rows] = np.einsum("btd,bt->bd", hidden, weights) / np.maximum(weights.sum(axis=1), 1e-9)[:, None]
            for row, i in enumerate(rows if keep_tokens else ()):
                tokens[i] = hidden[row, : len(encodings[i].ids)]
        return pooled, encodings, tokens

    def embed_query(self, text: str) -> np.ndarray:
        """Unit vector of one question (no padding, one model call)."""
        hidden, _ = self._run([self._tokenizer.encode(text)])
        return self._unit(hidden[0].mean(axis=0)).astype(np.float32)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of the texts, batched by length."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        pooled, _, _ = self._pooled(list(texts))
        return self._unit(pooled).astype(np.float32)

    def embed_passages(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors, and sentence vectors pooled from the same token vectors (one model call per batch)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        pooled, encodings, tokens = self._pooled(list(texts), keep_tokens=True)
        vectors = self._unit(pooled).astype(np.float32)
        sentence_vectors = []
        for encoding, token_vectors, text_spans, passage in zip(encodings, tokens, spans, vectors, strict=True):
            offsets = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)
            sentence_vectors.append(pool_sentences(token_vectors, offsets, text_spans, passage))
        return vectors, sentence_vectors

    def count_tokens(self, text: str) -> int:
        """Number of word-piece tokens, without [CLS]/[SEP]."""
        return len(self._counter.encode(text, add_special_tokens=False).ids)
