"""The question stage: everything about a question happens here, once, and every later stage reads the `Query`.

`QuestionStage.analyse(question, history, model)` checks the question and the conversation, finds the language, has a
language model (when one is given) translate a question asked in another language and reword a follow-up as a
standalone question, then reads it: spelling corrections, the conversation's topic carried over, glossary
expansions, references, names, what it asks for and what an answer must hold.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Protocol

from ..errors import LLMError
from .conversation import Turn, keeps_topic, validate_history
from .languages import LanguageDetector
from .query import Query, QueryAnalyser
from .validation import validate_question

log = logging.getLogger(__name__)


class Bridge(Protocol):
    """What a language model lends the question stage (LLMError when it cannot)."""

    def translate(self, question: str) -> str:
        """The question in English."""
        ...

    def rewrite(self, question: str, history: list[tuple[str, str]]) -> str:
        """A follow-up as a standalone English question."""
        ...


class QuestionStage:
    """Turns a question in its conversation into the `Query` every later stage reads."""

    def __init__(self, reader: QueryAnalyser, languages: LanguageDetector, max_chars: int, max_turns: int):
        self.reader = reader
        self.languages = languages
        self.max_chars = max_chars
        self.max_turns = max_turns

    def turns(self, history: Iterable[Turn | Mapping] | None) -> tuple[Turn, ...]:
        """The earlier turns, checked (a QuestionError says what is wrong with them)."""
        return validate_history(history, self.max_turns, self.max_chars * 4)

    def analyse(
        self, question: str, history: Iterable[Turn | Mapping] | None = None, model: Bridge | None = None
    ) -> Query:
        """The `Query` for a question in its conversation; a QuestionError says what is wrong with the question or
        its history. Without a model, a question in another language is read as it is and `query.language` says
        which it is; a model that fails to translate leaves the reason in `query.untranslated`."""
        question = validate_question(question, self.max_chars)
        turns = self.turns(history)
        language = self.languages.detect(question)
        english, untranslated = None, ""
        if not language.english and model is not None:
            try:
                english = model.translate(question)
            except LLMError as exc:
                untranslated = str(exc)
        query = replace(
            self.reader.analyse(question, turns, english),
            language=language,
            translated=english or "",
            untranslated=untranslated,
        )
        if model is None or untranslated or not query.follow_up:
            return query
        base = english or question
        try:  # the model's standalone wording is searched beside the built-in resolver's, never instead of it
            rewritten = model.rewrite(base, [(t.role, t.content) for t in turns])
        except LLMError as exc:
            log.info("follow-up not rewritten (%s): carrying the conversation's words instead", exc)
            return query
        if not keeps_topic(rewritten, base, turns):  # it lost the topic the conversation carries: unused
            log.info("follow-up rewrite %r dropped the conversation's topic: not used", rewritten)
            return query
        return self.reader.reword(query, rewritten)
