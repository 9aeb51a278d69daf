"""`app.py` as operators run it: a real server process that keeps answering while another process re-ingests,
moves to the new index by itself, and lets the old one go."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from assistant.index.generations import generation_dir, index_root
from assistant.index.leases import LEASE_DIR
from assistant.ingest.build import ingest

from .commands import CLI, settings_env
from .servers import start_app_py

NEW_TEXT = (
    "Hybrid threats\n\nThe Union's member states agreed to set up rapid response teams against hybrid "
    "campaigns, coordinated through a single contact point in each capital.\n"
)


def environment(settings, **extra: str) -> dict[str, str]:
    """Only what the server and the CLI need: nothing of the developer's own CFSP_* settings or .env."""
    return settings_env(settings, settings.data_dir.parent, **extra)


class AppProcess:
    """`python app.py` on a free loopback port, its output kept in a log file."""

    def __init__(self, env: dict[str, str], log: Path):
        self.proc, self.port = start_app_py(env, log)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("app.py did not start:\n" + log.read_text(errors="replace")[-3000:])
            time.sleep(0.5)

    def health(self) -> dict:
        return httpx.get(f"{self.url}/api/v1/health", timeout=10).json()

    def ask(self, question: str) -> httpx.Response:
        return httpx.post(f"{self.url}/api/v1/ask", json={"question": question}, timeout=30)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.mark.slow
def test_ingest_in_another_process_never_breaks_the_running_server(small_settings, small_corpus, embedder, tmp_path):
    first = ingest(small_settings, embedder)
    env = environment(small_settings, CFSP_INDEX_POLL_SECONDS="0.5", CFSP_RATE_LIMIT="off")
    server = AppProcess(env, tmp_path / "app.log")
    try:
        assert server.health()["generation"] == first.generation
        statuses: list[int] = []
        stop = threading.Event()

        def keep_asking() -> None:
            while not stop.is_set():
                statuses.append(server.ask("What are the restrictive measures against cyber-attacks?").status_code)

        asker = threading.Thread(target=keep_asking)
        asker.start()
        try:
            corpus, _ = small_corpus
            (corpus / "notes").mkdir()
            (corpus / "notes" / "hybrid-threats.txt").write_text(NEW_TEXT, encoding="utf-8")
            result = subprocess.run(CLI + ["ingest"], capture_output=True, text=True, env=env, timeout=600)
            assert result.returncode == 0, result.stderr
            assert "reader model ready in" in result.stderr  # made ready beside the embedding model, for the server
            deadline = time.monotonic() + 30
            while server.health()["generation"] == first.generation:
                assert time.monotonic() < deadline, "the server did not move to the new index"
                time.sleep(0.25)
            time.sleep(1)  # a few more questions on the new generation
        finally:
            stop.set()
            asker.join()
        assert len(statuses) > 5 and set(statuses) == {200}, statuses
        health = server.health()
        assert health["ready"] and health["generation"] != first.generation
        answer = server.ask("Who coordinates the rapid response teams against hybrid campaigns?").json()
        assert answer["citations"][0]["source_id"] == "hybrid-threats"
        # the server let the old generation go, so the next ingest (nothing changed) removes it
        again = ingest(small_settings, embedder)
        assert again.unchanged and first.generation in again.retired
        assert not generation_dir(small_settings, first.generation).exists()
    finally:
        server.stop()
    assert not list((index_root(small_settings) / LEASE_DIR).iterdir())  # released on shutdown
