"""Following the index while serving, with stand-in engines (no corpus, no model, no Chroma): a switch to a new
generation, the retired one kept open with its lease while a request still holds it, and a new generation that
cannot be loaded left alone. The manifest and the leases are the real files, in a temporary data folder."""

from __future__ import annotations

import time

import pytest

from assistant.config import Settings
from assistant.errors import IndexDamagedError
from assistant.index.generations import MANIFEST_FILE, IndexManifest, index_root, write_manifest
from assistant.index.leases import LEASE_DIR, leased_generations
from assistant.pipeline.watcher import IndexWatcher


class StandInIndex:
    """What the watcher needs of a loaded generation: its name, `close()` and `problem()`."""

    def __init__(self, generation: str):
        self.generation = generation
        self.closed = 0  # times closed
        self.trouble: str | None = None

    def close(self) -> None:
        self.closed += 1

    def problem(self) -> str | None:
        return self.trouble


class StandInEngine:
    def __init__(self, index: StandInIndex):
        self.index = index


class Harness:
    """A data folder with a manifest, and the watcher following it; `loaded` lists what it loaded."""

    def __init__(self, folder):
        self.settings = Settings(data_dir=folder)
        index_root(self.settings).mkdir(parents=True)
        self.publish("g1")
        self.first = StandInEngine(StandInIndex("g1"))
        self.loaded: list[str] = []
        self.indexes: dict[str, StandInIndex] = {}  # what it loaded, by generation
        self.broken: set[str] = set()  # generations whose loading fails
        self.watcher = IndexWatcher(self.settings, self.first, StandInEngine, self.load)

    def publish(self, generation: str) -> None:
        """What an ingest does when it is done: switch the manifest to its generation."""
        write_manifest(
            self.settings,
            IndexManifest(generation, f"cfsp-{generation}", "fp", "local", "cfsp-minilm", 384, 10, 2, "2025-01-01"),
        )

    def load(self, manifest: IndexManifest) -> StandInIndex:
        self.loaded.append(manifest.generation)
        if manifest.generation in self.broken:
            raise IndexDamagedError(f"the index of {manifest.generation} is damaged: passages.npy is missing")
        self.indexes[manifest.generation] = StandInIndex(manifest.generation)
        return self.indexes[manifest.generation]

    def lease_files(self) -> list[str]:
        """Generations named by the lease files in the data folder."""
        return sorted(p.name.split("@", 1)[0] for p in (index_root(self.settings) / LEASE_DIR).iterdir())


@pytest.fixture
def harness(tmp_path):
    h = Harness(tmp_path / "data")
    yield h
    h.watcher.close()


def test_a_request_keeps_a_retired_generation_open_and_leased_until_it_ends(harness):
    watcher, old = harness.watcher, harness.first
    assert harness.lease_files() == ["g1"]
    with watcher.using() as held:
        assert held is old
        harness.publish("g2")
        assert watcher.refresh() is True
        new = watcher.engine
        assert new.index.generation == "g2" and harness.loaded == ["g2"]
        # the request still answers from g1: not closed, and still leased so no ingest deletes it
        assert old.index.closed == 0
        assert leased_generations(harness.settings) == {"g1", "g2"}
        with watcher.using() as later:  # a request arriving now gets the new generation
            assert later is new
        assert old.index.closed == 0
    # the last request on g1 has ended: closed once, lease given up
    assert old.index.closed == 1 and new.index.closed == 0
    assert harness.lease_files() == ["g2"] and watcher.retired == []


def test_a_retired_generation_waits_for_its_last_request_not_its_first(harness):
    watcher, old = harness.watcher, harness.first
    first, second = watcher.using(), watcher.using()
    assert first.__enter__() is old and second.__enter__() is old
    harness.publish("g2")
    assert watcher.refresh() is True
    first.__exit__(None, None, None)
    assert old.index.closed == 0 and harness.lease_files() == ["g1", "g2"]
    second.__exit__(None, None, None)
    assert old.index.closed == 1 and harness.lease_files() == ["g2"]


def test_with_no_request_in_flight_the_old_generation_is_closed_at_the_switch(harness):
    watcher, old = harness.watcher, harness.first
    harness.publish("g2")
    assert watcher.refresh() is True
    assert old.index.closed == 1 and harness.lease_files() == ["g2"]
    # a third generation: the second goes the same way
    second = watcher.engine
    harness.publish("g3")
    assert watcher.refresh() is True
    assert second.index.closed == 1 and harness.lease_files() == ["g3"]
    assert harness.loaded == ["g2", "g3"]


def test_nothing_is_loaded_while_the_manifest_names_the_generation_served(harness):
    watcher = harness.watcher
    assert watcher.refresh() is False  # the manifest has not moved
    harness.publish("g1")  # rewritten (a new file) but naming the same generation
    assert watcher.refresh() is False
    assert harness.loaded == [] and watcher.engine is harness.first and harness.first.index.closed == 0
    assert harness.lease_files() == ["g1"] and watcher.problem is None


def test_a_new_generation_that_cannot_load_is_not_switched_to(harness, caplog):
    watcher, old = harness.watcher, harness.first
    harness.broken.add("g2")
    harness.publish("g2")
    with caplog.at_level("WARNING", logger="assistant.pipeline.watcher"):
        assert watcher.refresh() is False
    assert "not switching to the new index: the index of g2 is damaged" in caplog.text
    assert watcher.engine is old and old.index.closed == 0 and watcher.problem is None
    assert harness.lease_files() == ["g1"]  # no lease taken on the generation that failed

    # the manifest removed: the generation loaded keeps serving
    (index_root(harness.settings) / MANIFEST_FILE).unlink()
    assert watcher.refresh() is False
    assert watcher.engine is old and harness.loaded == ["g2"]


def test_a_generation_whose_engine_cannot_be_built_is_neither_kept_open_nor_leased(harness):
    def failing_build(index):
        raise RuntimeError("the engine could not be wired")

    watcher = IndexWatcher(harness.settings, harness.first, failing_build, harness.load)
    harness.publish("g2")
    assert watcher.refresh() is False  # said in the log; the old generation keeps serving
    assert watcher.engine is harness.first and harness.loaded == ["g2"]
    try:
        assert sorted(set(harness.lease_files())) == ["g1"]
        assert harness.indexes["g2"].closed == 1
        assert watcher.refresh() is False and harness.loaded == ["g2", "g2"]  # tried again, not forgotten
    finally:
        watcher.close()


def test_the_served_generations_problem_is_reported_until_it_is_gone(harness):
    watcher, served = harness.watcher, harness.first.index
    assert watcher.check() is None
    served.trouble = "the index folder …/g1 has been removed"
    assert watcher.check() == "the index folder …/g1 has been removed"
    assert watcher.refresh() is False and watcher.problem == "the index folder …/g1 has been removed"
    served.trouble = None
    assert watcher.refresh() is False and watcher.problem is None  # looked again: it can answer again


def test_the_watching_thread_switches_by_itself_and_close_gives_up_every_lease(harness):
    watcher, old = harness.watcher, harness.first
    holding = watcher.using()
    assert holding.__enter__() is old
    harness.publish("g2")
    watcher.watch(interval=0.02)
    deadline = time.monotonic() + 5
    while watcher.engine is old and time.monotonic() < deadline:
        time.sleep(0.01)
    assert watcher.engine.index.generation == "g2"
    assert harness.lease_files() == ["g1", "g2"]  # g1 still held by the request
    watcher.close()
    assert harness.lease_files() == [] and leased_generations(harness.settings) == set()
    holding.__exit__(None, None, None)
    assert old.index.closed == 1
