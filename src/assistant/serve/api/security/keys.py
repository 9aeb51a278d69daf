"""API keys: read from the settings or a keys file (reloaded when it changes), checked in constant time;
whose allowance a request draws on."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Iterable
from pathlib import Path

from starlette.datastructures import Headers

from ....config import MIN_KEY_CHARS, Settings
from ....errors import ConfigError

log = logging.getLogger(__name__)


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
