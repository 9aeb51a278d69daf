"""POST /v1/embeddings: the configured embedding model served in OpenAI's protocol, so the `openai-compatible`
provider (or any OpenAI client) can use it."""

from __future__ import annotations

import base64

import anyio
import numpy as np
from fastapi import APIRouter

from ...config import Settings
from ...embedding.embedder import Embedder
from ...errors import QuestionError
from ...question.validation import require_unicode
from .errors import error
from .schemas import Embedding, EmbeddingRequest, EmbeddingResponse, ErrorResponse, Usage


def _encode(vector: np.ndarray, encoding: str) -> list[float] | str:
    """A vector as JSON floats, or base64 of little-endian float32 (what OpenAI's clients ask for by default)."""
    if encoding == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return vector.astype(np.float32).tolist()


def embeddings_router(embedder: Embedder, settings: Settings, limiter: anyio.CapacityLimiter) -> APIRouter:
    """The /v1 routes for one embedder, with limits on inputs per request, characters per input and characters in
    all; `limiter` bounds how many requests are computed at once (the rest wait)."""
    max_inputs, max_chars, max_total = (
        settings.max_embedding_inputs,
        settings.max_embedding_chars,
        settings.max_embedding_total_chars,
    )
    router = APIRouter(
        prefix="/v1",
        tags=["embeddings (OpenAI-compatible)"],
        responses={status: {"model": ErrorResponse} for status in (400, 401, 404, 413, 422, 429, 500)},
    )

    def texts_of(request: EmbeddingRequest) -> list[str]:
        """The inputs as a list within the limits, or a QuestionError (422) naming the first problem."""
        texts = [request.input] if isinstance(request.input, str) else list(request.input)
        if not texts:
            raise QuestionError("input is empty: send a text or a list of texts")
        if len(texts) > max_inputs:
            raise QuestionError(f"input has {len(texts)} texts; the limit is {max_inputs} per request")
        for i, text in enumerate(texts):
            if not text.strip():
                raise QuestionError(f"input {i} is empty")
            if len(text) > max_chars:
                raise QuestionError(f"input {i} is {len(text)} characters long; the limit is {max_chars}")
            require_unicode(text, f"input {i}")
        total = sum(map(len, texts))
        if total > max_total:
            raise QuestionError(
                f"input has {total:,} characters in all; the limit is {max_total:,} per request "
                "(send the rest in another request)"
            )
        if request.dimensions is not None and request.dimensions != embedder.dim:
            raise QuestionError(f"dimensions must be {embedder.dim} for {embedder.model_id} (or left out)")
        return texts

    @router.post("/embeddings", response_model=EmbeddingResponse, summary="Embed texts (OpenAI-compatible)")
    async def embeddings(request: EmbeddingRequest):
        """Unit-length vectors of the inputs by the served model, with the model tokens read as usage."""
        # "cfsp-minilm" names the served fine-tuned model as well as its full id "cfsp-minilm@<adapter>"
        if request.model is not None and request.model not in (embedder.model_id, embedder.model_id.split("@")[0]):
            return error(
                404, f"model {request.model!r} is not served here; this server embeds with {embedder.model_id!r}"
            )
        texts = texts_of(request)

        def run() -> tuple[np.ndarray, int]:
            return embedder.embed_texts(texts), sum(embedder.count_tokens(t) for t in texts)

        vectors, tokens = await anyio.to_thread.run_sync(run, limiter=limiter)
        return EmbeddingResponse(
            data=[Embedding(embedding=_encode(v, request.encoding_format), index=i) for i, v in enumerate(vectors)],
            model=embedder.model_id,
            usage=Usage(prompt_tokens=tokens, total_tokens=tokens),
        )

    return router
