"""The ONNX Runtime backends on the real packaged model: fp32 gives torch's vectors (so either serves the other's
index), int8 is close but needs an index of its own, the ONNX file is made once and checked on every load, and
serving never imports torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from assistant.config import PROJECT_ROOT, Settings
from assistant.embedding import onnx_files
from assistant.embedding.embedder import local_model, make_embedder
from assistant.embedding.onnx_files import FILES, RECORD, ensure_onnx_model, onnx_folder, sha256_file
from assistant.errors import IndexMismatchError
from assistant.index.generations import read_manifest
from assistant.ingest.build import ingest, load_corpus
from assistant.ingest.catalogue import load_article_titles
from assistant.ingest.chunking import Chunker
from assistant.pipeline import Assistant

from .commands import clean_env, run_cli, settings_env

QUESTIONS = [
    "What are the restrictive measures against cyber-attacks?",
    "What is permanent structured cooperation?",
    "Who chairs the Foreign Affairs Council?",
    "Which Member States take part in PESCO?",
    "What does the Union's foreign policy cover?",
]


def backend(base_settings: Settings, name: str):
    return make_embedder(base_settings.model_copy(update={"embedding_backend": name}))


@pytest.fixture(scope="session")
def torch_embedder(embedder, base_settings):
    # the session's model when it already runs on that backend (loaded once), else one of its own
    return embedder if embedder.backend == "torch" else backend(base_settings, "torch")


@pytest.fixture(scope="session")
def onnx_embedder(embedder, base_settings):
    return embedder if embedder.backend == "onnx" else backend(base_settings, "onnx")


@pytest.fixture(scope="session")
def int8_embedder(base_settings):
    return backend(base_settings, "onnx-int8")


def eval_questions(per_set: int = 8) -> list[str]:
    """The first questions of each committed tuning set (real questions of every kind)."""
    questions = []
    for path in sorted((PROJECT_ROOT / "eval" / "questions").glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()[:per_set]
        questions += [json.loads(line)["question"] for line in lines if line.strip()]
    return questions


def corpus_chunks(settings: Settings, embedder, count: int = 96):
    """Real chunks of the small corpus, with their sentence spans, spread over every document."""
    docs, _ = load_corpus(settings)
    titles = load_article_titles(settings.article_titles_path)
    chunks = Chunker(embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap, titles).chunk(docs)
    step = max(1, len(chunks) // count)
    return chunks[::step][:count]


def passages_of(chunks):
    spans = [[(c.body_offset + s.start, c.body_offset + s.end) for s in c.sentences] for c in chunks]
    return [c.embed_text for c in chunks], spans


def with_models(cache_dir: Path, data_dir: Path) -> Path:
    """A data folder holding a copy of the session's extracted model and ONNX files (copied, not linked: a test
    may damage them)."""
    shutil.copytree(cache_dir / "models", data_dir / "models")
    return data_dir


@pytest.mark.slow  # the model on two or three backends over the small corpus
def test_fp32_onnx_gives_torch_vectors(small_settings, torch_embedder, onnx_embedder):
    chunks = corpus_chunks(small_settings, torch_embedder)
    texts, spans = passages_of(chunks)
    assert [torch_embedder.count_tokens(t) for t in texts] == [onnx_embedder.count_tokens(t) for t in texts]
    torch_passages, torch_sentences = torch_embedder.embed_passages(texts, spans)
    onnx_passages, onnx_sentences = onnx_embedder.embed_passages(texts, spans)
    assert np.abs(torch_passages - onnx_passages).max() < 1e-5
    assert np.abs(np.concatenate(torch_sentences) - np.concatenate(onnx_sentences)).max() < 1e-5
    questions = eval_questions()
    assert len(questions) > 40
    torch_questions = np.stack([torch_embedder.embed_query(q) for q in questions])
    onnx_questions = np.stack([onnx_embedder.embed_query(q) for q in questions])
    assert np.abs(torch_questions - onnx_questions).max() < 1e-5
    assert np.abs(torch_embedder.embed_texts(questions) - onnx_embedder.embed_texts(questions)).max() < 1e-5
    assert onnx_embedder.space == torch_embedder.space  # one cache serves both


@pytest.mark.slow  # the model on two or three backends over the small corpus
def test_torch_and_onnx_indexes_are_interchangeable(small_settings, tmp_path, torch_embedder, onnx_embedder):
    built_by_torch = ingest(small_settings, torch_embedder)
    # the same corpus through the onnx backend is no change: same chunks, same vector family
    assert ingest(small_settings, onnx_embedder).unchanged
    # an index the onnx backend embeds itself (a cache of its own) ranks like torch's
    own = small_settings.model_copy(update={"data_dir": tmp_path / "onnx", "embedding_cache": tmp_path / "cache.db"})
    built_by_onnx = ingest(own, onnx_embedder)
    assert built_by_onnx.embedded == built_by_torch.chunks and read_manifest(own).backend == "onnx"
    with (
        Assistant.from_settings(small_settings, torch_embedder) as torch_served,
        Assistant.from_settings(small_settings, onnx_embedder) as onnx_on_torch_index,
        Assistant.from_settings(own, onnx_embedder) as onnx_served,
    ):
        for question in QUESTIONS:
            expected = [h.chunk.id for h in torch_served.search(question, k=5).hits]
            assert [h.chunk.id for h in onnx_on_torch_index.search(question, k=5).hits] == expected, question
            assert [h.chunk.id for h in onnx_served.search(question, k=5).hits] == expected, question
            assert onnx_served.ask(question).text == torch_served.ask(question).text


@pytest.mark.slow  # the model on two or three backends over the small corpus
def test_int8_is_close_but_needs_its_own_index(small_settings, tmp_path, torch_embedder, int8_embedder):
    chunks = corpus_chunks(small_settings, torch_embedder, 32)
    texts, spans = passages_of(chunks)
    cosines = (torch_embedder.embed_texts(texts) * int8_embedder.embed_texts(texts)).sum(axis=1)
    assert cosines.min() > 0.95 and cosines.max() < 1 - 1e-5  # close, yet other vectors
    assert int8_embedder.space != torch_embedder.space  # never served from the fp32 vectors' cache

    fp32_index = ingest(small_settings, torch_embedder)
    int8_settings = small_settings.model_copy(update={"data_dir": tmp_path / "int8"})
    int8_index = ingest(int8_settings, int8_embedder)  # the session's cache holds fp32 vectors: all embedded anew
    assert int8_index.embedded == int8_index.chunks == fp32_index.chunks
    assert read_manifest(int8_settings).backend == "onnx-int8"
    # an int8 index served by an fp32 backend, or an fp32 index by int8, stops with one line naming the fix
    for settings, embedder in ((int8_settings, torch_embedder), (small_settings, int8_embedder)):
        with pytest.raises(IndexMismatchError, match="embedding backend") as err:
            Assistant.from_settings(settings, embedder)
        message = str(err.value)
        assert "\n" not in message and "cfsp-assistant ingest" in message and "CFSP_EMBEDDING_BACKEND" in message
    # ingest with the other backend builds an index of its own rather than mixing vectors
    rebuilt = ingest(small_settings.model_copy(update={"data_dir": tmp_path / "int8"}), torch_embedder)
    assert not rebuilt.unchanged and rebuilt.embedded == 0 and read_manifest(int8_settings).backend == "torch"
    with Assistant.from_settings(int8_settings, torch_embedder) as served:
        assert served.ask(QUESTIONS[0]).citations


def test_onnx_file_is_built_once_checked_and_rebuilt_when_damaged(
    cache_dir, tmp_path, int8_embedder, base_settings, monkeypatch
):
    data = with_models(cache_dir, tmp_path / "data")
    model_dir, weights, _ = local_model(base_settings.model_copy(update={"data_dir": data}))  # the served model
    models = data / "models"
    folder = onnx_folder(models, model_dir.name)
    records = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    for name in FILES.values():
        assert records[name]["sha256"] == sha256_file(folder / name) and records[name]["weights"] == weights
    builds = []
    build = onnx_files._build

    def counted(folder, variant, *rest):
        builds.append(variant)
        build(folder, variant, *rest)

    monkeypatch.setattr(onnx_files, "_build", counted)
    int8 = folder / FILES["int8"]
    before = int8.stat().st_mtime_ns
    assert ensure_onnx_model(model_dir, models, "int8", weights) == int8
    assert builds == [] and int8.stat().st_mtime_ns == before  # verified, not rebuilt

    damaged = bytearray(int8.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    int8.write_bytes(bytes(damaged))
    # several threads (as several workers would) find it damaged at once: it is rebuilt once, by one of them
    found: list[Path] = []
    threads = [
        threading.Thread(target=lambda: found.append(ensure_onnx_model(model_dir, models, "int8", weights)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [int8] * 3 and builds == ["int8"]
    assert sha256_file(int8) == records[FILES["int8"]]["sha256"]  # the export and quantisation are deterministic
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow  # a fresh process loads the app's modules and the model
def test_serving_with_onnx_never_imports_torch(small_settings, cache_dir, tmp_path, onnx_embedder, home):
    settings = small_settings.model_copy(update={"data_dir": with_models(cache_dir, tmp_path / "served")})
    ingest(settings, onnx_embedder)
    script = (
        "import json, sys\n"
        "import assistant.serve.api.app\n"
        "from assistant.config import load_settings\n"
        "from assistant.pipeline import Assistant\n"
        "assistant = Assistant.from_settings(load_settings())\n"
        "answer = assistant.ask('Who chairs the Foreign Affairs Council?', answerer='extractive')\n"
        "assistant.embedder.embed_texts(['sanctions', 'restrictive measures'])\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'onnx') if m in sys.modules]\n"
        "print(json.dumps({'heavy': heavy, 'cited': len(answer.citations), 'backend': assistant.embedder.backend}))\n"
    )
    env = settings_env(settings, home, CFSP_EMBEDDING_BACKEND="onnx")
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=home, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"heavy": [], "cited": result["cited"], "backend": "onnx"} and result["cited"] > 0


def test_unknown_backend_is_one_line_naming_the_variable(home, tmp_path):
    with pytest.raises(ValueError, match="allowed: torch, onnx, onnx-int8"):
        Settings(embedding_backend="cuda")
    result = run_cli(["ask", "x"], clean_env(home, CFSP_EMBEDDING_BACKEND="cuda", CFSP_DATA_DIR=str(tmp_path)), home)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "CFSP_EMBEDDING_BACKEND" in lines[0] and "allowed: torch, onnx, onnx-int8" in lines[0]
