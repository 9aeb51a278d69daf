"""Whether the texts answer a question at all: a logistic regression trained here (`cfsp-assistant train
answerable`) on the questions written from the texts, both those they answer and the 500-odd they do not (current
events, a figure for a given year, office holders, opinions, predictions).

It reads the question's vector (the embedding model's, as the retrieval computed it: what kind of question it is) and
a summary of the evidence found for it (the best candidate provisions' features and the retrieval's confidence: how
well the texts match it), and gives the probability that some provision answers. Below the threshold chosen on dev,
or when the retrieval's confidence is below the floor chosen there, the decide step declines.

The model is tied to the embedding model whose vectors it read (`embedding`, the index's model name): with another
(a remote embeddings endpoint, a retrained adapter) the decide step falls back to its rules, and says so in the log.
Its parameters are checked against their sha256 at load (`models/answerable/answerable.json`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import PROJECT_ROOT
from ..errors import ModelError
from .records import Candidate

ANSWERABLE_FILE = PROJECT_ROOT / "models" / "answerable" / "answerable.json"
RETRAIN = "retrain it with `cfsp-assistant train answerable` or restore models/answerable from git"

# the candidate features summarised (their best value among the candidates), then the retrieval's confidence
EVIDENCE = ("dense_best", "dense_whole", "passage", "lexical", "focus", "unnamed", "title", "subject", "reference")


def evidence(candidates: Sequence[Candidate], confidence: float) -> np.ndarray:
    """How well the texts match the question: the best value of each EVIDENCE feature among the candidates, then the
    retrieval's confidence (`Decider.confidence`)."""
    best = [max((c.features.value(name) for c in candidates), default=0.0) for name in EVIDENCE]
    return np.array([*best, confidence], dtype=np.float64)


def question_row(vector: np.ndarray, candidates: Sequence[Candidate], confidence: float) -> np.ndarray:
    """What the model reads of one question: its vector, then its evidence."""
    return np.concatenate([np.asarray(vector, dtype=np.float64).ravel(), evidence(candidates, confidence)])


@dataclass(frozen=True)
class AnswerabilityModel:
    """Logistic regression over standardised inputs: P(some provision answers the question)."""

    embedding: str  # the index model name whose question vectors it was trained on
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float  # below this probability the question is declined
    floor: float = 0.0  # ... and below this retrieval confidence (the row's last number), however likely

    def probability(self, row: np.ndarray) -> float:
        """P(answered) for one `question_row`."""
        if row.shape != (len(self.coef),):
            raise ModelError(
                f"the answerability model reads {len(self.coef)} numbers per question, not {row.size}: {RETRAIN}"
            )
        z = self.intercept + float(
            np.dot((row - np.asarray(self.mean)) / np.asarray(self.scale), np.asarray(self.coef))
        )
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def answers(self, row: np.ndarray) -> bool:
        """Do the texts answer the question of this `question_row`: its probability reaches the threshold chosen on
        dev, and the retrieval's confidence the floor chosen there (no answerable dev question the model answers had
        less: an everyday question the texts never speak of, however its wording resembles theirs)?"""
        return self.probability(row) >= self.threshold and float(row[-1]) >= self.floor

    def to_dict(self) -> dict:
        """JSON-ready form (what answerable.json holds besides its checksum and card)."""
        return {
            "embedding": self.embedding,
            "evidence": list(EVIDENCE),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "floor": self.floor,
        }


def _digest(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def save_answerable(model: AnswerabilityModel, path: Path, card: Mapping[str, object] | None = None) -> None:
    """Write the model with the sha256 of its parameters (checked at load) and what it was trained on."""
    payload = model.to_dict()
    record = {"model": payload, "sha256": _digest(payload), "card": dict(card or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def load_answerable(path: Path = ANSWERABLE_FILE) -> AnswerabilityModel:
    """The model from its file, its parameters checked against the recorded sha256 (a ModelError naming the fix)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        payload = record["model"]
        ok = _digest(payload) == record["sha256"]
    except OSError:
        raise ModelError(f"the answerability model {path} is missing: {RETRAIN}") from None
    except (ValueError, KeyError, TypeError):
        raise ModelError(f"the answerability model {path} is not a model file: {RETRAIN}") from None
    if not ok:
        raise ModelError(f"the answerability model {path} does not match its sha256: {RETRAIN}")
    try:
        model = AnswerabilityModel(
            str(payload["embedding"]),
            tuple(float(x) for x in payload["mean"]),
            tuple(float(x) for x in payload["scale"]),
            tuple(float(x) for x in payload["coef"]),
            float(payload["intercept"]),
            float(payload["threshold"]),
            float(payload["floor"]),
        )
        same_evidence = list(payload["evidence"]) == list(EVIDENCE)
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"the answerability model {path} is not a model file: {RETRAIN}") from None
    if not same_evidence or not len(model.mean) == len(model.scale) == len(model.coef) > len(EVIDENCE):
        raise ModelError(f"the answerability model {path} reads other evidence than this version computes: {RETRAIN}")
    return model
