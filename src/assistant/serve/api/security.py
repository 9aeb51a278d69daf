"""Who may call, how often and how much: API keys, rate limits and body size.

Each is a small pure-ASGI middleware (no buffering of responses, so streamed answers stay streamed). They run
before FastAPI parses anything, so a refused request costs almost nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import anyio
from limits import parse
from limits.errors import ConfigurationError, StorageError
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...config import MIN_KEY_CHARS, Settings
from ...errors import ConfigError
from .errors import error

log = logging.getLogger(__name__)

REALM = 'Bearer realm="cfsp-assistant"'
PUBLIC = ("/docs", "/redoc", "/openapi.json", "/widget.js")  # documentation and the embed script: never guarded


def is_api(path: str) -> bool:
    """/api/... and /v1/...: the machine interface (keys and rate limits apply)."""
    return path.startswith(("/api/", "/v1/")) or path in ("/api", "/v1")


def is_public(path: str) -> bool:
    """Documentation and the embed script."""
    return any(path == p or path.startswith(p + "/") for p in PUBLIC)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def parse_keys(text: str, path: Path) -> tuple[set[str], list[str]]:
    """Keys of a keys file (one a line, blank lines and '#' comments ignored) and a message for each line that is
    not a usable key (too short, or not text)."""
    keys, problems = set(), []
    for number, line in enumerate(text.splitlines(), 1):
        key = line.split("#", 1)[0].strip()
        if not key:
            continue
        if len(key) < MIN_KEY_CHARS:
            problems.append(f"{path}, line {number}: an API key needs at least {MIN_KEY_CHARS} characters")
        elif "\ufffd" in key:
            problems.append(f"{path}, line {number}: not UTF-8 text")
        else:
            keys.add(key)
    return keys, problems


def _read_keys(path: Path) -> tuple[set[str], bytes]:
    """Keys from a file at start-up, strictly: an unreadable file or a bad line is a ConfigError naming it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the API keys file {path}: {exc.strerror or exc}") from None
    keys, problems = parse_keys(raw.decode("utf-8", "replace"), path)
    if problems:
        raise ConfigError(problems[0])
    warn_if_open(path)
    return keys, hashlib.sha256(raw).digest()


def warn_if_open(path: Path) -> None:
    """A warning in the log when users other than the owner may read the keys file (it still works)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & 0o044:
        log.warning("API keys file %s can be read by other users (mode %o): chmod 600 it", path, mode & 0o777)


class KeyRing:
    """The accepted API keys (kept as SHA-256 digests); the keys file is re-read when it changes, so keys can be
    added or revoked without a restart.

    Revoking must never fail open: while the file is missing or unreadable none of its keys is valid, and a
    rewritten file applies its valid lines (bad ones are skipped with a warning). A change is noticed at once
    when the file's size or modification time moves, and by its content (a hash) at most a second later when
    they do not (a copy that keeps the old time)."""

    RECHECK_SECONDS = 1.0

    def __init__(self, keys: Iterable[str] = (), path: Path | None = None):
        self.fixed = {_digest(k) for k in keys}
        self.path = path
        self.loaded: set[bytes] = set()
        self._content: bytes | None = None  # hash of the file's bytes the loaded keys came from
        self._stat: tuple | None = None
        self._checked = 0.0
        self._unreadable: str | None = None  # the problem already logged, so it is logged once
        if path is not None:
            keys_read, self._content = _read_keys(path)  # start-up stays strict: a bad file stops the server
            self.loaded = {_digest(k) for k in keys_read}
            self._stat, self._checked = self._stamp(path), time.monotonic()

    @classmethod
    def from_settings(cls, settings: Settings) -> "KeyRing":
        """The keys the settings list plus those of the keys file; a protected chat without keys is an error."""
        keys = (k.get_secret_value() for k in (*settings.api_keys, *settings.operator_keys))
        ring = cls(keys, settings.api_keys_file)
        if settings.protect_chat and not ring.enabled:
            raise ConfigError("protect_chat needs API keys: set CFSP_API_KEYS or CFSP_API_KEYS_FILE")
        return ring

    @staticmethod
    def _stamp(path: Path) -> tuple:
        info = path.stat()
        return info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns

    def _refresh(self) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        try:
            stamp = self._stamp(self.path)
            if stamp == self._stat and now - self._checked < self.RECHECK_SECONDS:
                return
            raw = self.path.read_bytes()
        except OSError as exc:
            self._fail_closed(f"{exc.strerror or exc}")
            return
        self._stat, self._checked = stamp, now
        content = hashlib.sha256(raw).digest()
        if content == self._content and self._unreadable is None:
            return
        keys, problems = parse_keys(raw.decode("utf-8", "replace"), self.path)
        for problem in problems:
            log.warning("API keys file: %s (line skipped)", problem)
        warn_if_open(self.path)
        self.loaded, self._content, self._unreadable = {_digest(k) for k in keys}, content, None
        log.info("API keys file %s reloaded: %d keys", self.path, len(keys))

    def _fail_closed(self, problem: str) -> None:
        """No key of the file is valid while it cannot be read; said once per problem, not on every request."""
        self.loaded, self._content, self._stat = set(), None, None
        if problem != self._unreadable:
            log.error(
                "API keys file %s cannot be read (%s): none of its keys is accepted until it can be", self.path, problem
            )
            self._unreadable = problem

    @property
    def enabled(self) -> bool:
        """True when any key is configured (then the API needs one)."""
        return bool(self.fixed or self.loaded or self.path is not None)

    def valid(self, key: str | None) -> bool:
        """Is this a configured key? Compared in constant time against every key."""
        if not key:
            return False
        self._refresh()
        digest = _digest(key)
        return any([hmac.compare_digest(digest, known) for known in self.fixed | self.loaded])


def bearer(headers: Headers) -> str | None:
    """The token of an `Authorization: Bearer ...` header, if any."""
    return token_of(headers.get("authorization"))


def token_of(authorization: str | None) -> str | None:
    """The token of an `Authorization` header value of the Bearer scheme, if any."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def caller_of(token: str | None, known: bool, client_host: str | None) -> str:
    """Whose allowance a request draws on: its key when the key is valid, else its client address."""
    return "key:" + _digest(token).hex()[:24] if known and token else "addr:" + (client_host or "?")


