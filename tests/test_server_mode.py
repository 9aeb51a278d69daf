"""Server mode: ingest into and answer from a real `chroma run` server on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.ingest.build import ingest
from assistant.pipeline import Assistant

from .servers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def chroma_server(tmp_path):
    port = free_port()
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start")
    yield port
    proc.terminate()
    proc.wait(timeout=30)


def test_ingest_and_ask_through_chroma_server(small_settings, embedder, chroma_server):
    settings = small_settings.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": chroma_server})
    report = ingest(settings, embedder)
    assert report.chunks > 50
    assistant = Assistant.from_settings(settings, embedder)
    assert assistant.index.vectors.count() == report.chunks
    answer = assistant.ask("What are the restrictive measures against cyber-attacks?")
    assert answer.citations and answer.citations[0].source_id == "32019D0797"
    assert ingest(settings, embedder).unchanged
