"""Speed and memory measurements, side by side for several embedding backends.

For each backend, in a fresh data folder (nothing cached): the model's first use (extraction, ONNX build), a cold
ingest (with its time per stage), an unchanged re-ingest, a new index built from the embedding cache (what a second
clone's first run does); then in a fresh process, as the server loads it, the question encode and the whole
answer timed warm; then the real server (`app.py`, rate limit off) on a free loopback port: start-up to ready,
answers/s from `assistant.evaluation.loadtest` at each client count, and the server's RSS after the load.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ..config import PROJECT_ROOT, Settings, load_settings
from .stats import percentile

QUESTIONS = [
    "Can the EU decide foreign policy by majority vote?",
    "Does the EU have a mutual defence clause?",
    "What is constructive abstention?",
    "What does the Political and Security Committee do?",
    "Which Member States take part in PESCO?",
    "What is the European Peace Facility for?",
    "Can the EU impose sanctions for cyber-attacks?",
    "Who chairs the Foreign Affairs Council?",
    "What does Article 42(7) TEU say?",
    "How are CSDP missions financed?",
    "What is the role of the European Defence Agency?",
    "What does the solidarity clause require?",
    "Art. 215 TFEU",
    "What are the objectives of the Union's external action?",
    "What is the weather in Brussels?",
]
READY_TIMEOUT_S = 600  # a server that builds its ONNX file first can take minutes on a busy machine


def _ms(values: list[float], pct: int) -> float:
    return round(percentile(values, pct) or 0.0, 2)


def measure_serving(settings: Settings, questions: int) -> dict:
    """Load the index as the server does, warm up, then time `questions` encodes and asks; report them and RSS."""
    import psutil

    from ..pipeline import Assistant

    started = time.perf_counter()
    assistant = Assistant.from_settings(settings)
    load_s = time.perf_counter() - started
    for q in QUESTIONS:
        assistant.ask(q)
    encodes, answers = [], []
    for i in range(questions):
        question = QUESTIONS[i % len(QUESTIONS)]
        t = time.perf_counter()
        assistant.embedder.embed_query(question)
        encodes.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        assistant.ask(question)
        answers.append((time.perf_counter() - t) * 1000)
    return {
        "startup_s": round(load_s, 2),
        "queries": questions,
        "encode_ms_p50": _ms(encodes, 50),
        "encode_ms_p95": _ms(encodes, 95),
        "latency_ms_median": round(statistics.median(answers), 2),
        "latency_ms_p95": _ms(answers, 95),
        "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
        "torch_loaded": "torch" in sys.modules,
    }


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    """The benchmark's own settings for a child process (the caller's other CFSP_* variables pass through)."""
    return {
        **os.environ,
        "CFSP_DATA_DIR": str(settings.data_dir),
        "CFSP_EMBEDDING_BACKEND": settings.embedding_backend,
        "CFSP_CORPUS_DIR": str(settings.corpus_dir),
        "CFSP_CATALOGUE_PATH": str(settings.catalogue_path),
        "CFSP_EMBEDDING_CACHE": str(settings.embedding_cache),
        "CFSP_MODEL_CACHE": str(settings.models_dir),
        "GRADIO_ANALYTICS_ENABLED": "False",
        **extra,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure_server(settings: Settings, clients: list[int], seconds: float) -> dict:
    """Start `app.py` (one process, rate limit off): seconds to a ready health check, then a load run per client
    count, then the server's RSS."""
    import psutil

    from .loadtest import run as load

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = _env(settings, CFSP_HOST="127.0.0.1", CFSP_PORT=str(port), CFSP_RATE_LIMIT="off", CFSP_WORKERS="1")
    log = settings.data_dir / "server.log"  # a file, not a pipe: a full pipe would stall the server's logging
    started = time.perf_counter()
    with log.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "app.py")], env=env, cwd=settings.data_dir, stdout=sink, stderr=sink
        )
    try:
        ready_s = None
        while time.perf_counter() - started < READY_TIMEOUT_S and server.poll() is None:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).json().get("ready"):
                    ready_s = time.perf_counter() - started
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        if ready_s is None:
            raise RuntimeError(f"the server on {url} did not become ready: {log.read_text()[-500:]}")
        result: dict = {"ready_s": round(ready_s, 2)}
        for count in clients:
            report = asyncio.run(load(url, count, seconds, QUESTIONS))
            result[f"clients_{count}"] = {
                "answers_per_s": report.requests_per_second,
                "p50_ms": report.p50_ms,
                "p95_ms": report.p95_ms,
                "errors": report.requests - report.ok,
            }
        process = psutil.Process(server.pid)
        result["rss_mb"] = round(
            sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20, 1
        )
        return result
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run_backend(settings: Settings, questions: int, clients: list[int], seconds: float) -> dict:
    """One backend's measurements, from a fresh data folder (removed afterwards)."""
    from ..embedding.embedder import make_embedder
    from ..ingest.build import ingest

    data_dir = Path(tempfile.mkdtemp(prefix=f"cfsp-bench-{settings.embedding_backend}-"))
    # nothing cached: the models are extracted and exported again, the passages embedded again
    bench = settings.model_copy(
        update={"data_dir": data_dir, "embedding_cache": data_dir / "embeddings.sqlite", "model_cache": None}
    )
    result: dict = {"backend": bench.embedding_backend}
    try:
        t = time.perf_counter()
        embedder = make_embedder(bench)
        embedder.embed_query("warm up")  # ONNX Runtime opens its session at the first call
        result["first_use_s"] = round(time.perf_counter() - t, 2)  # extraction, checksum, ONNX build, model load
        first = ingest(bench, embedder)
        result.update(
            ingest_s=round(first.seconds, 2), chunks=first.chunks, embedded=first.embedded, ingest_stages=first.stages
        )
        again = ingest(bench, embedder)
        result.update(reingest_s=round(again.seconds, 2), reingest_unchanged=again.unchanged)
        # a second clone on the same machine: a new index, every vector already in the shared embedding cache
        cached = ingest(bench, embedder, rebuild=True)
        result.update(cached_ingest_s=round(cached.seconds, 2), cached_ingest_embedded=cached.embedded)
        del embedder
        proc = subprocess.run(
            [sys.executable, "-m", "assistant.evaluation.benchmark", str(questions)],
            env=_env(bench),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"timing the answers failed: {proc.stderr[-500:]}")
        result["serving"] = json.loads(proc.stdout.strip().splitlines()[-1])
        if clients:
            result["server"] = measure_server(bench, clients, seconds)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def run(
    settings: Settings,
    backends: list[str],
    questions: int = 200,
    clients: list[int] | None = None,
    seconds: float = 10.0,
) -> dict:
    """Every backend measured in turn, one after another, so they never compete for the cores."""
    clients = [1, 16] if clients is None else clients
    runs = [
        run_backend(settings.model_copy(update={"embedding_backend": b}), questions, clients, seconds) for b in backends
    ]
    return {"cpus": os.cpu_count(), "questions": questions, "load_seconds": seconds, "backends": runs}


