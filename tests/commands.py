"""Running the real command line and app.py from tests: a clean environment (nothing of the developer's CFSP_*
settings, .env or home folder) and a working folder in pytest's temporary space."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from assistant.config import Settings

CLI = [sys.executable, "-m", "assistant"]


def clean_env(home: Path, **settings: str) -> dict[str, str]:
    """Only what a command needs: PATH, a home in the test's temporary folder, and the given settings."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "GRADIO_ANALYTICS_ENABLED": "False", **settings}


def settings_env(settings: Settings, home: Path, **extra: str) -> dict[str, str]:
    """A clean environment that points a command at the same corpus, catalogue, data folder and cache."""
    return clean_env(
        home,
        CFSP_DATA_DIR=str(settings.data_dir),
        CFSP_CORPUS_DIR=str(settings.corpus_dir),
        CFSP_CATALOGUE_PATH=str(settings.catalogue_path),
        CFSP_EMBEDDING_CACHE=str(settings.embedding_cache or settings.data_dir / "embeddings.sqlite"),
        CFSP_MODEL_CACHE=str(settings.models_dir),
        **extra,
    )


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """`cfsp-assistant ARGS` as a user runs it (from a folder without a .env), output captured."""
    return subprocess.run(CLI + args, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
