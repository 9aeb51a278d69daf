"""Following the index while serving: the generation served, a lease on it, and a switch to a new generation when an
ingest writes one; the generations switched away from stay open, with their leases, until their last request ends."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..config import Settings
from ..errors import IndexMissingError, IndexUnusableError
from ..index.generations import Index, IndexManifest, manifest_stamp, read_manifest
from ..index.leases import Lease
from .engine import Engine

log = logging.getLogger(__name__)


class IndexWatcher:
    """The engine serving now, handed to each request for as long as it runs, and the thread that follows the index.

    `build` wires an engine on a loaded generation; `load` loads the generation a manifest names."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        build: Callable[[Index], Engine],
        load: Callable[[IndexManifest], Index],
    ):
        self.settings = settings
        self._build = build
        self._load = load
        self._engine = engine
        self._lease: Lease | None = Lease(settings, engine.index.generation)
        self._stamp = manifest_stamp(settings)
        self._swap = threading.Lock()
        # generations switched away from, with their leases, kept until their last request has finished
        self.retired: list[tuple[Engine, Lease | None]] = []
        self._users: dict[int, int] = {}  # requests in flight per engine (by id)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.problem: str | None = None  # why the served index cannot answer, while it cannot

    @property
    def engine(self) -> Engine:
        """The engine serving new requests."""
        return self._engine

    @contextmanager
    def using(self) -> Iterator[Engine]:
        """The engine serving now, held for the request: a switch meanwhile closes it only after the request ends."""
        with self._swap:
            engine = self._engine
            self._users[id(engine)] = self._users.get(id(engine), 0) + 1
        try:
            yield engine
        finally:
            with self._swap:
                left = self._users[id(engine)] - 1
                if left:
                    self._users[id(engine)] = left
                else:
                    del self._users[id(engine)]
                    self._close_idle()

    def _close_idle(self) -> None:
        """Close the retired generations no request holds any more and give up their leases (under `_swap`)."""
        keep = []
        for engine, lease in self.retired:
            if id(engine) in self._users:
                keep.append((engine, lease))
                continue
            engine.index.close()
            if lease is not None:
                lease.release()
        self.retired = keep

    def refresh(self) -> bool:
        """Move to the generation the manifest names if it is not the one served; True when it switched.
        A new generation that cannot be loaded is not switched to (the old one keeps serving, if it can)."""
        with self._swap:
            self._close_idle()
            stamp = manifest_stamp(self.settings)
            if stamp == self._stamp and self.problem is None:
                return False
            self._stamp = stamp
            retiring = self._engine
            served = retiring.index
            try:
                manifest = read_manifest(self.settings)
                if manifest is None:
                    raise IndexMissingError(f"the index manifest in {self.settings.data_dir} has been removed")
                if manifest.generation == served.generation:
                    self.problem = served.problem()
                    return False
                index = self._load(manifest)
            except IndexUnusableError as exc:
                self.problem = served.problem()
                log.warning("not switching to the new index: %s", exc)
                return False
            try:
                engine = self._build(index)
            except Exception:  # the old generation keeps serving; the next round tries the new one again
                index.close()
                self._stamp = None
                log.exception("not switching to index generation %s: its engine could not be built", index.generation)
                return False
            lease = Lease(self.settings, index.generation)
            self._engine = engine
            self.problem = None
            # the old generation (and its lease, so no ingest removes it) stays until its requests have finished
            self.retired.append((retiring, self._lease))
            self._lease = lease
            self._close_idle()
            log.info("now serving index generation %s (was %s)", index.generation, served.generation)
            return True

    def check(self) -> str | None:
        """Why the served index cannot answer now (its folder or vector store is gone), or None when it can."""
        self.problem = self._engine.index.problem()
        return self.problem

    def watch(self, interval: float | None = None) -> None:
        """Follow the index in a background thread: renew the leases and switch to new generations."""
        if self._thread is not None:
            return
        interval = interval or self.settings.index_poll_seconds
        stop = self._stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self._renew()
                    self.refresh()
                except Exception:  # never let the watcher die: the next round tries again
                    log.exception("checking for a new index failed")

        self._thread = threading.Thread(target=loop, name="index-watcher", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        """Keep the leases of the served generation and of the retired ones still answering requests alive."""
        with self._swap:
            for lease in [self._lease, *(held for _, held in self.retired)]:
                if lease is not None:
                    lease.renew()

    def unwatch(self) -> None:
        """Stop following the index (the lease stays until `close`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def close(self) -> None:
        """Stop watching and give up the leases (the generation may then be cleaned up by the next ingest)."""
        self.unwatch()
        with self._swap:
            for _, lease in self.retired:
                if lease is not None:
                    lease.release()
            if self._lease is not None:
                self._lease.release()
                self._lease = None
