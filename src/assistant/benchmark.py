"""Speed and memory measurements: cold ingest, unchanged re-ingest, warm query latency and serving RSS."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .config import Settings
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


def measure_serving(settings: Settings, questions: int) -> dict:
    """Load the index as the server does, warm up, then time `questions` asks; report latency and RSS."""
    import psutil

    from .pipeline import Assistant

    started = time.perf_counter()
    assistant = Assistant.from_settings(settings)
    load_s = time.perf_counter() - started
    for q in QUESTIONS:
        assistant.ask(q)
    latencies = []
    for i in range(questions):
        t = time.perf_counter()
        assistant.ask(QUESTIONS[i % len(QUESTIONS)])
        latencies.append((time.perf_counter() - t) * 1000)
    return {
        "startup_s": round(load_s, 2),
        "queries": questions,
        "latency_ms_median": round(statistics.median(latencies), 2),
        "latency_ms_p95": round(percentile(latencies, 95) or 0.0, 2),
        "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
    }


def run(settings: Settings, questions: int = 200, cold: bool = True) -> dict:
    """Full benchmark; the cold ingest uses a fresh data folder so nothing is cached."""
    from .embeddings import make_embedder
    from .ingest import ingest

    result: dict = {"cpus": os.cpu_count()}
    data_dir = Path(tempfile.mkdtemp(prefix="cfsp-bench-")) if cold else settings.data_dir
    bench = settings.model_copy(update={"data_dir": data_dir})
    t = time.perf_counter()
    embedder = make_embedder(bench)
    result["model_load_s"] = round(time.perf_counter() - t, 2)
    first = ingest(bench, embedder)
    result["ingest_s"] = round(first.seconds, 2)
    result["chunks"] = first.chunks
    result["documents"] = first.documents
    result["embedded"] = first.embedded
    again = ingest(bench, embedder)
    result["reingest_s"] = round(again.seconds, 2)
    result["reingest_unchanged"] = again.unchanged
    env = {**os.environ, "CFSP_DATA_DIR": str(data_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "assistant.benchmark", str(questions)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result["serving"] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["data_dir"] = str(data_dir)
    return result


if __name__ == "__main__":
    print(json.dumps(measure_serving(Settings(), int(sys.argv[1]) if len(sys.argv) > 1 else 200)))
