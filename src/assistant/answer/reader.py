"""The reader: a cross-encoder trained here that reads the question and a candidate provision together and gives the
probability that the provision answers the question (`models/reader/`, see its MODEL_CARD.md).

The bi-encoder compares a question's vector with a provision's, computed apart; the reader sees both texts at once, so
it can tell "who chairs the Council" from "what the Council does" in one article. It scores only the few best
candidates of the first ranking (`ReaderConfig.candidates`), and its probability is one more feature (`reader`) the
ranker weighs.

Shipped: the fp16 weights of a MiniLM cut to its first layers, all but the word embeddings (those stay the packaged
model's, frozen in training), checked against `models/reader/SHA256SUMS` at every load. At first use they are joined
with the verified packaged word embeddings into `DATA_DIR/models/cfsp-reader-<sha>/` and exported to ONNX (as the
embedding model is, in a child process; in int8 when `reader.json` says so); the classification head (pooler and one
linear layer) runs in numpy. Nothing here imports torch.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import PROJECT_ROOT
from ..embedding.model_files import derived_model_dir, packaged_model_dir, sha256_file, verify_sums
from ..errors import ModelError
from .records import Candidate

READER_DIR = PROJECT_ROOT / "models" / "reader"
WEIGHTS = "reader.safetensors"
CONFIG = "reader.json"
FILES = (WEIGHTS, CONFIG)
RETRAIN = "retrain it with `cfsp-assistant train reader` or restore models/reader from git"
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
POOLER = ("bert.pooler.dense.weight", "bert.pooler.dense.bias")
CLASSIFIER = ("classifier.weight", "classifier.bias")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


@dataclass(frozen=True)
class ReaderConfig:
    """How the reader was trained and is used (`reader.json`)."""

    layers: int  # transformer layers kept from the packaged model
    max_tokens: int  # question and provision together; the provision is cut to fit
    candidates: int  # how many of the first ranking's best candidates it reads
    pooling: str = "mean"  # "mean": the masked mean of the token vectors; "cls": BERT's pooler on the first token
    precision: str = "fp32"  # the ONNX file it serves from: "fp32", or "int8" (dynamically quantised weights)
    words: int = 0  # a provision longer than this many words is read as its most relevant sentences (0: from its start)


def reader_text(headings: str, text: str) -> str:
    """What a provision looks like to the reader: the headings it sits under, then its words."""
    return f"{headings}\n{text}" if headings else text


def relevant_part(sentences: Sequence[str], scores: Sequence[float], words: int) -> str:
    """The sentences of a provision the reader reads when it is longer than `words` words: the most relevant ones
    (highest `scores`, one score per sentence) while they fit, the best always, in reading order, each gap marked
    "…". A provision that fits, or without scores, is read whole (the reader's token limit cuts it)."""
    whole = " ".join(sentences)
    if words <= 0 or len(scores) != len(sentences) or len(whole.split()) <= words:
        return whole
    kept: set[int] = set()
    used = 0
    for i in sorted(range(len(sentences)), key=lambda i: (-scores[i], i)):
        size = len(sentences[i].split())
        if kept and used + size > words:
            continue
        kept.add(i)
        used += size
    parts: list[str] = []
    for i in sorted(kept):
        if parts and i - 1 not in kept:
            parts.append("…")
        parts.append(sentences[i])
    return " ".join(parts)


def candidate_text(candidate: Candidate, words: int = 0) -> str:
    """A candidate provision as the reader reads it: its headings, then its wording (the most relevant part of it
    when longer than `words` words)."""
    provision = candidate.provision
    sentences = [provision.sentence_text(i) for i in provision.sentences]
    return reader_text(candidate.hit.chunk.headings, relevant_part(sentences, candidate.sentence_scores, words))


def read_config(folder: Path) -> ReaderConfig:
    """The reader's settings from `reader.json` (a ModelError naming the fix when unreadable)."""
    try:
        data = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        config = ReaderConfig(
            int(data["layers"]),
            int(data["max_tokens"]),
            int(data["candidates"]),
            str(data.get("pooling", "mean")),
            str(data.get("precision", "fp32")),
            int(data.get("words", 0)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        raise ModelError(f"the reader's settings {folder / CONFIG} are missing or unreadable: {RETRAIN}") from None
    if config.pooling not in ("mean", "cls"):
        raise ModelError(
            f"the reader's settings {folder / CONFIG} name an unknown pooling {config.pooling!r}: {RETRAIN}"
        )
    if config.precision not in ("fp32", "int8"):
        raise ModelError(
            f"the reader's settings {folder / CONFIG} name an unknown precision {config.precision!r}: {RETRAIN}"
        )
    return config


def verify_reader(folder: Path = READER_DIR) -> str:
    """The reader's identity (the first 12 hex digits of its weights' sha256) once its files match SHA256SUMS."""
    return verify_sums(folder, FILES, "reader", RETRAIN)[WEIGHTS][:12]


def reader_model_dir(models: Path, folder: Path = READER_DIR) -> tuple[Path, str]:
    """(the reader's encoder as a complete model folder, sha256 of its weights), joining the verified shipped weights
    with the verified packaged word embeddings first when that has not been done (or the file is damaged)."""
    identity = verify_reader(folder)
    target = models / f"cfsp-reader-{identity}"
    return derived_model_dir(
        target, "built.json", lambda out: _join(packaged_model_dir(models), folder, out), "reader model"
    )


def prepare_reader(models: Path, folder: Path = READER_DIR) -> tuple[ReaderConfig, Path, Path]:
    """(its settings, its model folder, its verified ONNX file): the reader's files made ready in the models folder,
    built at first use (in child processes: `cfsp-assistant ingest` runs this beside the embedding model's export)."""
    from ..embedding.onnx_files import ensure_onnx_model

    config = read_config(folder)
    model_dir, weights = reader_model_dir(models, folder)
    return config, model_dir, ensure_onnx_model(model_dir, models, config.precision, weights)


def encoder_weights(shipped: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The encoder's own tensors of the shipped classifier (`bert.` names, without the head), as the packaged model
    names them."""
    return {k.removeprefix("bert."): v for k, v in shipped.items() if k.startswith("bert.") and "pooler" not in k}


def _join(base: Path, folder: Path, out: Path) -> None:
    from safetensors.numpy import load_file, save_file

    config = read_config(folder)
    packaged = load_file(str(base / "model.safetensors"))
    weights = {k: v.astype(np.float32) for k, v in encoder_weights(load_file(str(folder / WEIGHTS))).items()}
    weights[WORD_EMBEDDINGS] = packaged[WORD_EMBEDDINGS]
    save_file(weights, str(out / "model.safetensors"))
    model_config = json.loads((base / "config.json").read_text(encoding="utf-8"))
    model_config["num_hidden_layers"] = config.layers
    (out / "config.json").write_text(json.dumps(model_config, indent=1), encoding="utf-8")
    for name in TOKENIZER_FILES:
        if (base / name).is_file():
            shutil.copy2(base / name, out / name)
    record = {"weights": sha256_file(out / "model.safetensors"), "reader": verify_reader(folder)}
    (out / "built.json").write_text(json.dumps(record, indent=1), encoding="utf-8")


class Reader:
    """P(the provision answers the question) for question and provision pairs, by ONNX Runtime.

    The session is opened at the first call, not in the constructor (a process that forks workers after building
    the reader never shares a session's threads across a fork)."""

    def __init__(self, models: Path, folder: Path = READER_DIR, threads: int = 0):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.config, model_dir, self.onnx_file = prepare_reader(models, folder)
        shipped = load_file(str(folder / WEIGHTS))
        head = CLASSIFIER + (POOLER if self.config.pooling == "cls" else ())
        missing = [name for name in head if name not in shipped]
        if missing:
            raise ModelError(f"the reader's weights {folder / WEIGHTS} have no {missing[0]}: {RETRAIN}")
        self._head = {name: shipped[name].astype(np.float32) for name in head}
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.config.max_tokens, strategy="only_second")
        self._pad_id = self._tokenizer.token_to_id("[PAD]") or 0
        self.threads = threads
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def candidates(self) -> int:
        """How many of the first ranking's best candidates it reads."""
        return self.config.candidates

    def text(self, candidate: Candidate) -> str:
        """What it reads of a candidate provision."""
        return candidate_text(candidate, self.config.words)

    def _model(self) -> Any:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    import onnxruntime as ort

                    options = ort.SessionOptions()
                    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                    options.inter_op_num_threads = 1
                    options.intra_op_num_threads = self.threads
                    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                    options.log_severity_level = 3
                    try:
                        self._session = ort.InferenceSession(
                            str(self.onnx_file), sess_options=options, providers=["CPUExecutionProvider"]
                        )
                    except Exception as exc:  # ONNX Runtime's own types for unreadable graphs
                        raise ModelError(f"cannot load the reader's ONNX model {self.onnx_file}: {exc}") from None
        return self._session

    def probabilities(self, question: str, texts: list[str]) -> np.ndarray:
        """One probability per text that it answers the question."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        encodings = self._tokenizer.encode_batch([(question, text) for text in texts])
        longest = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), longest), self._pad_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
            types[row, : len(e.ids)] = e.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        (hidden,) = self._model().run(["last_hidden_state"], feed)
        if self.config.pooling == "cls":
            pooled = np.tanh(hidden[:, 0, :] @ self._head[POOLER[0]].T + self._head[POOLER[1]])
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        logits = (pooled @ self._head[CLASSIFIER[0]].T + self._head[CLASSIFIER[1]])[:, 0]
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0)))
