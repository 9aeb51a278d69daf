"""The openai-compatible embedding provider over real HTTP on loopback.

Failure handling (429, 5xx, refused keys, malformed answers) is exercised against pytest-httpserver, a real HTTP
server on 127.0.0.1 scripted to answer in OpenAI's embeddings format; the end-to-end ingest-and-ask test points the
provider at this project's own `/v1/embeddings` (tests/test_api.py starts the same app).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError
from werkzeug import Response

from assistant.config import Settings
from assistant.embedding.embedder import packaged_model_dir
from assistant.embedding.remote import OpenAICompatibleEmbedder
from assistant.errors import ModelError

from .servers import Served

DIM = 4


def openai_answer(request) -> Response:
    """Deterministic unit-ish vectors in the OpenAI format, one per input."""
    body = json.loads(request.data)
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = [
        {"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 0.0, float(i)]}
        for i, t in enumerate(inputs)
    ]
    return Response(
        json.dumps(
            {
                "object": "list",
                "data": data[::-1],
                "model": body.get("model"),
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        ),
        content_type="application/json",
    )


@pytest.fixture
def tokenizer(base_settings):
    return packaged_model_dir(base_settings.models_dir) / "tokenizer.json"


def embedder_for(httpserver, tokenizer, **kw) -> OpenAICompatibleEmbedder:
    return OpenAICompatibleEmbedder(httpserver.url_for("/v1"), "test-model", tokenizer, **kw)


def test_batches_keep_input_order_and_are_unit_vectors(httpserver, tokenizer):
    httpserver.expect_request("/v1/embeddings", method="POST").respond_with_handler(openai_answer)
    emb = embedder_for(httpserver, tokenizer, batch_size=2)
    assert emb.dim == DIM and emb.space == "openai-compatible:test-model"
    vectors = emb.embed_texts(["a", "bbb", "cc", "dddd", "e"])  # three requests of at most two inputs
    assert vectors.shape == (5, DIM)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    lengths = [1, 3, 2, 4, 1]  # the first component carries each input's length: order survived the reversed answer
    ratio = vectors[:, 0] / vectors[:, 1]
    assert np.allclose(ratio, lengths)
    passages, sentences = emb.embed_passages(["One. Two three."], [[(0, 4), (5, 15)]])
    assert passages.shape == (1, DIM) and sentences[0].shape == (2, DIM)
    assert emb.count_tokens("mutual assistance") == 2


def test_token_counts_match_the_local_model(httpserver, tokenizer, embedder):
    """Chunk sizes must not depend on the provider: the same tokenizer counts the same tokens."""
    httpserver.expect_request("/v1/embeddings").respond_with_handler(openai_answer)
    emb = embedder_for(httpserver, tokenizer)
    text = (
        "If a Member State is the victim of armed aggression on its territory, the other Member States shall help. "
        * 20
    )
    assert emb.count_tokens(text) == embedder.count_tokens(text) > 300


def test_rate_limited_request_is_retried_after_the_wait(httpserver, tokenizer):
    httpserver.expect_request("/v1/embeddings").respond_with_handler(openai_answer)  # the probe
    emb = embedder_for(httpserver, tokenizer, retries=2)
    httpserver.clear()
    httpserver.expect_ordered_request("/v1/embeddings").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "0"}
    )
    httpserver.expect_ordered_request("/v1/embeddings").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/v1/embeddings").respond_with_handler(openai_answer)
    assert emb.embed_query("What is PESCO?").shape == (DIM,)
    assert len(httpserver.log) == 3


def test_persistent_failure_names_the_endpoint(httpserver, tokenizer):
    httpserver.expect_request("/v1/embeddings").respond_with_data("down", status=500)
    with pytest.raises(ModelError, match=r"/v1/embeddings failed after 2 attempts: HTTP 500"):
        embedder_for(httpserver, tokenizer, retries=1)


def test_refused_key_is_not_retried(httpserver, tokenizer):
    httpserver.expect_request("/v1/embeddings").respond_with_data("no", status=401)
    with pytest.raises(ModelError, match="CFSP_EMBEDDING_API_KEY"):
        embedder_for(httpserver, tokenizer, retries=3, api_key="wrong")
    assert len(httpserver.log) == 1
    assert httpserver.log[0][0].headers["Authorization"] == "Bearer wrong"


def test_answer_in_another_format_is_reported(httpserver, tokenizer):
    httpserver.expect_request("/v1/embeddings").respond_with_json({"vectors": [[1, 2]]})
    with pytest.raises(ModelError, match="did not answer in the OpenAI format"):
        embedder_for(httpserver, tokenizer)


def test_unreachable_endpoint(tokenizer):
    with pytest.raises(ModelError, match="cannot reach it"):
        OpenAICompatibleEmbedder("http://127.0.0.1:9/v1", "m", tokenizer, retries=0, timeout=2)


def test_provider_settings_are_checked():
    with pytest.raises(ValidationError, match="CFSP_EMBEDDING_BASE_URL"):
        Settings(embedding_provider="openai-compatible")
    with pytest.raises(ValidationError, match="unknown embedding provider"):
        Settings(embedding_provider="cohere")
    ok = Settings(
        embedding_provider="openai-compatible",
        embedding_base_url="http://127.0.0.1:7860/v1",
        embedding_api_key="secret-key-123",
    )
    assert "secret-key-123" not in repr(ok)  # the key is a secret: never printed


# ------------------------------------------------------------- end to end through this project's own /v1/embeddings


@pytest.fixture(scope="module")
def own_endpoint(assistant, full_settings, tmp_path_factory):
    """The project's server (chat, API, /v1/embeddings) on a free loopback port, serving the packaged model."""
    from assistant.serve.api import create_app
    from assistant.serve.feedback import FeedbackStore

    # an embedding server for ingest runs without the per-client rate limit (CFSP_RATE_LIMIT=off)
    settings = full_settings.model_copy(update={"rate_limit": None})
    app = create_app(assistant, settings, FeedbackStore(tmp_path_factory.mktemp("fb") / "feedback.sqlite"))
    served = Served(app)
    yield f"{served.url}/v1"
    served.stop()


