"""Rate limits per caller: a moving window counted by `limits`, in memory or in Redis."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable

import anyio
from limits import parse
from limits.errors import ConfigurationError, StorageError
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from ....errors import ConfigError

log = logging.getLogger(__name__)


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
