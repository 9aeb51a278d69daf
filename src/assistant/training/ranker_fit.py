"""Fits the learned ranker: a logistic regression over the features the composer computes for each candidate
provision, labelled by whether the provision is one a training question is tied to.

Rows come from the real pipeline (`Assistant.candidates`), so the features are exactly those the served answer stage
sees. The decline threshold is the lowest probability for the best candidate that keeps answerable questions
declined at or under a target share, chosen on dev.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..answer.rank import LearnedRanker
from ..answer.records import Candidate, Signals
from ..errors import AssistantError
from .data import TrainingQuestion
from .listing import ProvisionEntry

# the features the learned ranker reads (the composer computes these for every candidate)
FEATURES = (
    "dense_best",
    "dense_whole",
    "passage",
    "lexical",
    "focus",
    "title",
    "subject",
    "distinct",
    "rank",
    "reference",
    "kind",
    "demand",
    "background",
    "orphan",
    "authority",
    "short",
    "unnamed",
    "sibling",
)


@dataclass(frozen=True)
class QuestionRows:
    """One question's candidates as the ranker sees them: features, whether each answers, and the question."""

    question: TrainingQuestion
    features: np.ndarray  # candidates x FEATURES
    labels: np.ndarray  # 1 where the candidate is a provision the question is tied to

    @property
    def reachable(self) -> bool:
        """Is any provision that answers among the candidates?"""
        return bool(self.labels.any())


def answers_question(candidate: Candidate, gold: set[str], listing: Mapping[str, ProvisionEntry]) -> bool:
    """Is the candidate a provision the question is tied to: the same provision id, or (when a long paragraph was
    split differently) the same numbered paragraph of the same article?"""
    if candidate.provision.id in gold:
        return True
    chunk = candidate.hit.chunk
    where = (chunk.source_id, chunk.article, candidate.provision.paragraph)
    return bool(chunk.article and candidate.provision.paragraph) and any(
        (listing[g].source_id, listing[g].article, listing[g].paragraph) == where for g in gold if g in listing
    )


def question_rows(
    questions: Sequence[TrainingQuestion],
    candidates_of: Callable[[TrainingQuestion], list[Candidate]],
    listing: Mapping[str, ProvisionEntry],
) -> list[QuestionRows]:
    """The candidates of every question, as feature rows with labels."""
    out = []
    for q in questions:
        cands = candidates_of(q)
        gold = set(q.provisions)
        matrix = np.array([[c.features.value(f) for f in FEATURES] for c in cands], dtype=np.float64)
        labels = np.array([answers_question(c, gold, listing) for c in cands], dtype=np.int8)
        out.append(QuestionRows(q, matrix.reshape(len(cands), len(FEATURES)), labels))
    return out


def fit(rows: Sequence[QuestionRows], c: float, seed: int = 13) -> LearnedRanker:
    """Logistic regression (scikit-learn, standardised features, L2 strength 1/c) on every candidate of the rows."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise AssistantError("fitting the ranker needs scikit-learn: pip install 'cfsp-assistant[train]'") from None

    x = np.vstack([r.features for r in rows if len(r.labels)])
    y = np.concatenate([r.labels for r in rows if len(r.labels)])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    model.fit((x - mean) / scale, y)
    return LearnedRanker(
        FEATURES,
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in model.coef_[0]),
        float(model.intercept_[0]),
        threshold=0.0,
    )


def best_scores(ranker: LearnedRanker, rows: Sequence[QuestionRows]) -> list[tuple[float, bool]]:
    """(the best candidate's probability, whether that candidate answers) per question."""
    out = []
    for r in rows:
        if not len(r.labels):
            out.append((0.0, False))
            continue
        scores = ranker.scores([Signals(**dict(zip(FEATURES, row, strict=True))) for row in r.features])
        top = int(np.argmax(scores))
        out.append((float(scores[top]), bool(r.labels[top])))
    return out


def choose_threshold(ranker: LearnedRanker, rows: Sequence[QuestionRows], max_declined: float) -> float:
    """The highest threshold that declines at most `max_declined` of the answerable questions (so as many
    unanswerable ones as possible are declined)."""
    answerable = sorted(s for (s, _), r in zip(best_scores(ranker, rows), rows, strict=True) if r.question.answerable)
    if not answerable:
        return 0.0
    allowed = int(np.floor(max_declined * len(answerable)))
    return float(answerable[allowed]) if allowed < len(answerable) else float(answerable[-1])


@dataclass(frozen=True)
class RankerMetrics:
    """How a ranker does on a set of questions."""

    questions: int
    reachable: float  # share of answerable questions with an answering provision among the candidates
    first: float  # share of answerable questions whose best candidate answers
    first_reachable: float  # the same among those where one was reachable
    not_covered_declined: float
    answerable_declined: float


def measure(ranker: LearnedRanker | None, rows: Sequence[QuestionRows], threshold: float = 0.0) -> RankerMetrics:
    """First-candidate accuracy and declining on the rows (`ranker` None: the candidates' own order)."""
    answerable = [r for r in rows if r.question.answerable]
    unanswerable = [r for r in rows if not r.question.answerable]
    if ranker is None:
        tops = [(1.0, bool(len(r.labels)) and bool(r.labels[0])) for r in rows]
    else:
        tops = best_scores(ranker, rows)
    by_id = {r.question.id: t for r, t in zip(rows, tops, strict=True)}
    reach = [r for r in answerable if r.reachable]
    n = max(1, len(answerable))
    return RankerMetrics(
        questions=len(rows),
        reachable=len(reach) / n,
        first=sum(by_id[r.question.id][1] for r in answerable) / n,
        first_reachable=sum(by_id[r.question.id][1] for r in reach) / max(1, len(reach)),
        not_covered_declined=sum(by_id[r.question.id][0] < threshold for r in unanswerable) / max(1, len(unanswerable)),
        answerable_declined=sum(by_id[r.question.id][0] < threshold for r in answerable) / n,
    )