def redacted(url: str) -> str:
    """A storage URL fit for logs and messages: any password replaced by ***. The password runs to the last "@"
    before the host, as redis-py reads it, so one holding an unescaped "@" is hidden whole."""
    return re.sub(r"^([A-Za-z+]+://[^:/@]*):[^/]*@", r"\1:***@", url)


class RateLimit:
    """A moving-window limit per caller, counted by `limits`: in this process's memory (each server process counts
    alone), or in Redis (`storage`, e.g. redis://127.0.0.1:6379/0), shared by every worker and server using it.

    A Redis that cannot be reached at start-up is a ConfigError. One that goes away while serving does not take the
    service down with it: the counts fall back to this process's memory (each process then limits on its own, so a
    caller gets at most one allowance per process), a warning is logged once, and Redis is tried again every
    `RETRY_SECONDS` (a request never waits on more than one short timeout per round)."""

    RETRY_SECONDS = 5.0
    TIMEOUT_SECONDS = 0.5  # connecting and each command; Redis answers within a millisecond when it is up

    def __init__(self, rate: str, storage: str | None = None):
        self.item = parse(rate)
        self.url = storage or "memory://"
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self.shared = not self.url.startswith("memory://")
        self.limiter = self._connect(self.url) if self.shared else self.local
        self._retry_at = 0.0  # while Redis is down: when to try it again (time.monotonic())
        self._lock = threading.Lock()

    def _connect(self, url: str) -> MovingWindowRateLimiter:
        # redis is imported only when it is used: a server counting in memory never loads it
        from limits.storage import RedisStorage
        from redis import ConnectionPool
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import RedisError
        from redis.retry import Retry

        where = f"the rate-limit storage {redacted(url)} (CFSP_RATE_LIMIT_STORAGE)"
        try:
            pool = ConnectionPool.from_url(
                url,
                socket_connect_timeout=self.TIMEOUT_SECONDS,
                socket_timeout=self.TIMEOUT_SECONDS,
                # one quick reconnect when a connection was dropped (a restarted Redis), never seconds of back-off;
                # a timeout is not retried: a hung Redis then costs one timeout, not two (it cost 1.0 s)
                retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            )
            # wrap_exceptions: every storage failure is a limits StorageError
            backend = RedisStorage(url, connection_pool=pool, wrap_exceptions=True)
            backend.get_connection().ping()
        except (ConfigurationError, ValueError) as exc:
            raise ConfigError(f"cannot use {where}: {exc}") from None
        except TypeError as exc:  # redis passes the URL's query parameters to its connection class as arguments
            unknown = re.search(r"unexpected keyword argument '([^']+)'", str(exc))
            reason = f"the URL has an option Redis does not know: {unknown.group(1)}" if unknown else str(exc)
            raise ConfigError(f"cannot use {where}: {reason}") from None
        except RedisError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"cannot reach {where}: {reason}") from None
        return MovingWindowRateLimiter(backend)

    def _counter(self) -> MovingWindowRateLimiter:
        """Redis, unless it failed less than RETRY_SECONDS ago (then this process's memory)."""
        if self._retry_at and time.monotonic() < self._retry_at:
            return self.local
        return self.limiter

    def _run(self, step: Callable[[MovingWindowRateLimiter], int]) -> int:
        counter = self._counter()
        try:
            result = step(counter)
        except StorageError as exc:
            with self._lock:
                if not self._retry_at:
                    log.warning(
                        "rate-limit storage %s unreachable (%s): counting in this process's memory until it is back",
                        redacted(self.url),
                        exc.storage_error,
                    )
                self._retry_at = time.monotonic() + self.RETRY_SECONDS
            return step(self.local)
        if counter is not self.local and self._retry_at:
            with self._lock:
                if self._retry_at:
                    log.warning("rate-limit storage %s reachable again: counts are shared again", redacted(self.url))
                    self._retry_at = 0.0
        return result

    def hit(self, caller: str) -> int:
        """Count a request: 0 when it may go on, else the seconds until it may be retried."""
        return self._run(lambda counter: 0 if counter.hit(self.item, caller) else self._wait(counter, caller))

    async def hit_async(self, caller: str) -> int:
        """`hit` for the event loop: a shared storage is called from a worker thread, so a slow Redis never
        stalls the other requests of this process."""
        if not self.shared:
            return self.hit(caller)
        return await anyio.to_thread.run_sync(self.hit, caller)

    def peek(self, caller: str) -> int:
        """What `hit` would say now, without counting anything."""
        return self._run(lambda counter: 0 if counter.test(self.item, caller) else self._wait(counter, caller))

    def _wait(self, counter: MovingWindowRateLimiter, caller: str) -> int:
        reset = counter.get_window_stats(self.item, caller).reset_time
        return max(1, math.ceil(reset - time.time()))

    def too_many_questions(self, wait: int) -> str:
        """What a person asking in the chat is told when over the limit."""
        return f"too many questions: the limit is {self.item}; try again in {wait} s"


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
