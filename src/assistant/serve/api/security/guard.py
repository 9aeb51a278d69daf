"""The two pure-ASGI middlewares (no buffering of responses, so streamed answers stay streamed): `Guard`
(API keys and rate limits) and `BodyLimit` (request size). They run before FastAPI parses anything, so a refused
request costs almost nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import error
from .keys import KeyRing, bearer, caller_of, token_of
from .rates import RateLimit

REALM = 'Bearer realm="cfsp-assistant"'
PUBLIC = ("/docs", "/redoc", "/openapi.json", "/widget.js")  # documentation and the embed script: never guarded


def is_api(path: str) -> bool:
    """/api/... and /v1/...: the machine interface (keys and rate limits apply)."""
    return path.startswith(("/api/", "/v1/")) or path in ("/api", "/v1")


def is_public(path: str) -> bool:
    """Documentation and the embed script."""
    return any(path == p or path.startswith(p + "/") for p in PUBLIC)


def question_refusal(keys: KeyRing, rate: RateLimit | None) -> Callable[[str | None, str | None], str | None]:
    """For the chat page, before it enqueues a question: the message saying why the question would be refused now
    (the asker is over the rate limit), or None. Takes the Authorization header and the client address, and judges
    them as `Guard` does; nothing is counted (`Guard` counts the question when it is enqueued)."""

    def refusal(authorization: str | None, client_host: str | None) -> str | None:
        if rate is None:
            return None
        token = token_of(authorization)
        known = keys.valid(token) if keys.enabled and token else False
        wait = rate.peek(caller_of(token, known, client_host))
        return rate.too_many_questions(wait) if wait else None

    return refusal


def enqueues_question(method: str, path: str, mounts: Iterable[str]) -> bool:
    """A POST that puts a question in a chat page's queue: Gradio's queue/join (the page and gradio_client) and
    call/<name> (its REST form). The page's instant steps (emptying the box, showing Stop) are separate requests
    that are not counted, so one question asked in a browser counts once."""
    if method != "POST":
        return False
    for mount in mounts:
        rest = path[len(mount) :] if path.startswith(mount + "/gradio_api/") else None
        if rest is not None and (rest.rstrip("/") == "/gradio_api/queue/join" or rest.startswith("/gradio_api/call/")):
            return True
    return False


class Guard:
    """API keys and rate limits on /api and /v1 (and on the chat page when it is protected); questions put to the
    chat pages' queues count against the same limit as the API's (one shared `RateLimit`).

    The rate limit counts per key for a valid key, else per client address, and is checked before the key is
    judged, so guessing keys is slowed down too."""

    def __init__(
        self,
        app: ASGIApp,
        keys: KeyRing,
        rate: RateLimit | None,
        protect_chat: bool,
        chat_mounts: Iterable[str] = ("",),
    ):
        self.app, self.keys, self.rate, self.protect_chat = app, keys, rate, protect_chat
        self.chat_mounts = tuple(m.rstrip("/") for m in chat_mounts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        api = is_api(scope["path"])
        question = not api and enqueues_question(scope["method"], scope["path"], self.chat_mounts)
        needs_key = api or self.protect_chat
        if not needs_key and not (question and self.rate is not None):
            await self.app(scope, receive, send)
            return
        token = bearer(Headers(scope=scope))
        known = self.keys.valid(token) if self.keys.enabled else False
        if (api or question) and self.rate is not None:
            wait = await self.rate.hit_async(caller_of(token, known, (scope.get("client") or (None,))[0]))
            if wait:
                message = (
                    self.rate.too_many_questions(wait)
                    if question
                    else f"too many requests: the limit is {self.rate.item}; retry in {wait} s"
                )
                await error(429, message, {"Retry-After": str(wait)})(scope, receive, send)
                return
        if needs_key and self.keys.enabled and not known:
            challenge = REALM + (', error="invalid_token"' if token else "")
            message = "invalid API key" if token else "an API key is required: send Authorization: Bearer <key>"
            await error(401, message, {"WWW-Authenticate": challenge})(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for a body over the limit: at once from Content-Length, or as soon as a chunked body passes it."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if not length.isdigit():
                await error(400, "invalid Content-Length header")(scope, receive, send)
            elif int(length) > self.max_bytes:
                await self._too_large(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        # no length given (chunked): read up to the limit before the app sees any of it
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
        body: bytes | None = b"".join(chunks)

        async def replay() -> Message:
            nonlocal body
            if body is None:
                return await receive()
            message, body = {"type": "http.request", "body": body, "more_body": False}, None
            return message

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await error(413, f"the request body is larger than {self.max_bytes} bytes")(scope, receive, send)
