"""Metric functions: pure, small, and checked by hand in tests/test_eval_metrics.py.

Relevance is binary and any-of: a retrieved chunk (or citation) is relevant when its (source id, article)
matches any expected entry of the question.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from . import stats


def first_relevant_rank(relevant: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant hit, or None when nothing retrieved is relevant."""
    return next((i + 1 for i, r in enumerate(relevant) if r), None)


def recall_at(rank: int | None, k: int) -> float:
    """1 when a relevant hit is within the top k (any-of expected sources), else 0."""
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(rank: int | None, k: int = 10) -> float:
    """1/rank of the first relevant hit within the top k, else 0 (averaged over questions: MRR@k)."""
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def ndcg_at(covers: Sequence[frozenset[int]], n_expected: int, k: int = 10) -> float:
    """nDCG@k with binary gains where each expected entry earns credit once.

    `covers[i]` is the set of expected-entry indexes the i-th hit matches. A hit gains 1 if it matches an
    entry not already credited by a higher hit (ten chunks of the same article count once), so the ideal
    ranking puts min(k, n_expected) distinct expected sources first.
    """
    if n_expected <= 0:
        return 0.0
    credited: set[int] = set()
    dcg = 0.0
    for i, entries in enumerate(covers[:k]):
        if entries - credited:
            dcg += 1.0 / math.log2(i + 2)
            credited |= entries
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, n_expected)))
    return dcg / ideal


def keyword_score(answer: str, keywords: Sequence[str]) -> float | None:
    """Share of the expected keywords that the answer contains verbatim (case-insensitive); None without keywords."""
    if not keywords:
        return None
    text = answer.lower()
    return sum(1 for k in keywords if k.lower() in text) / len(keywords)


def lead_keyword(first_quote: str, keywords: Sequence[str]) -> bool | None:
    """Does the first cited quote hold at least one expected keyword (case-insensitive)? None without keywords."""
    if not keywords:
        return None
    text = first_quote.lower()
    return any(k.lower() in text for k in keywords)


def abstention_scores(outcomes: Sequence[tuple[bool, bool]]) -> dict[str, float | None]:
    """Precision, recall and accuracy of abstaining, from (answerable, abstained) pairs.

    Abstaining is the positive class: precision = abstentions on unanswerable questions / all abstentions,
    recall = abstentions on unanswerable questions / unanswerable questions, accuracy = share of questions
    where the assistant answered an answerable one or declined an unanswerable one. None when undefined.
    """
    tp = sum(1 for answerable, abstained in outcomes if abstained and not answerable)
    fp = sum(1 for answerable, abstained in outcomes if abstained and answerable)
    unanswerable = sum(1 for answerable, _ in outcomes if not answerable)
    correct = sum(1 for answerable, abstained in outcomes if abstained != answerable)
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / unanswerable if unanswerable else None,
        "accuracy": correct / len(outcomes) if outcomes else None,
    }


def mean(values: Sequence[float | None]) -> float | None:
    """Mean of the defined values; None when there are none."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


percentile = stats.percentile  # one definition for the evaluation, the benchmark and the load tool
