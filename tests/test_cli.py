"""The command line as a user runs it: help, one-line errors, human and JSON output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from assistant.config import PROJECT_ROOT

from .commands import CLI, clean_env, run_cli, settings_env


def run(home, args, **env):
    return run_cli(args, clean_env(home, **env), home, timeout=300)


@pytest.mark.parametrize("command", ["ingest", "ask", "sources", "benchmark", "eval"])
def test_help(home, command):
    result = run(home, [command, "--help"])
    assert result.returncode == 0 and "Usage" in result.stdout


def test_ask_without_index_says_how_to_build_it(home, tmp_path):
    result = run(home, ["ask", "What is PESCO?"], CFSP_DATA_DIR=str(tmp_path))
    assert result.returncode == 1
    assert "cfsp-assistant ingest" in result.stderr and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())  # said before the model is loaded: nothing unpacked into the data folder


def test_empty_question_is_rejected(home, tmp_path):
    result = run(home, ["ask", "  "], CFSP_DATA_DIR=str(tmp_path))
    assert result.returncode == 1 and "empty" in result.stderr


def test_wrong_setting_is_named(home, tmp_path):
    result = run(home, ["ask", "x"], CFSP_TOP_K="0")
    assert result.returncode == 1 and "CFSP_TOP_K" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_ask_json_and_human_output(home, full_index, full_settings):
    env = settings_env(full_settings, home)  # the session's model cache too: no export of the models again
    human = run_cli(["ask", "Can the EU decide foreign policy by majority vote?"], env, home, timeout=300)
    assert human.returncode == 0, human.stderr
    assert "[1] Art. 31(" in human.stdout and "data.europa.eu/eli/treaty/teu_2016/art_31" in human.stdout
    data = json.loads(run_cli(["ask", "--json", "What is the weather in Brussels?"], env, home, timeout=300).stdout)
    assert data["abstained"] is True and data["citations"] == []
    listing = run_cli(["sources"], env, home, timeout=300)
    assert "TEU" in listing.stdout and "32017D2315" in listing.stdout


def test_a_data_folder_under_a_regular_file_is_one_line(home, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    for command in (["ingest"], ["ask", "What is PESCO?"]):
        result = run(home, command, CFSP_DATA_DIR=str(blocker / "data"))
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1 and str(blocker) in result.stderr, result.stderr


def unprivileged(command: list[str]) -> list[str]:
    """The command run as an ordinary user: root may write anywhere, so a read-only folder needs someone else."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run a command as an ordinary user"
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]


@pytest.mark.slow
def test_a_read_only_data_folder_is_one_line_for_every_command(home, small_settings, embedder, cache_dir):
    from assistant.ingest.build import ingest

    # a world-readable copy of the small corpus and its index, then nobody may write to the data folder
    base = Path(tempfile.mkdtemp(prefix="cfsp-readonly-"))
    try:
        settings = small_settings.model_copy(
            update={
                "data_dir": base / "data",
                "embedding_cache": base / "data" / "embeddings.sqlite",
                "corpus_dir": base / "corpus",
                "catalogue_path": base / "catalogue.toml",
            }
        )
        shutil.copytree(small_settings.corpus_dir, base / "corpus")
        shutil.copy(small_settings.catalogue_path, base / "catalogue.toml")
        ingest(settings, embedder)
        shutil.copytree(cache_dir / "models", base / "data" / "models")  # the extracted (and merged) model
        shutil.copytree(settings.embedding_adapter, base / "adapter")  # the shipped adapter, readable by the user
        (base / "empty").mkdir()
        for path in [base, *base.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(base),
            "CFSP_DATA_DIR": str(settings.data_dir),
            "CFSP_CORPUS_DIR": str(settings.corpus_dir),
            "CFSP_CATALOGUE_PATH": str(settings.catalogue_path),
            "CFSP_EMBEDDING_ADAPTER": str(base / "adapter"),
            "GRADIO_ANALYTICS_ENABLED": "False",
        }
        commands = {
            "ask": CLI + ["ask", "What is PESCO?"],
            "ingest": CLI + ["ingest"],
            "app.py": [sys.executable, str(PROJECT_ROOT / "app.py")],
        }
        # with an index, and empty (ask says there is no index before loading the model; the others that the model
        # cannot be unpacked there)
        for data in (settings.data_dir, base / "empty"):
            for name, command in commands.items():
                result = subprocess.run(
                    unprivileged(command),
                    capture_output=True,
                    text=True,
                    timeout=300,
                    cwd=base,
                    env={**env, "CFSP_DATA_DIR": str(data)},
                )
                assert result.returncode == 1 and "Traceback" not in result.stderr, (name, result.stderr)
                last = result.stderr.strip().splitlines()[-1]
                assert last.startswith("error: ") and "CFSP_DATA_DIR" in last and str(data) in last, (name, last)
    finally:
        for path in [base, *base.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(base)
