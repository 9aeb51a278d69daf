"""Metric functions on fixtures small enough to check by hand."""

from __future__ import annotations

import math

import pytest

from assistant.evaluation import metrics


def test_first_relevant_rank_is_one_based():
    # third hit is the first relevant one
    assert metrics.first_relevant_rank([False, False, True, True]) == 3
    assert metrics.first_relevant_rank([False, False]) is None


@pytest.mark.parametrize(
    "rank, k, expected",
    [
        (1, 1, 1.0),  # found first: inside every cut-off
        (3, 1, 0.0),  # found third: outside the top 1
        (3, 3, 1.0),  # ... inside the top 3
        (None, 10, 0.0),  # never found
    ],
)
def test_recall_at(rank, k, expected):
    assert metrics.recall_at(rank, k) == expected


def test_reciprocal_rank():
    assert metrics.reciprocal_rank(4, 10) == 0.25  # 1/4
    assert metrics.reciprocal_rank(11, 10) == 0.0  # beyond the cut-off counts as not found
    assert metrics.reciprocal_rank(None, 10) == 0.0


def test_mrr_over_three_questions():
    # ranks 1, 2 and not found: (1 + 1/2 + 0) / 3 = 0.5
    assert metrics.mean([metrics.reciprocal_rank(r) for r in (1, 2, None)]) == 0.5


def test_ndcg_single_expected_entry():
    # one expected entry found at rank 2: DCG = 1/log2(3); ideal = 1/log2(2) = 1
    covers = [frozenset(), frozenset({0}), frozenset()]
    assert metrics.ndcg_at(covers, 1, 10) == pytest.approx(1 / math.log2(3))


def test_ndcg_credits_each_expected_entry_once():
    # two expected entries; hits: entry 0, entry 0 again (no new credit), entry 1
    # DCG = 1/log2(2) + 0 + 1/log2(4) = 1 + 0.5 = 1.5; ideal (2 entries) = 1 + 1/log2(3)
    covers = [frozenset({0}), frozenset({0}), frozenset({1})]
    assert metrics.ndcg_at(covers, 2, 10) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))


def test_ndcg_perfect_and_empty():
    assert metrics.ndcg_at([frozenset({0}), frozenset({1})], 2, 10) == pytest.approx(1.0)  # ideal order
    assert metrics.ndcg_at([frozenset({0})], 0, 10) == 0.0  # nothing expected: defined as 0


def test_keyword_score_is_case_insensitive_share():
    # "unanimously" is there (other case), "qualified majority" is not: 1 of 2
    assert metrics.keyword_score("The Council acts UNANIMOUSLY.", ["unanimously", "qualified majority"]) == 0.5
    assert metrics.keyword_score("anything", []) is None


def test_abstention_scores_by_hand():
    # (answerable, abstained): one correct refusal, one wrong refusal, one missed refusal, one correct answer
    outcomes = [(False, True), (True, True), (False, False), (True, False)]
    scores = metrics.abstention_scores(outcomes)
    assert scores["precision"] == 0.5  # 1 of the 2 refusals was on an unanswerable question
    assert scores["recall"] == 0.5  # 1 of the 2 unanswerable questions was refused
    assert scores["accuracy"] == 0.5  # the first and the last are right
    assert metrics.abstention_scores([(True, False)])["precision"] is None  # no refusals: undefined


def test_percentile_and_mean():
    assert metrics.percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0  # linear interpolation between 20 and 30
    assert metrics.percentile([], 95) is None
    assert metrics.mean([1.0, None, 0.0]) == 0.5  # undefined values are skipped


def test_a_question_counts_as_a_web_page_question_only_when_nothing_else_answers_it():
    from assistant.evaluation.questions import EvalQuestion, Expected
    from assistant.evaluation.runner import source_kind

    kinds = {"cfsp-overview": "web page", "32019D0797": "decision"}

    def q(*sources: str) -> EvalQuestion:
        return EvalQuestion("q", "?", True, tuple(Expected(s) for s in sources))

    assert source_kind(q("cfsp-overview"), kinds) == "web page"
    # the page and a treaty article both answer: a treaty question, where the treaty should be cited first
    assert source_kind(q("cfsp-overview", "TEU"), kinds) == "treaty"
    assert source_kind(q("cfsp-overview", "32019D0797"), kinds) == "decision"
    assert source_kind(EvalQuestion("q", "?", False), kinds) == "unanswerable"
