"""`cfsp-assistant benchmark`: one invocation measures the asked backends side by side through the real command,
the real model and the real server (on a small corpus here; timings are reported, never asserted)."""

from __future__ import annotations

import pytest

from .commands import run_cli, settings_env


def test_unknown_backend_is_one_line(home, small_settings):
    result = run_cli(["benchmark", "--backends", "torch,cuda"], settings_env(small_settings, home), home)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "'cuda'" in lines[0] and "allowed: torch, onnx, onnx-int8" in lines[0]


@pytest.mark.slow  # a cold ingest, a process timing answers and the real server started and loaded
def test_benchmark_reports_every_measurement_and_leaves_nothing(benchmark_run):
    report, settings, scratch = benchmark_run  # run on the tests' background lane
    (run,) = report["backends"]
    assert run["backend"] == "torch" and run["chunks"] == run["embedded"] > 0  # cold: everything embedded
    assert run["reingest_unchanged"] is True
    # the cold ingest says where its time went; a new index from the embedding cache embeds nothing
    assert set(run["ingest_stages"]) >= {"read", "chunk", "embed", "vector store", "lexical", "write"}
    assert run["ingest_stages"]["embed"] > 0 and run["cached_ingest_s"] > 0 and run["cached_ingest_embedded"] == 0
    serving = run["serving"]
    assert serving["queries"] == 3 and serving["torch_loaded"] is True
    assert serving["encode_ms_p50"] > 0 and serving["latency_ms_median"] > 0 and serving["rss_mb"] > 0
    load = run["server"]["clients_2"]
    assert load["errors"] == 0 and load["answers_per_s"] > 0 and run["server"]["ready_s"] > 0
    assert not list(scratch.glob("cfsp-bench-*"))  # the fresh data folder is removed (gradio and torch keep theirs)
    assert not settings.data_dir.exists()  # the configured index is never touched


def test_table_shows_cold_ingest_its_embedding_share_cached_ingest_and_start_up():
    from assistant.evaluation.benchmark import rows

    # one backend's measurements written by hand: each row shows its own number, a missing one shows '-'
    run = {
        "backend": "onnx",
        "ingest_s": 58.2,
        "ingest_stages": {"read": 0.8, "chunk": 1.3, "embed": 51.0},
        "cached_ingest_s": 9.1,
        "reingest_s": 2.0,
        "server": {"ready_s": 5.4},
    }
    table = dict(rows({"backends": [run]}))
    assert table["cold ingest (s)"] == ["58.2"]
    assert table["... of which embedding (s)"] == ["51.0"]
    assert table["new index, every vector cached (s)"] == ["9.1"]
    assert table["start-up to ready, server (s)"] == ["5.4"]
    assert table["first use: model, ONNX build (s)"] == ["-"]
