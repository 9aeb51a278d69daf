"""The `openai-compatible` embedding provider: any server speaking OpenAI's `POST /embeddings` protocol
(this project's own `/v1/embeddings`, a vLLM or text-embeddings-inference server, a hosted API).

Passages and their sentences are embedded as separate inputs (an API returns one vector per input, not token
vectors). Chunk sizes are counted with the packaged model's tokenizer, so chunks do not depend on the provider.
"""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import httpx
import numpy as np
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from ..errors import ModelError

PROVIDER = "openai-compatible"
_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class _Retryable(Exception):
    """A failure worth retrying: the connection, a timeout, or a 429/5xx answer (with its Retry-After)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class OpenAICompatibleEmbedder:
    """Embeds through an OpenAI-compatible HTTP endpoint, in batches, with retries and back-off."""

    def __init__(
        self,
        base_url: str,
        model: str,
        tokenizer_path: Path,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout: float = 30.0,
        retries: int = 3,
        client: httpx.Client | None = None,
    ):
        from tokenizers import Tokenizer

        self.url = base_url.rstrip("/") + "/embeddings"
        self.model_id = model
        self.space = f"{PROVIDER}:{model}"  # embedding-cache namespace: never mixed with another provider's vectors
        self.batch_size = batch_size
        self.retries = retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or httpx.Client(timeout=timeout, headers=headers)
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.no_padding()  # the file pads and truncates to the model's window: count the real tokens
        self.tokenizer.no_truncation()
        self.dim = int(self._request(["dimension probe"]).shape[1])

    def _request(self, texts: list[str]) -> np.ndarray:
        """One POST, retried on transient failures; unit vectors in input order."""

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            backoff = wait_exponential(multiplier=0.5, max=8)(state)
            return max(backoff, getattr(exc, "retry_after", None) or 0.0)

        try:
            for attempt in Retrying(
                stop=stop_after_attempt(self.retries + 1),
                wait=wait,
                reraise=True,
                retry=retry_if_exception(lambda e: isinstance(e, _Retryable)),
            ):
                with attempt:
                    return self._post(texts)
        except _Retryable as exc:
            raise ModelError(
                f"the embeddings endpoint {self.url} failed after {self.retries + 1} attempts: {exc}"
            ) from None
        raise AssertionError("unreachable")

    def _post(self, texts: list[str]) -> np.ndarray:
        try:
            response = self.client.post(self.url, json={"input": texts, "model": self.model_id})
        except httpx.TransportError as exc:
            raise _Retryable(f"cannot reach it ({exc.__class__.__name__}: {exc})") from None
        if response.status_code in _RETRY_STATUS:
            raise _Retryable(f"HTTP {response.status_code}", _retry_after(response))
        if response.status_code in (401, 403):
            raise ModelError(
                f"the embeddings endpoint {self.url} refused the key (HTTP {response.status_code}): "
                "check CFSP_EMBEDDING_API_KEY"
            )
        if response.status_code != 200:
            raise ModelError(
                f"the embeddings endpoint {self.url} answered HTTP {response.status_code}: {response.text[:200]}"
            )
        try:
            data = sorted(response.json()["data"], key=lambda row: row["index"])
            vectors = np.asarray([row["embedding"] for row in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"the embeddings endpoint {self.url} did not answer in the OpenAI format ({exc})"
            ) from None
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise ModelError(
                f"the embeddings endpoint {self.url} returned {len(vectors)} vectors for {len(texts)} inputs"
            )
        return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of the texts, `batch_size` inputs per request."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(
            [self._request(list(texts[i : i + self.batch_size])) for i in range(0, len(texts), self.batch_size)]
        )

    def embed_query(self, text: str) -> np.ndarray:
        """Unit vector of one question."""
        return self.embed_texts([text])[0]

    def embed_passages(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors, and a vector per sentence span, each sentence sent as its own input."""
        passages = self.embed_texts(texts)
        pieces = [text[s:e] for text, text_spans in zip(texts, spans, strict=True) for s, e in text_spans]
        sentence_rows = self.embed_texts(pieces)
        out, at = [], 0
        for text_spans in spans:
            out.append(sentence_rows[at : at + len(text_spans)].reshape(len(text_spans), self.dim))
            at += len(text_spans)
        return passages, out

    def count_tokens(self, text: str) -> int:
        """Word-piece tokens by the packaged model's tokenizer (so chunking matches the local provider)."""
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)
