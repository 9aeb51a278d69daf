"""The command line as a user runs it: help, one-line errors, human and JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CLI = [sys.executable, "-c", "from assistant.cli import main; main()"]


def run(args, **env):
    return subprocess.run(CLI + args, capture_output=True, text=True, env={**os.environ, **env}, timeout=300)


@pytest.mark.parametrize("command", ["ingest", "ask", "sources", "benchmark", "eval"])
def test_help(command):
    result = run([command, "--help"])
    assert result.returncode == 0 and "Usage" in result.stdout


def test_ask_without_index_says_how_to_build_it(tmp_path):
    result = run(["ask", "What is PESCO?"], CFSP_DATA_DIR=str(tmp_path))
    assert result.returncode == 1
    assert "cfsp-assistant ingest" in result.stderr and "Traceback" not in result.stderr


def test_empty_question_is_rejected(tmp_path):
    result = run(["ask", "  "], CFSP_DATA_DIR=str(tmp_path))
    assert result.returncode == 1 and "empty" in result.stderr


def test_wrong_setting_is_named(tmp_path):
    result = run(["ask", "x"], CFSP_TOP_K="0")
    assert result.returncode == 1 and "CFSP_TOP_K" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_ask_json_and_human_output(full_index, full_settings):
    env = {"CFSP_DATA_DIR": str(full_settings.data_dir), "CFSP_EMBEDDING_CACHE": str(full_settings.embedding_cache)}
    human = run(["ask", "Can the EU decide foreign policy by majority vote?"], **env)
    assert human.returncode == 0, human.stderr
    assert "[1] Art. 31(" in human.stdout and "data.europa.eu/eli/treaty/teu_2016/art_31" in human.stdout
    data = json.loads(run(["ask", "--json", "What is the weather in Brussels?"], **env).stdout)
    assert data["abstained"] is True and data["citations"] == []
    listing = run(["sources"], **env)
    assert "TEU" in listing.stdout and "32017D2315" in listing.stdout
