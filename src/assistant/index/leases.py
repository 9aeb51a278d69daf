"""Leases and clean-up: a process serving a generation holds a lease on it (a small file it keeps touching), and an
ingest deletes an old generation only when no fresh lease holds it, so no index is pulled from under a running server.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import time
from pathlib import Path

from ..config import Settings
from .generations import index_root
from .store import VectorStore, collection_names, make_client

LEASE_DIR = "leases"
LEASE_TTL_SECONDS = 120.0  # a lease not renewed for this long belongs to a process that is gone


class Lease:
    """A serving process's claim on a generation: a file in `index/leases/` whose mtime the holder renews."""

    def __init__(self, settings: Settings, generation: str):
        self.generation = generation
        folder = index_root(settings) / LEASE_DIR
        self.path = folder / f"{generation}@{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.path.touch()
        except OSError:  # a read-only data folder can still be served; it cannot be re-ingested either
            pass

    def renew(self) -> None:
        """Mark the claim as still held."""
        try:
            self.path.touch()
        except OSError:
            pass

    def release(self) -> None:
        """Give the claim up."""
        self.path.unlink(missing_ok=True)


def _lease_alive(path: Path, now: float) -> bool:
    """A lease is held when renewed recently by a process that still exists (checked for this host's processes)."""
    try:
        if now - path.stat().st_mtime > LEASE_TTL_SECONDS:
            return False
    except OSError:
        return False
    host_pid = path.name.split("@", 1)[-1].rpartition("-")[0]  # generation@host-pid-token
    host, _, pid = host_pid.rpartition("-")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # exists, owned by someone else
            return True
    return True


def leased_generations(settings: Settings) -> set[str]:
    """Generations some live process still serves; leases of gone processes are removed on the way."""
    folder = index_root(settings) / LEASE_DIR
    held: set[str] = set()
    now = time.time()
    for path in folder.glob("*@*") if folder.is_dir() else ():
        if _lease_alive(path, now):
            held.add(path.name.split("@", 1)[0])
        else:
            path.unlink(missing_ok=True)
    return held


def remove_stale(settings: Settings, keep: set[str]) -> list[str]:
    """Delete every generation (folder, or collection on a Chroma server) that is neither kept nor leased, plus
    leftovers of interrupted builds and of the old shared-Chroma layout. Only an ingest holding the ingest lock
    calls this. Returns the generations removed."""
    root = index_root(settings)
    keep = set(keep) | leased_generations(settings)
    removed: list[str] = []
    if root.is_dir():
        for child in root.iterdir():
            if child.is_dir() and child.name != LEASE_DIR and child.name not in keep:
                shutil.rmtree(child, ignore_errors=True)
                removed.append(child.name)
    legacy = settings.data_dir / "chroma"  # format 1 kept every generation in one shared Chroma folder
    if legacy.is_dir() and not settings.server_mode:
        shutil.rmtree(legacy, ignore_errors=True)
    if settings.server_mode:
        client = make_client(settings)
        prefix = f"{settings.collection_prefix}-"
        for name in collection_names(client, settings.collection_prefix):
            if name[len(prefix) :] not in keep:
                VectorStore(client, name).drop()
    return removed
