"""The answerability model: what it reads (worked out by hand), its file (sha256 checked, one line naming the fix when
damaged or missing), a tiny fit with the real fitting code, the decide step following it, and the engine using it only
with the embedding model it was trained on. On the real corpus: test_answering.py."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import numpy as np
import pytest

from assistant.answer.answerable import (
    ANSWERABLE_FILE,
    EVIDENCE,
    AnswerabilityModel,
    evidence,
    load_answerable,
    question_row,
    save_answerable,
)
from assistant.answer.decide import ABSTAIN
from assistant.config import Settings
from assistant.errors import ModelError
from assistant.pipeline.engine import Parts
from assistant.training.answerable_workflow import Rows, choose_floor, choose_threshold, declining, fit, probabilities
from tests.test_answer_steps import OPEN_RULE, SEAT_RULE, candidate, decider, query, ranked_as, retrieval

DIM = 3  # the hand-made question vectors' size (test_answer_steps' retrieval has zeros(3))


def model(threshold: float = 0.5, embedding: str = "m@1", floor: float = 0.0) -> AnswerabilityModel:
    """P(answered) = sigmoid(10 * best dense_best - 5): 0.95 at 0.8, 0.05 at 0.2."""
    size = DIM + len(EVIDENCE) + 1
    coef = [0.0] * size
    coef[DIM + EVIDENCE.index("dense_best")] = 10.0
    return AnswerabilityModel(embedding, (0.0,) * size, (1.0,) * size, tuple(coef), -5.0, threshold, floor)


def test_evidence_is_each_features_best_among_the_candidates_then_the_confidence():
    cands = [
        candidate(SEAT_RULE, {"dense_best": 0.4, "lexical": 0.9, "reference": 1.0}),
        candidate(OPEN_RULE, {"dense_best": 0.7, "lexical": 0.1}),
    ]
    row = evidence(cands, 0.6)
    expected = {"dense_best": 0.7, "lexical": 0.9, "reference": 1.0}
    assert row.tolist() == [expected.get(name, 0.0) for name in EVIDENCE] + [0.6]
    assert evidence([], 0.3).tolist() == [0.0] * len(EVIDENCE) + [0.3]
    full = question_row(np.array([1.0, 2.0, 3.0]), cands, 0.6)
    assert full[:DIM].tolist() == [1.0, 2.0, 3.0] and full[DIM:].tolist() == row.tolist()


def test_the_probability_follows_the_coefficients_and_a_row_of_another_size_is_refused():
    m = model()
    sure = question_row(np.zeros(DIM), [candidate(SEAT_RULE, {"dense_best": 0.8})], 0.8)
    unsure = question_row(np.zeros(DIM), [candidate(SEAT_RULE, {"dense_best": 0.2})], 0.8)
    assert m.probability(sure) == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert m.answers(sure) and not m.answers(unsure)
    # likely, but the retrieval's confidence (the row's last number, 0.8) is under the floor: declined
    assert not model(floor=0.85).answers(sure) and model(floor=0.8).answers(sure)
    with pytest.raises(ModelError, match="reads 13 numbers per question, not 12"):
        m.probability(np.zeros(12))


def test_the_decide_step_follows_the_model_not_the_rules():
    weak = retrieval(0.3)  # below the rules' threshold 0.5: they would decline before ranking
    answering = candidate(SEAT_RULE, {"dense_best": 0.8}, score=1.0)
    off = candidate(SEAT_RULE, {"dense_best": 0.2, "lexical": 1.0, "unnamed": 1.0}, score=1.0)
    with_model = decider()
    with_model.answerable = model()
    decided = with_model.decide(query(), weak, ranked_as(answering))
    assert decided.declined is None and decided.candidates == (answering,)
    # the rules would answer this one (meaning + the question's words = 1.2 >= 0.5), the model declines it
    assert decider().decide(query(), retrieval(), ranked_as(off)).declined is None
    assert with_model.decide(query(), retrieval(), ranked_as(off)).declined == ABSTAIN
    # its verdict, as the decide step asks for it; without a model and with the rules ranker, nobody can tell
    assert with_model.answered(query(), weak, [answering], 0.3) is True
    assert with_model.answered(query(), weak, [off], 0.3) is False
    assert decider().answered(query(), weak, [off], 0.3) is None


def test_the_file_is_checked_and_a_damaged_or_missing_one_names_the_fix(tmp_path):
    path = tmp_path / "answerable.json"
    save_answerable(model(floor=0.3), path, {"questions": 4})
    assert load_answerable(path) == model(floor=0.3)
    record = json.loads(path.read_text())
    record["model"]["coef"][0] = 1.0
    path.write_text(json.dumps(record))
    with pytest.raises(ModelError) as damaged:
        load_answerable(path)
    assert "does not match its sha256" in str(damaged.value) and "cfsp-assistant train answerable" in str(damaged.value)
    path.write_text("{not json")
    with pytest.raises(ModelError, match="not a model file: retrain it with `cfsp-assistant train answerable`"):
        load_answerable(path)
    with pytest.raises(ModelError, match="is missing: retrain it"):
        load_answerable(tmp_path / "gone.json")
    # a model reading other evidence than this version computes is refused, even with a good checksum
    other = model().to_dict() | {"evidence": ["dense_best"]}
    from assistant.answer.answerable import _digest

    path.write_text(json.dumps({"model": other, "sha256": _digest(other)}))
    with pytest.raises(ModelError, match="reads other evidence"):
        load_answerable(path)


def test_the_shipped_model_loads_with_its_checksum():
    shipped = load_answerable(ANSWERABLE_FILE)
    assert shipped.embedding.startswith("cfsp-minilm@") and 0.0 < shipped.threshold < 1.0
    assert len(shipped.coef) == 384 + len(EVIDENCE) + 1


def test_a_tiny_fit_separates_the_questions_and_the_threshold_keeps_the_answerable_ones():
    rng = np.random.default_rng(0)
    answered = rng.normal(1.0, 0.3, size=(12, 4))
    unanswered = rng.normal(-1.0, 0.3, size=(8, 4))
    rows = Rows(np.vstack([answered, unanswered]), np.array([1] * 12 + [0] * 8))
    fitted = fit(rows, 1.0, "m@1")
    p = probabilities(fitted, rows)
    assert p[:12].min() > p[12:].max()
    threshold = choose_threshold(p, rows.answerable, 0.0)
    assert threshold == p[:12].min()  # declines none of the answerable ones
    assert declining(p, rows.answerable, threshold) == {"not_covered_declined": 1.0, "answerable_declined": 0.0}
    # the floor: the least confidence (last column) of an answerable question the model answers
    assert choose_floor(p, rows, threshold) == rows.x[:12, -1].min()
    assert declining(p, rows.answerable, threshold, rows.x[:, -1], rows.x[:12, -1].min() + 1e-9)[
        "answerable_declined"
    ] == pytest.approx(1 / 12)
    with pytest.raises(Exception, match="ones they do not"):
        fit(Rows(answered, np.ones(12, dtype=int)), 1.0, "m@1")


def test_the_engine_uses_the_model_only_with_the_embedding_model_it_was_trained_on(caplog):
    parts = SimpleNamespace(answerable=model(embedding="cfsp-minilm@abc"))
    same = SimpleNamespace(manifest=SimpleNamespace(model="cfsp-minilm@abc"))
    other = SimpleNamespace(manifest=SimpleNamespace(model="text-embedding-3-small"))
    assert Parts.answerable_for(parts, same) is parts.answerable  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING):
        assert Parts.answerable_for(parts, other) is None  # type: ignore[arg-type]
    assert "judged by the rules" in caplog.text and "text-embedding-3-small" in caplog.text


def test_the_setting_turns_it_off():
    assert Settings(answerable_model="off").answerable_model is None
    assert Settings().answerable_model == ANSWERABLE_FILE
