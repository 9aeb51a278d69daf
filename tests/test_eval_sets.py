"""Question sets: validation with line numbers, and the committed sets checked against the texts."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from assistant.config import PROJECT_ROOT
from assistant.evaluation.questions import QuestionSetError, load_set, load_sets
from assistant.evaluation.suite import load_questions

SETS = PROJECT_ROOT / "eval" / "questions"
GOOD = {
    "id": "q1",
    "question": "Can one EU country block a CFSP decision?",
    "answerable": True,
    "expected": [{"source": "TEU", "article": "31"}],
    "answer_keywords": ["unanimously"],
    "topic": "decision-making",
    "history": [],
}


def write(tmp_path, lines, name="set.jsonl"):
    path = tmp_path / name
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n", encoding="utf-8"
    )
    return path


def test_a_valid_set_loads_and_ignores_unknown_fields(tmp_path):
    path = write(
        tmp_path,
        [
            {**GOOD, "note": "extra fields are fine"},
            {"id": "q2", "question": "Weather?", "answerable": False, "expected": []},
        ],
    )
    questions = load_set(path)
    assert [q.id for q in questions] == ["q1", "q2"]
    assert questions[0].is_relevant("TEU", "31") and not questions[0].is_relevant("TEU", "42")
    assert questions[1].topic == "general" and questions[1].set_name == "set"


def test_every_malformed_line_is_named(tmp_path):
    path = write(
        tmp_path,
        [
            GOOD,
            "{not json",
            {**GOOD, "id": "q3", "answerable": "yes"},
            {**GOOD, "id": "q4", "expected": []},
            {**GOOD, "id": "q5", "answerable": False},
            {**GOOD, "id": "q1"},
            {"question": "no id"},
            {**GOOD, "id": "q8", "history": [{"role": "system", "content": "x"}]},
        ],
    )
    with pytest.raises(QuestionSetError) as err:
        load_set(path)
    message = str(err.value)
    for line, words in [
        (2, "not valid JSON"),
        (3, "'answerable' must be true or false"),
        (4, "an answerable question needs at least one 'expected'"),
        (5, 'an unanswerable question must have "expected": []'),
        (6, "duplicate id 'q1'"),
        (7, "missing field 'id'"),
        (8, "'history' must be"),
    ]:
        assert f"line {line}: {words}" in message, (line, message)
    assert "line 1:" not in message


def test_missing_and_empty_sets(tmp_path):
    with pytest.raises(QuestionSetError, match="not found"):
        load_set(tmp_path / "nope.jsonl")
    with pytest.raises(QuestionSetError, match="has no questions"):
        load_set(write(tmp_path, [""]))
    with pytest.raises(QuestionSetError, match="no question sets found"):
        (tmp_path / "empty").mkdir()
        load_questions([tmp_path / "empty"])


def test_ids_must_be_unique_across_sets(tmp_path):
    a = write(tmp_path, [GOOD], "a.jsonl")
    b = write(tmp_path, [GOOD], "b.jsonl")
    with pytest.raises(QuestionSetError, match="also used in a.jsonl"):
        load_sets([a, b])


def test_committed_sets_cover_what_the_issue_asks():
    questions = load_questions([SETS])
    answerable = [q for q in questions if q.answerable]
    treaty = {"TEU", "TFEU", "PROTOCOL-10", "PROTOCOL-11", "DECLARATION-13", "DECLARATION-14"}
    on_acts = [q for q in answerable if any(e.source not in treaty and e.source != "cfsp-overview" for e in q.expected)]
    assert len(questions) >= 150
    assert len(questions) - len(answerable) >= 25
    assert sum(1 for q in questions if q.history) >= 20
    assert len(on_acts) >= 40
    teu_articles = {e.article for q in answerable for e in q.expected if e.source == "TEU"}
    assert {str(a) for a in range(21, 47)} <= teu_articles, "every article of TEU Title V has a question"
    tfeu_articles = {e.article for q in answerable for e in q.expected if e.source == "TFEU"}
    assert {"215", "222", "275"} <= tfeu_articles
    assert {"PROTOCOL-10", "PROTOCOL-11"} <= {e.source for q in answerable for e in q.expected}


@pytest.mark.slow
def test_every_expectation_is_in_the_texts(assistant):
    """Each expected entry matches indexed chunks, and each keyword occurs in a chunk of an expected source."""
    chunks = assistant.index.chunks
    problems = []
    for q in load_questions([SETS]):
        for e in q.expected:
            if not any(e.matches(c.source_id, c.article) for c in chunks):
                problems.append(f"{q.id}: expected {e.to_dict()} matches no chunk")
        for kw in q.answer_keywords:
            if not any(q.is_relevant(c.source_id, c.article) and kw.lower() in c.text.lower() for c in chunks):
                problems.append(f"{q.id}: keyword {kw!r} is in no chunk of an expected source")
    assert not problems, "\n".join(problems)


def test_topics_are_labelled():
    topics = Counter(q.topic for q in load_questions([SETS]))
    assert len(topics) >= 8 and all(topics.values())
