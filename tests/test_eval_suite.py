"""The evaluation run end to end: the committed sets on the full corpus under the CI gates, report files that agree
with each other, and the command's exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.config import PROJECT_ROOT
from assistant.evaluation.runner import QuestionResult, summarize
from assistant.evaluation.suite import load_questions

from .commands import clean_env, run_cli, settings_env

SETS = PROJECT_ROOT / "eval" / "questions"
ALL_SETS = [SETS, SETS / "heldout"]  # the tuning sets and the held-out sets, reported side by side


@pytest.fixture(scope="module")
def full_run(committed_eval):
    """The committed question sets, every retriever, the CI gates: `cfsp-assistant eval` as CI runs it, once per
    session (on the tests' background lane): (exit code, report, folder)."""
    code, out = committed_eval
    return code, json.loads((out / "report.json").read_text(encoding="utf-8")), out


@pytest.mark.slow
def test_quality_gates_hold_on_the_committed_sets(full_run):
    """CI's regression gate: a change lowering recall, citations, keywords or abstention below eval/gates.toml fails."""
    code, report, _ = full_run
    assert report["gates"], "eval/gates.toml sets no gates"
    failed = [g for g in report["gates"] if not g["passed"]]
    assert not failed and code == 0, f"quality gate failed: {failed}"


@pytest.mark.slow
def test_hybrid_beats_each_single_retriever(full_run):
    summary = full_run[1]["summary"]
    for metric in ("recall_at_5", "mrr"):
        assert summary["hybrid"][metric] > max(summary["bm25"][metric], summary["dense"][metric])


@pytest.mark.slow
def test_report_files_exist_and_agree(full_run):
    code, report, out = full_run
    rows = [json.loads(line) for line in (out / "per_question.jsonl").read_text(encoding="utf-8").splitlines()]
    questions = len(load_questions(ALL_SETS))
    assert len(rows) == 3 * questions == 3 * report["questions"]
    # the summary in report.json is exactly what the per-question rows add up to
    hybrid = [QuestionResult(**r) for r in rows if r["retriever"] == "hybrid"]
    recomputed = summarize(hybrid)
    for metric in ("recall_at_5", "mrr", "citation_accuracy_first", "keyword_hit_rate", "abstention_accuracy"):
        assert report["summary"]["hybrid"][metric] == pytest.approx(recomputed.value(metric)), metric
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert f"| hybrid | {report['summary']['hybrid']['recall_at_1']:.3f} |" in markdown
    assert "## By topic" in markdown and "## By source kind" in markdown and "retrieved instead" in markdown
    assert "## Tuning and held-out sets side by side (hybrid)" in markdown
    assert set(report["by_split"]["hybrid"]) == {"tuning", "held-out"}
    assert (out / "retrievers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(g["passed"] for g in report["gates"]) == (code == 0)


@pytest.fixture(scope="module")
def cli_env(full_settings, full_index, home):
    return settings_env(full_settings, home)


def eval_cli(args, env):
    return run_cli(["eval", *args], env, Path(env["HOME"]))


def tiny_set(tmp_path):
    path = tmp_path / "tiny.jsonl"
    rows = [
        {
            "id": "t1",
            "question": "Does the EU have a mutual defence clause?",
            "answerable": True,
            "expected": [{"source": "TEU", "article": "42"}],
            "answer_keywords": ["aid and assistance"],
            "topic": "defence",
        },
        {
            "id": "t2",
            "question": "What is the best recipe for waffles?",
            "answerable": False,
            "expected": [],
            "topic": "out-of-scope",
        },
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_gate_exit_codes(tmp_path, cli_env):
    path = tiny_set(tmp_path)
    passed = eval_cli(
        [
            str(path),
            "--retrievers",
            "hybrid",
            "--out",
            str(tmp_path / "ok"),
            "--min-recall-at-5",
            "1.0",
            "--min-abstention-accuracy",
            "1.0",
        ],
        cli_env,
    )
    assert passed.returncode == 0, passed.stderr
    assert "gate recall_at_5 = 1.000" in passed.stdout and (tmp_path / "ok" / "report.md").exists()
    # an impossible bound (recall@1 of a perfect run is 1.0 < 1.5) fails and names the metric
    gates = tmp_path / "gates.toml"
    gates.write_text('retriever = "hybrid"\n[gates]\nrecall_at_1 = 1.5\n', encoding="utf-8")
    failed = eval_cli(
        [str(path), "--retrievers", "hybrid", "--out", str(tmp_path / "bad"), "--gates", str(gates)], cli_env
    )
    assert failed.returncode == 1
    assert "quality gate failed: recall_at_1" in failed.stderr and "Traceback" not in failed.stderr
    assert (tmp_path / "bad" / "report.md").exists(), "a failing gate still writes the report"


def test_bad_input_is_refused_before_anything_runs(tmp_path, home):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "?", "answerable": true}\n', encoding="utf-8")
    env = clean_env(home, CFSP_DATA_DIR=str(tmp_path / "no-index"))
    result = eval_cli([str(bad), "--out", str(tmp_path / "out")], env)
    assert result.returncode == 1 and "bad.jsonl line 1" in result.stderr and "Traceback" not in result.stderr
    gates = tmp_path / "gates.toml"
    gates.write_text("[gates]\nrecal_at_5 = 0.9\n", encoding="utf-8")
    typo = eval_cli([str(bad), "--gates", str(gates)], env)
    assert typo.returncode == 1 and "unknown gate metric(s) recal_at_5" in typo.stderr
    wrong = eval_cli([str(bad), "--retrievers", "bm25", "--min-recall-at-5", "0.9"], env)
    assert wrong.returncode == 1 and "not among the retrievers" in wrong.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_rankers_are_compared_in_one_run(tmp_path, cli_env):
    path = tiny_set(tmp_path)
    out = tmp_path / "rankers"
    result = eval_cli(
        [str(path), "--retrievers", "hybrid", "--rankers", "rules,learned,reader", "--out", str(out)], cli_env
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    # the configured (reader) ranker keeps the plain name; the others' runs are named after them
    assert report["retrievers"] == ["hybrid", "hybrid/rules", "hybrid/learned"]
    assert {"hybrid", "hybrid/rules", "hybrid/learned"} <= set(report["summary"])
    rows = [json.loads(line) for line in (out / "per_question.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted((r["id"], r["ranker"]) for r in rows) == [
        ("t1", ""),
        ("t1", "learned"),
        ("t1", "rules"),
        ("t2", ""),
        ("t2", "learned"),
        ("t2", "rules"),
    ]
    unknown = eval_cli([str(path), "--rankers", "magic", "--out", str(tmp_path / "x")], cli_env)
    assert unknown.returncode == 1 and "unknown ranker 'magic'" in unknown.stderr and "Traceback" not in unknown.stderr
