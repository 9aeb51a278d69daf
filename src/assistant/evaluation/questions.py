"""Question sets: JSONL files of questions with the sources and words a correct answer should have."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AssistantError

REQUIRED = ("id", "question", "answerable")
HELD_OUT = "heldout"  # a folder of sets written before tuning and never tuned on: reported beside the tuning sets


class QuestionSetError(AssistantError):
    """A question set cannot be used; the message names every malformed line."""


@dataclass(frozen=True)
class Expected:
    """One acceptable source of an answer: a source id, optionally narrowed to one article."""

    source: str
    article: str = ""

    def matches(self, source_id: str, article: str) -> bool:
        """Does a retrieved chunk or citation (source id, article) satisfy this entry?"""
        return source_id == self.source and (not self.article or article == self.article)

    def to_dict(self) -> dict:
        """JSON-ready form (as in a question set)."""
        return {"source": self.source, **({"article": self.article} if self.article else {})}


@dataclass(frozen=True)
class EvalQuestion:
    """One question of a set, with what a correct answer looks like."""

    id: str
    question: str
    answerable: bool
    expected: tuple[Expected, ...] = ()
    answer_keywords: tuple[str, ...] = ()
    topic: str = "general"
    history: tuple[dict, ...] = field(default=(), repr=False)
    set_name: str = ""

    @property
    def split(self) -> str:
        """The split: "held-out" for a set in a `heldout` folder, else "tuning"."""
        return "held-out" if self.set_name.startswith(HELD_OUT + "/") else "tuning"

    def is_relevant(self, source_id: str, article: str) -> bool:
        """Does a chunk or citation match any expected entry (`expected` is any-of)?"""
        return any(e.matches(source_id, article) for e in self.expected)


def _parse(obj: object) -> tuple[EvalQuestion | None, list[str]]:
    """One line's question, or the list of what is wrong with it."""
    if not isinstance(obj, dict):
        return None, ["expected a JSON object"]
    problems = [f"missing field {name!r}" for name in REQUIRED if name not in obj]
    if problems:
        return None, problems
    if not isinstance(obj["id"], str) or not obj["id"].strip():
        problems.append("'id' must be a non-empty string")
    if not isinstance(obj["question"], str) or not obj["question"].strip():
        problems.append("'question' must be a non-empty string")
    if not isinstance(obj["answerable"], bool):
        problems.append("'answerable' must be true or false")
    expected_raw = obj.get("expected", [])
    expected: list[Expected] = []
    if not isinstance(expected_raw, list):
        problems.append("'expected' must be a list")
    else:
        for i, entry in enumerate(expected_raw, 1):
            if not isinstance(entry, dict) or not isinstance(entry.get("source"), str) or not entry["source"]:
                problems.append(f"expected entry {i} needs a 'source' string")
            elif "article" in entry and not isinstance(entry["article"], (str, int)):
                problems.append(f"expected entry {i}: 'article' must be a string such as \"42\"")
            else:
                expected.append(Expected(entry["source"], str(entry.get("article", "")).strip()))
    keywords = obj.get("answer_keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) and k.strip() for k in keywords):
        problems.append("'answer_keywords' must be a list of non-empty strings")
        keywords = []
    history = obj.get("history") or []
    if not isinstance(history, list) or not all(
        isinstance(t, dict) and t.get("role") in ("user", "assistant") and isinstance(t.get("content"), str)
        for t in history
    ):
        problems.append('\'history\' must be a list of {"role": "user"|"assistant", "content": text}')
        history = []
    topic = obj.get("topic", "general")
    if not isinstance(topic, str) or not topic.strip():
        problems.append("'topic' must be a non-empty string")
    if obj.get("answerable") is True and not expected:
        problems.append("an answerable question needs at least one 'expected' source")
    if obj.get("answerable") is False and expected_raw:
        problems.append('an unanswerable question must have "expected": []')
    if problems:
        return None, problems
    return EvalQuestion(
        obj["id"].strip(),
        obj["question"].strip(),
        obj["answerable"],
        tuple(expected),
        tuple(k.strip() for k in keywords),
        topic.strip(),
        tuple({"role": t["role"], "content": t["content"]} for t in history),
    ), []


def load_set(path: Path) -> list[EvalQuestion]:
    """All questions of one JSONL file, or a QuestionSetError naming every bad line (nothing is run on a bad set)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise QuestionSetError(f"question set not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionSetError(f"cannot read question set {path}: {exc}") from None
    questions: list[EvalQuestion] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{path.name} line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        question, problems = _parse(obj)
        errors += [f"{path.name} line {number}: {p}" for p in problems]
        if question is None:
            continue
        if question.id in seen:
            errors.append(
                f"{path.name} line {number}: duplicate id {question.id!r} (first on line {seen[question.id]})"
            )
            continue
        seen[question.id] = number
        name = f"{HELD_OUT}/{path.stem}" if path.parent.name == HELD_OUT else path.stem
        questions.append(EvalQuestion(**{**question.__dict__, "set_name": name}))
    if errors:
        raise QuestionSetError(f"{len(errors)} problem(s) in {path}:\n  " + "\n  ".join(errors))
    if not questions:
        raise QuestionSetError(f"question set {path} has no questions")
    return questions


def load_sets(paths: list[Path]) -> list[EvalQuestion]:
    """Questions of several sets; ids must be unique across them."""
    questions: list[EvalQuestion] = []
    owner: dict[str, str] = {}
    errors: list[str] = []
    for path in paths:
        try:
            batch = load_set(path)
        except QuestionSetError as exc:
            errors.append(str(exc))
            continue
        for q in batch:
            if q.id in owner:
                errors.append(f"{Path(path).name}: id {q.id!r} is also used in {owner[q.id]}")
            owner[q.id] = Path(path).name
        questions += batch
    if errors:
        raise QuestionSetError("\n".join(errors))
    return questions