@pytest.mark.slow
def test_ingest_and_ask_through_the_api_provider(own_endpoint, small_corpus, tmp_path, embedder):
    from assistant.embedding.embedder import make_embedder
    from assistant.errors import IndexMismatchError
    from assistant.ingest.build import ingest
    from assistant.pipeline import Assistant

    corpus, catalogue = small_corpus
    api = Settings(
        corpus_dir=corpus,
        catalogue_path=catalogue,
        data_dir=tmp_path / "data",
        embedding_cache=tmp_path / "cache.sqlite",
        embedding_provider="openai-compatible",
        embedding_base_url=own_endpoint,
        embedding_model="cfsp-minilm",  # the model the endpoint serves (this project's own, by default)
    )
    remote = make_embedder(api)
    assert remote.dim == embedder.dim == 384
    report = ingest(api, remote)
    assert report.embedded == report.chunks > 0 and not report.skipped

    served = Assistant.from_settings(api, remote)
    answer = served.ask("What is PESCO and who takes part in it?")
    assert not answer.abstained and answer.citations[0].source_id == "32017D2315"
    # the vectors that came over HTTP are the served model's own
    chunk = served.index.chunks[0]
    local = embedder.embed_texts([chunk.embed_text])[0]
    assert float(np.abs(served.index.passage_vectors[0].astype(np.float32) - local).max()) < 1e-3  # stored as float16
    assert float(np.abs(remote.embed_query("mutual defence") - embedder.embed_query("mutual defence")).max()) < 1e-5

    # the same index served with the local provider is refused with the re-ingest message, never mixed
    local_settings = api.model_copy(update={"embedding_provider": "local", "embedding_base_url": None})
    with pytest.raises(IndexMismatchError, match="re-run `cfsp-assistant ingest`"):
        Assistant.from_settings(local_settings, embedder)


@pytest.mark.slow
def test_index_of_another_dimension_is_refused(assistant, full_settings):
    """An index whose vectors have another width than the configured model is never queried."""
    from assistant.errors import IndexMismatchError
    from assistant.pipeline import Assistant

    class Wider:  # the configured model as the index sees it: only its dimension differs
        model_id, space, dim = "all-MiniLM-L6-v2", "all-MiniLM-L6-v2", 768

    with pytest.raises(IndexMismatchError, match="384-dimensional vectors .* gives 768: re-run"):
        Assistant.from_settings(full_settings, Wider())
