"""Data the assistant writes is its own: folders it creates are 0700 and its databases 0600, whatever the umask
(ratings hold what people typed; a world-readable feedback.sqlite once showed them to every local user)."""

from __future__ import annotations

import os
from pathlib import Path


def private_folder(path: Path) -> None:
    """Create `path` (and missing parents) readable by the owner only; an existing folder is left as it is."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    path.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        folder.chmod(0o700)


def private_file(path: Path) -> None:
    """Create an empty `path` with mode 0600 if it does not exist yet (its folder too, 0700), so a database opened
    on it afterwards (and SQLite's journal, which copies its mode) is never readable by others."""
    private_folder(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
