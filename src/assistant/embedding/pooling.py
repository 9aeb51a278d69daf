"""Sentence vectors pooled from a passage's token vectors, shared by the torch and ONNX Runtime embedders."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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