def rows(report: dict) -> list[tuple[str, list[str]]]:
    """The table's rows: a label and one cell per backend (missing measurements are '-')."""

    def cell(run: dict, *path: str) -> str:
        value: object = run
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return "-" if value is None else str(value)

    def pair(run: dict, a: tuple[str, ...], b: tuple[str, ...]) -> str:
        return f"{cell(run, *a)} / {cell(run, *b)}"

    runs = report["backends"]
    table = [
        (
            "question encode p50 / p95 (ms)",
            [pair(r, ("serving", "encode_ms_p50"), ("serving", "encode_ms_p95")) for r in runs],
        ),
        (
            "answer p50 / p95 (ms)",
            [pair(r, ("serving", "latency_ms_median"), ("serving", "latency_ms_p95")) for r in runs],
        ),
    ]
    counts = sorted({int(k.split("_")[1]) for r in runs for k in r.get("server", {}) if k.startswith("clients_")})
    for count in counts:
        table.append(
            (
                f"answers/s, {count} client{'s' if count > 1 else ''} (p95 ms)",
                [
                    f"{cell(r, 'server', f'clients_{count}', 'answers_per_s')} "
                    f"({cell(r, 'server', f'clients_{count}', 'p95_ms')})"
                    for r in runs
                ],
            )
        )
    table += [
        ("cold ingest (s)", [cell(r, "ingest_s") for r in runs]),
        ("... of which embedding (s)", [cell(r, "ingest_stages", "embed") for r in runs]),
        ("new index, every vector cached (s)", [cell(r, "cached_ingest_s") for r in runs]),
        ("unchanged re-ingest (s)", [cell(r, "reingest_s") for r in runs]),
        ("start-up to ready, server (s)", [cell(r, "server", "ready_s") for r in runs]),
        ("server RSS after load (MB)", [cell(r, "server", "rss_mb") for r in runs]),
        ("RSS, index + model loaded (MB)", [cell(r, "serving", "rss_mb") for r in runs]),
        ("torch imported when serving", [cell(r, "serving", "torch_loaded") for r in runs]),
        ("first use: model, ONNX build (s)", [cell(r, "first_use_s") for r in runs]),
    ]
    return table


def markdown(report: dict) -> str:
    """The side-by-side table as Markdown (what the README shows)."""
    names = [r["backend"] for r in report["backends"]]
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows(report)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(json.dumps(measure_serving(load_settings(), int(sys.argv[1]) if len(sys.argv) > 1 else 200)))
