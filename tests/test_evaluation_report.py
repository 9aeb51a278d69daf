"""Unit tests of the evaluation's summary, report and gates (`evaluation/runner.summarize`, `report.py`,
`gates.py`) on three hand-made question results whose metrics can be worked out by hand."""

from __future__ import annotations

import json

import pytest

from assistant.evaluation import report
from assistant.evaluation.gates import GatesError, check, load_gates
from assistant.evaluation.runner import EvalRun, IndexInfo, QuestionResult, summarize


def result(qid: str, **fields) -> QuestionResult:
    values: dict = {
        "id": qid,
        "set": "core",
        "split": "held-out",
        "topic": "bodies",
        "source_kind": "treaty",
        "retriever": "hybrid",
        "question": f"question {qid}?",
        "search_query": f"question {qid}?",
        "answerable": True,
        "follow_up": False,
        "rank": 1,
        "recall": {"1": 1.0, "5": 1.0},
        "reciprocal_rank": 1.0,
        "ndcg": 1.0,
        "abstained": False,
        "confidence": 0.8,
        "first_citation_ok": True,
        "any_citation_ok": True,
        "keyword_score": 1.0,
        "lead_keyword": True,
        "answer_words": 40,
        "retrieval_ms": 10.0,
        "answer_ms": 20.0,
        "latency_ms": 30.0,
        "keywords_missing": [],
        "citations": ["Art. 24 TEU"],
        "retrieved": ["TEU 24", "TEU 31", "TEU 42"],
        "expected": [{"source": "TEU", "article": "24"}],
    }
    values.update(fields)
    return QuestionResult(**values)


# q1 answered right; q2's expected article is not retrieved, its answer cites another and holds half the keywords;
# q3 is not covered by the texts and was answered (a wrong abstention decision)
RESULTS = [
    result("q1"),
    result(
        "q2",
        rank=None,
        recall={"1": 0.0, "5": 0.0},
        reciprocal_rank=0.0,
        ndcg=0.0,
        first_citation_ok=False,
        any_citation_ok=False,
        keyword_score=0.5,
        lead_keyword=False,
        answer_words=60,
        keywords_missing=["unanimity"],
        citations=["Art. 31 TEU"],
        expected=[{"source": "TEU", "article": "36"}],
    ),
    result(
        "q3",
        answerable=False,
        topic="office holders",
        source_kind="unanswerable",
        rank=None,
        recall={},
        reciprocal_rank=0.0,
        ndcg=0.0,
        confidence=0.9,
        first_citation_ok=False,
        any_citation_ok=False,
        keyword_score=None,
        lead_keyword=None,
        answer_words=50,
        expected=[],
    ),
]
INDEX = IndexInfo("g1", 3, 10, "all-MiniLM-L6-v2", "local", "onnx", "2026-12-07")


def test_the_summary_of_three_questions_worked_out_by_hand():
    summary = summarize(RESULTS)
    assert (summary.questions, summary.answerable) == (3, 2)
    assert summary.recall_at_5 == 0.5 and summary.mrr == 0.5  # over the two answerable questions
    assert summary.citation_accuracy_first == 0.5 and summary.keyword_hit_rate == 0.75
    assert summary.lead_keyword_rate == 0.5
    assert summary.answerable_declined == 0.0 and summary.not_covered_declined == 0.0  # q3 was answered
    assert summary.abstention_accuracy == pytest.approx(2 / 3)
    assert summary.answer_words_mean == 50.0  # (40 + 60 + 50) / 3 answered


def test_the_report_shows_the_numbers_the_worst_questions_and_the_gates():
    summary = summarize(RESULTS)
    gates = check(summary, {"citation_accuracy_first": 0.8, "answerable_declined": 0.05})
    run = EvalRun(RESULTS, ["hybrid"], 5, ["core"], 3, 1.5, INDEX, threshold=0.3)
    built = report.build(run, "hybrid", gates)
    assert (built.questions, built.answerable, built.primary_retriever) == (3, 2, "hybrid")
    # the worst lists hold only the questions that failed each metric
    assert [r.id for r in built.worst["recall_at_5"]] == ["q2"]
    assert [r.id for r in built.worst["keyword_hit_rate"]] == ["q2"]
    assert [r.id for r in built.worst["abstention_accuracy"]] == ["q3"]
    text = report.markdown(built)
    assert "3 questions (2 answerable, 1 unanswerable, 0 follow-ups)" in text
    assert "| citation_accuracy_first | ≥ 0.8 | 0.500 | **FAILED** |" in text
    assert "| answerable_declined | ≤ 0.05 | 0.000 | passed |" in text
    assert "missing: “unanimity”" in text  # what happened to q2's keywords
    assert "answered (confidence 0.90)" in text  # q3, answered though the texts do not cover it
    assert "| q2 | question q2? | TEU 36 | expected source not retrieved | Art. 31 TEU |" in text
    # report.json is the same report, and JSON
    data = json.loads(json.dumps(built.to_dict()))
    assert data["summary"]["hybrid"]["citation_accuracy_first"] == 0.5
    assert [g["passed"] for g in data["gates"]] == [False, True]


def test_a_gate_reads_as_one_line_and_an_unknown_metric_is_refused(tmp_path):
    (failed, passed) = check(summarize(RESULTS), {"recall_at_5": 0.9, "answer_words_mean": 120})
    assert failed.describe() == "recall_at_5 = 0.500 (gate: at least 0.9) FAILED"
    assert passed.describe() == "answer_words_mean = 50.000 (gate: at most 120) passed"
    path = tmp_path / "gates.toml"
    path.write_text('retriever = "bm25"\n[gates]\nrecall_at_5 = 0.9\n', encoding="utf-8")
    assert load_gates(path) == ("bm25", {"recall_at_5": 0.9})
    path.write_text("[gates]\nrecal_at_5 = 0.9\n", encoding="utf-8")
    with pytest.raises(GatesError, match="unknown gate metric.*recal_at_5"):
        load_gates(path)
    with pytest.raises(GatesError, match="cannot read gates file"):
        load_gates(tmp_path / "missing.toml")
