"""The served index on a small real corpus: a damaged index is detected and repaired by `ingest`, an old
generation stays while a server still holds it, and every problem is one line naming what to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest

from assistant.errors import IndexDamagedError
from assistant.index.generations import chroma_dir, generation_dir, index_root, load_index, read_manifest
from assistant.index.leases import LEASE_DIR, leased_generations
from assistant.index.store import make_client
from assistant.ingest.build import ingest
from assistant.pipeline import Assistant
from assistant.serve.api import create_app
from assistant.serve.feedback import FeedbackStore

from .commands import run_cli, settings_env
from .servers import Served

QUESTION = "What are the restrictive measures against cyber-attacks?"


def generations(settings) -> set[str]:
    """Generation folders present in the data folder."""
    root = index_root(settings)
    return {p.name for p in root.iterdir() if p.is_dir() and p.name != LEASE_DIR}


def cli(settings, *args: str) -> subprocess.CompletedProcess:
    """The real command line on these settings (a clean environment: nothing of the developer's)."""
    home = settings.data_dir.parent
    return run_cli(list(args), settings_env(settings, home), home)


def damage_passages(folder):
    (folder / "passages.npy").unlink()


def damage_chunks(folder):
    chunks = folder / "chunks.jsonl"
    chunks.write_bytes(chunks.read_bytes()[: chunks.stat().st_size // 2])


def damage_vectors(folder):
    database = folder / "chroma" / "chroma.sqlite3"
    database.write_bytes(b"this is not a database" * 100)


def damage_bm25(folder):
    for path in (folder / "bm25").iterdir():
        path.write_bytes(b"\0" * 10)


@pytest.mark.parametrize("damage", [damage_passages, damage_chunks, damage_vectors, damage_bm25])
def test_a_damaged_index_is_reported_and_repaired_by_ingest(small_settings, embedder, damage):
    first = ingest(small_settings, embedder)
    damage(generation_dir(small_settings, first.generation))
    with pytest.raises(IndexDamagedError, match="re-run `cfsp-assistant ingest` to repair it") as err:
        load_index(small_settings)
    assert "\n" not in str(err.value)

    repaired = ingest(small_settings, embedder)
    assert not repaired.unchanged and repaired.repaired and repaired.embedded == 0  # vectors come from the cache
    assert repaired.generation != first.generation and generations(small_settings) == {repaired.generation}
    with Assistant.from_settings(small_settings, embedder) as served:
        assert served.ask(QUESTION).citations[0].source_id == "32019D0797"
    assert ingest(small_settings, embedder).unchanged


@pytest.mark.slow  # runs the command line, loading the model in a new process
def test_a_truncated_manifest_is_one_line_and_repaired(small_settings, embedder):
    ingest(small_settings, embedder)
    manifest = index_root(small_settings) / "current.json"
    manifest.write_text(manifest.read_text(encoding="utf-8")[:100], encoding="utf-8")

    asked = cli(small_settings, "ask", QUESTION)
    assert asked.returncode == 1 and "Traceback" not in asked.stderr
    assert asked.stderr.count("\n") == 1 and "current.json is corrupt" in asked.stderr and "ingest" in asked.stderr

    repaired = cli(small_settings, "ingest")
    assert repaired.returncode == 0 and "Traceback" not in repaired.stderr, repaired.stderr
    assert "repaired: the index manifest" in repaired.stderr
    assert read_manifest(small_settings) is not None and cli(small_settings, "ask", QUESTION).returncode == 0


@pytest.mark.slow  # runs the command line, loading the model in a new process
def test_rebuild_makes_a_fresh_generation(small_settings, embedder):
    first = ingest(small_settings, embedder)
    result = cli(small_settings, "ingest", "--rebuild")
    assert result.returncode == 0, result.stderr
    manifest = read_manifest(small_settings)
    assert manifest.generation != first.generation and f"serving generation {manifest.generation}" in result.stdout
    assert generations(small_settings) == {manifest.generation}


def test_an_old_generation_stays_while_a_server_holds_it(small_settings, small_corpus, embedder):
    first = ingest(small_settings, embedder)
    server = Assistant.from_settings(small_settings, embedder)  # holds a lease on the first generation
    try:
        corpus, _ = small_corpus
        (corpus / "eurlex-sum/32014D0415.json").unlink()
        second = ingest(small_settings, embedder)
        assert first.generation in leased_generations(small_settings)
        assert generations(small_settings) == {first.generation, second.generation}
        # the server keeps answering from what it loaded until it moves over by itself
        assert server.ask(QUESTION).citations and server.index.generation == first.generation
        assert server.refresh() and server.index.generation == second.generation
        assert server.ask(QUESTION).citations[0].source_id == "32019D0797"
        assert not server.refresh()  # nothing new
        # once no one holds it, the next ingest (even an unchanged one) removes the old generation
        again = ingest(small_settings, embedder)
        assert again.unchanged and again.retired == [first.generation]
        assert generations(small_settings) == {second.generation}
    finally:
        server.close()
    assert not any((index_root(small_settings) / LEASE_DIR).iterdir())


def test_leases_of_dead_processes_do_not_count(small_settings, embedder):
    first = ingest(small_settings, embedder)
    folder = index_root(small_settings) / LEASE_DIR
    folder.mkdir(exist_ok=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    (folder / f"g-old@{socket.gethostname()}-{dead.stdout.strip()}-abc123").touch()
    stale = folder / "g-stale@elsewhere-1-abc123"
    stale.touch()
    os.utime(stale, (1, 1))
    assert leased_generations(small_settings) == set()
    assert not any(folder.iterdir())
    assert read_manifest(small_settings).generation == first.generation


def test_a_server_reports_an_index_removed_under_it_and_recovers(small_settings, embedder):
    first = ingest(small_settings, embedder)
    with Assistant.from_settings(small_settings, embedder) as server:
        assert server.check() is None
        # another program deletes the served vectors: questions get a clear 503-type error, health a problem
        other = make_client(small_settings, chroma_dir(small_settings, first.generation))
        other.delete_collection(server.index.manifest.collection)
        with pytest.raises(IndexDamagedError, match="the index being served is unusable") as err:
            server.ask(QUESTION)
        assert "\n" not in str(err.value)
        assert "vector store" in server.check()
        # the folder goes too; ingest repairs it and the server moves to the repaired generation by itself
        shutil.rmtree(generation_dir(small_settings, first.generation))
        assert "removed" in server.check()
        repaired = ingest(small_settings, embedder)
        assert repaired.repaired and "missing" in repaired.repaired
        assert server.refresh() and server.check() is None
        assert server.ask(QUESTION).citations[0].source_id == "32019D0797"


def test_passage_vectors_match_their_chunks(small_settings, embedder):
    ingest(small_settings, embedder)
    index = load_index(small_settings)
    try:
        # stored as float16 for scoring; the first passage's vector is its text's
        local = embedder.embed_texts([index.chunks[0].embed_text])[0]
        assert float(np.abs(index.passage_vectors[0].astype(np.float32) - local).max()) < 1e-3
    finally:
        index.close()


def test_over_http_an_unusable_index_is_a_503_and_health_unready_until_repaired(small_settings, embedder, tmp_path):
    first = ingest(small_settings, embedder)
    with Assistant.from_settings(small_settings, embedder) as server:
        served = Served(create_app(server, small_settings, FeedbackStore(tmp_path / "feedback.sqlite")))
        try:
            assert httpx.get(f"{served.url}/api/v1/health").json()["ready"] is True
            make_client(small_settings, chroma_dir(small_settings, first.generation)).delete_collection(
                server.index.manifest.collection
            )
            asked = httpx.post(f"{served.url}/api/v1/ask", json={"question": QUESTION}, timeout=30)
            assert asked.status_code == 503 and "the index being served is unusable" in asked.json()["error"]
            health = httpx.get(f"{served.url}/api/v1/health")
            assert health.status_code == 503 and health.json()["ready"] is False
            assert "vector store" in health.json()["problem"]
            ingest(small_settings, embedder)  # the repair the message names; the server follows it by itself
            deadline = time.monotonic() + 30
            while httpx.get(f"{served.url}/api/v1/health").status_code != 200:
                assert time.monotonic() < deadline, "the server did not move to the repaired index"
                time.sleep(0.2)
            answered = httpx.post(f"{served.url}/api/v1/ask", json={"question": QUESTION}, timeout=30)
            assert answered.status_code == 200 and answered.json()["citations"][0]["source_id"] == "32019D0797"
        finally:
            served.stop()


def test_every_search_is_answered_after_the_served_folder_is_removed(small_settings, embedder):
    """A process keeps the database files it opened, but the embedded Chroma now and then opens a new connection,
    which fails for a moment once the folder is gone (up to one read in ten here): each of 600 searches still
    finds the passage nearest its own vector first."""
    first = ingest(small_settings, embedder)
    folder = generation_dir(small_settings, first.generation)
    kept = folder.with_name("kept")
    shutil.copytree(folder, kept)
    found = []
    for trial in range(50):
        index = load_index(small_settings)
        try:
            shutil.rmtree(folder)  # its files stay open in this process
            for i in range(12):
                position = (trial * 12 + i) % len(index.chunks)
                vector = index.passage_vectors[position].astype(np.float32)
                nearest = index.vectors.search(vector / np.linalg.norm(vector), 1)
                found.append(nearest[0][0] == index.chunks[position].id)
        finally:
            index.close()
            shutil.copytree(kept, folder)
    assert len(found) == 600 and all(found), f"{found.count(False)} of 600 searches found another passage"
