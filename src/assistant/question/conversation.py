"""Follow-up questions: resolve an elliptical question ("and who chairs it?") against the earlier turns.

Without an LLM the resolution is lexical: when a question leans on its context (starts with a connector,
points back with a pronoun, or has almost no content words of its own), the key terms of the conversation's
current topic are carried over into the search query. A self-contained question starts a new topic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import QuestionError
from ..words import proper_names, topic_words, words
from .validation import require_unicode

ROLES = ("user", "assistant")

_CONNECTOR = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|what if|and what|what else|same for|or)\b"
    r"|\b(also|too|as well|either|instead|in that case|the same)\b",
    re.I,
)
_ANAPHOR = re.compile(
    r"\b(it|its|itself|this|that|these|those|they|them|their|there|such|he|she|him|his|her|"
    r"the same|the latter|the former|one)\b",
    re.I,
)
# a question whose subject is a pronoun: "Does it ...", "Can they ..."
_SUBJECT_PRONOUN = re.compile(
    r"^\s*(and\s+)?(does|do|did|is|are|was|were|can|could|will|would|has|have|must|may)\s+(it|they)\b", re.I
)


@dataclass(frozen=True)
class Turn:
    """One earlier message of a conversation."""

    role: str
    content: str


def validate_history(history: Iterable[Turn | Mapping] | None, max_turns: int, max_chars: int) -> tuple[Turn, ...]:
    """Earlier turns as `Turn`s, or a QuestionError naming the first bad one."""
    turns: list[Turn] = []
    for i, item in enumerate(history or ()):
        role = item.role if isinstance(item, Turn) else item.get("role") if isinstance(item, Mapping) else None
        content = item.content if isinstance(item, Turn) else item.get("content") if isinstance(item, Mapping) else None
        if role not in ROLES:
            raise QuestionError(f"history turn {i + 1}: role must be 'user' or 'assistant', not {role!r}")
        if not isinstance(content, str):
            raise QuestionError(f"history turn {i + 1}: content must be text")
        if len(content) > max_chars:
            raise QuestionError(f"history turn {i + 1} is {len(content)} characters long; the limit is {max_chars}")
        require_unicode(content, f"history turn {i + 1}")
        turns.append(Turn(role, content))
    if len(turns) > max_turns:
        raise QuestionError(f"the history has {len(turns)} turns; the limit is {max_turns}. Start a new conversation.")
    return tuple(turns)


def _names_lower(text: str) -> set[str]:
    return {name.lower() for name in proper_names(text)}


def _names_new_topic(question: str, word: str) -> bool:
    """A one-word question about a name or acronym ("What is PESCO?") starts a topic ("Iran too?" is caught
    earlier as a follow-up by its connector)."""
    return word.isupper() or word.lower() in _names_lower(question)


def is_follow_up(question: str) -> bool:
    """Does the question lean on earlier turns to be understood?"""
    own = topic_words(question)
    if _CONNECTOR.search(question) or not own:
        return True
    if len(own) == 1:
        return not _names_new_topic(question, own[0])
    return bool(_ANAPHOR.search(question)) and len(own) <= 6


@dataclass(frozen=True)
class _Term:
    word: str
    is_name: bool


def resolve(question: str, history: Iterable[Turn] = ()) -> str:
    """The search query for a question in its conversation: the question itself, plus the topic's key terms
    when it is a follow-up. Earlier user turns are resolved the same way, so a chain of follow-ups keeps its topic."""
    topic: list[_Term] = []
    for turn in history:
        if turn.role == "user" and turn.content.strip():
            topic = _next_topic(turn.content, topic)
    if not topic or not is_follow_up(question):
        return question
    own = {t.word.lower() for t in _terms(question)}
    carried = [t.word for t in _carried(question, topic) if t.word.lower() not in own]
    return f"{question} ({' '.join(carried)})" if carried else question


def keeps_topic(rewrite: str, question: str, history: Iterable[Turn] = ()) -> bool:
    """Whether a language model's standalone rewrite of a follow-up keeps the topic the built-in resolver carries
    over (each of its carried terms is in the rewrite): a rewrite that loses it searched worse than the resolver."""
    resolved = resolve(question, history)
    if resolved == question:
        return True
    said = {w.lower() for w in words(rewrite)}
    carried = [w.lower() for w in words(resolved[len(question) :])]
    return all(any(w == s or (len(w) > 4 and s.startswith(w[:5])) for s in said) for w in carried)


def _terms(text: str) -> list[_Term]:
    names = _names_lower(text)
    return [_Term(w, w.lower() in names) for w in topic_words(text)]


def _carried(text: str, topic: list[_Term]) -> list[_Term]:
    """The topic terms a follow-up keeps: all of them, except that a follow-up naming its own entity in place of
    the old one ("what about Iran?", "does the same apply to Syria?") replaces the names of the old topic. When the
    question's subject is a pronoun, the old topic is what it asks about: in "Does it run anything like Erasmus?"
    "it" is the college asked about before, and Erasmus is new."""
    replaces_names = bool(_names_lower(text)) and not _SUBJECT_PRONOUN.search(text)
    return [t for t in topic if not (replaces_names and t.is_name)]


def _next_topic(user_text: str, topic: list[_Term]) -> list[_Term]:
    """The topic after a user turn: its own terms when it stands alone, merged with the old topic when it follows up."""
    own = _terms(user_text)
    if not topic or not is_follow_up(user_text):
        return own
    seen = {t.word.lower() for t in own}
    return own + [t for t in _carried(user_text, topic) if t.word.lower() not in seen]
