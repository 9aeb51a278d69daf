"""The embedding cache with the real packaged model: missing passages are embedded longest first, each distinct text
once, and every vector lands on its own chunk, equal to the passage embedded on its own."""

from __future__ import annotations

import dataclasses

import numpy as np

from assistant.embedding.cache import EmbeddingCache
from assistant.ingest.build import load_corpus
from assistant.ingest.catalogue import load_article_titles
from assistant.ingest.chunking import Chunker


def _chunks(settings, embedder):
    docs, _ = load_corpus(settings)
    chunker = Chunker(
        embedder.count_tokens,
        settings.chunk_tokens,
        settings.chunk_overlap,
        load_article_titles(settings.article_titles_path),
    )
    return chunker.chunk(docs)


def _compute(embedder, calls):
    def compute(part):
        calls.append([c.id for c in part])
        spans = [[(c.body_offset + s.start, c.body_offset + s.end) for s in c.sentences] for c in part]
        return embedder.embed_passages([c.embed_text for c in part], spans)

    return compute


def test_missing_chunks_are_embedded_longest_first_with_their_own_vectors(small_settings, embedder, tmp_path):
    chunks = _chunks(small_settings, embedder)[:40]
    tokens = {c.id: embedder.count_tokens(c.embed_text) for c in chunks}
    assert len(set(tokens.values())) > 10  # the slice mixes short and long passages
    calls: list[list[str]] = []
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite", embedder.dim)
    try:
        vectors, computed = cache.embed(
            chunks, "space", _compute(embedder, calls), batch=8, length=lambda c: tokens[c.id]
        )
    finally:
        cache.close()
    assert computed == 40 and [len(ids) for ids in calls] == [8] * 5
    order = [tokens[cid] for ids in calls for cid in ids]
    assert order == sorted(order, reverse=True)
    # each vector is the one its own text gets alone (no padding at all), within float tolerance
    for chunk in chunks[::7]:
        spans = [[(chunk.body_offset + s.start, chunk.body_offset + s.end) for s in chunk.sentences]]
        alone, (sentences,) = embedder.embed_passages([chunk.embed_text], spans)
        passage, cached_sentences = vectors[chunk.id]
        assert np.abs(passage - alone[0]).max() < 1e-5
        # sentence vectors are kept as float16: within its rounding
        assert np.abs(cached_sentences - sentences).max() < 2e-3


def test_a_text_shared_by_two_chunks_is_embedded_once_and_cached_ones_never(small_settings, embedder, tmp_path):
    chunks = _chunks(small_settings, embedder)[:6]
    twin = dataclasses.replace(chunks[0], id=chunks[0].id + "-twin")  # same text and sentences, another id
    ticks: list[int] = []
    calls: list[list[str]] = []
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite", embedder.dim)
    try:
        vectors, computed = cache.embed([*chunks, twin], "space", _compute(embedder, calls), progress=ticks.append)
        assert computed == 6 and sum(ticks) == 7  # progress counts chunks, the model sees each text once
        assert np.array_equal(vectors[twin.id][0], vectors[chunks[0].id][0])
        calls.clear()
        again, computed = cache.embed([*chunks, twin], "space", _compute(embedder, calls))
        assert computed == 0 and not calls
        assert all(np.array_equal(again[c.id][0], vectors[c.id][0]) for c in chunks)
    finally:
        cache.close()
