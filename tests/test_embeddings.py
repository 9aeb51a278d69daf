"""The packaged model: verified weights, offline loading, unit vectors, sentence vectors from the same pass."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.config import Settings
from assistant.embeddings import MODEL_PACKAGE, make_embedder, packaged_model_dir
from assistant.errors import ModelError


def test_query_and_passage_vectors(embedder):
    q = embedder.embed_query("mutual defence")
    assert q.shape == (384,) and abs(np.linalg.norm(q) - 1) < 1e-4
    text = "Headings\nThe Union shall act. It shall defend its values."
    vectors, sentences = embedder.embed_passages([text], [[(9, 30), (31, len(text))]])
    assert vectors.shape == (1, 384) and sentences[0].shape == (2, 384)
    close = embedder.embed_query("defend values")
    assert float(sentences[0][1] @ close) > float(sentences[0][0] @ close)


def test_tampered_weights_are_refused(tmp_path, embedder):
    target = packaged_model_dir(tmp_path)
    weights = target / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=MODEL_PACKAGE):
        packaged_model_dir(tmp_path)


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="cannot load embedding model"):
        make_embedder(Settings(data_dir=tmp_path, embedding_model=str(tmp_path / "no-such-model")))


def test_unknown_provider_names_allowed_values():
    with pytest.raises(ValueError, match="allowed: local"):
        Settings(embedding_provider="magic")
