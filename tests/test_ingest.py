"""Ingest on a small real corpus: idempotent, incremental, crash-safe, and tolerant of broken files."""

from __future__ import annotations

import json
import uuid

import pytest

from assistant.embedding.adapter import adapter_identity
from assistant.errors import CorpusError
from assistant.index.generations import IndexManifest, read_manifest
from assistant.ingest.build import ingest
from assistant.pipeline import Assistant


def test_second_run_changes_nothing(small_settings, embedder):
    first = ingest(small_settings, embedder)
    assert first.chunks > 50 and not first.skipped
    again = ingest(small_settings, embedder)
    assert again.unchanged and again.embedded == 0
    assert again.generation == first.generation


def test_report_says_where_the_time_went(small_settings, embedder):
    first = ingest(small_settings, embedder)
    assert list(first.stages) == ["read", "chunk", "compare", "embed", "vector store", "lexical", "write"]
    assert all(s >= 0 for s in first.stages.values())
    assert sum(first.stages.values()) <= first.seconds + 0.01  # laps of one clock, each rounded to a millisecond
    again = ingest(small_settings, embedder)
    assert list(again.stages) == ["read", "chunk", "compare"]  # unchanged: nothing embedded or written


def test_removed_document_chunks_disappear(small_settings, small_corpus, embedder):
    ingest(small_settings, embedder)
    corpus, _ = small_corpus
    (corpus / "eurlex-sum/32014D0415.json").unlink()
    report = ingest(small_settings, embedder)
    assert report.embedded == 0 and report.removed > 0 and not report.unchanged
    assert "32014D0415" not in report.per_source
    assert any(path.endswith("32014D0415.json") for path, _ in report.skipped)
    with Assistant.from_settings(small_settings, embedder) as served:
        assert all(c.source_id != "32014D0415" for c in served.index.chunks)
        assert served.index.vectors.count() == report.chunks


def test_changed_file_is_rechunked(small_settings, small_corpus, embedder):
    ingest(small_settings, embedder)
    corpus, _ = small_corpus
    page = corpus / "web/cfsp-overview-page.txt"
    # a fresh marker each run: the shared embedding cache must not already hold the changed chunk
    page.write_text(
        page.read_text(encoding="utf-8")
        + f"\nThe Union also supports election observation missions (note {uuid.uuid4().hex}).\n",
        encoding="utf-8",
    )
    report = ingest(small_settings.model_copy(update={"verify_checksums": False}), embedder)
    assert 0 < report.embedded <= 2
    with Assistant.from_settings(small_settings, embedder) as served:
        assert any("election observation" in c.text for c in served.index.chunks)


def test_interrupted_ingest_leaves_previous_index_serving(small_settings, small_corpus, embedder):
    ingest(small_settings, embedder)
    before = read_manifest(small_settings)
    corpus, _ = small_corpus
    (corpus / "web/cfsp-overview-page.txt").unlink()

    def crash() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(small_settings, embedder, before_switch=crash)
    assert read_manifest(small_settings).generation == before.generation
    with Assistant.from_settings(small_settings, embedder) as served:
        answer = served.ask("Who chairs the Foreign Affairs Council?")
    assert answer.citations and any(c.source_id == "cfsp-overview" for c in answer.citations)
    # the next run finishes the job and cleans up the half-built generation
    report = ingest(small_settings, embedder)
    folders = [p.name for p in (small_settings.data_dir / "index").iterdir() if p.is_dir() and p.name != "leases"]
    assert folders == [report.generation]


def test_corrupt_files_are_skipped_and_named(small_settings, small_corpus, embedder):
    corpus, _ = small_corpus
    act = corpus / "acts-xhtml/32021D0796.xhtml"
    act.write_bytes(act.read_bytes()[:2000])
    (corpus / "eurlex-sum/32017D2315.json").write_text("{not json", encoding="utf-8")
    (corpus / "empty.pdf").write_bytes(b"")
    report = ingest(small_settings, embedder)
    reasons = dict(report.skipped)
    assert "sha256" in reasons["acts-xhtml/32021D0796.xhtml"]
    assert "sha256" in reasons["eurlex-sum/32017D2315.json"]
    assert "empty PDF" in reasons["empty.pdf"]
    assert "32019D0797" in report.per_source and "cfsp-overview" in report.per_source
    unverified = ingest(small_settings.model_copy(update={"verify_checksums": False}), embedder)
    assert "malformed XHTML" in dict(unverified.skipped)["acts-xhtml/32021D0796.xhtml"]
    assert "invalid JSON" in dict(unverified.skipped)["eurlex-sum/32017D2315.json"]


def test_missing_corpus_folder(small_settings, embedder, tmp_path):
    with pytest.raises(CorpusError, match="corpus folder not found"):
        ingest(small_settings.model_copy(update={"corpus_dir": tmp_path / "nowhere"}), embedder)


def test_manifest_records_model_and_sources(small_settings, embedder):
    ingest(small_settings, embedder)
    manifest = read_manifest(small_settings)
    assert manifest.model == adapter_identity() and manifest.dim == 384 and manifest.chunks == len(manifest.chunk_ids)
    assert {s.source_id for s in manifest.sources} >= {"32019D0797", "cfsp-overview"}
    assert IndexManifest.from_dict(json.loads(manifest.to_json())) == manifest
