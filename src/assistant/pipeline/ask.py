"""A question through the stages: checked, its language found (and, with a language model, translated and a
follow-up reworded), analysed, searched, answered from the texts and, with a language model, worded by it."""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace

from ..answer.decide import RESERVE_PASSAGES, other_language
from ..errors import IndexDamagedError, QuestionError
from ..events import Event, EventKind
from ..llm.client import LLMError
from ..llm.writer import localized
from ..question.conversation import Turn, is_follow_up, keeps_topic, validate_history
from ..question.query import Query
from ..question.validation import require_unicode
from .engine import Engine, Parts

log = logging.getLogger(__name__)

ANSWERERS = ("auto", "extractive", "llm")
NO_LLM = "no language model is configured (set CFSP_LLM_BASE_URL), so answers can only be quoted: use mode extractive"


def validate_question(question: str, max_chars: int) -> str:
    """The question stripped, or a QuestionError saying what is wrong with it."""
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("the question is empty: type a question about EU foreign and security policy")
    question = require_unicode(question.strip(), "the question")
    if len(question) > max_chars:
        raise QuestionError(
            f"the question is {len(question)} characters long; the limit is {max_chars}. Please shorten it."
        )
    # Compatibility forms read as the letters they stand for: a question typed in full-width letters ("Ｗｈａｔ")
    # was taken for another language and declined. NFKC can lengthen a text (one ligature, many letters): the limit
    # holds after it too.
    question = unicodedata.normalize("NFKC", question)
    if len(question) > max_chars:
        raise QuestionError(f"the question is over {max_chars} characters long once its letters are spelt out")
    return question


def checked_turns(parts: Parts, history: Iterable[Turn | Mapping] | None) -> tuple[Turn, ...]:
    """The earlier turns of the conversation, checked against the settings' limits."""
    settings = parts.settings
    return validate_history(history, settings.max_history_turns, settings.max_question_chars * 4)


def understand(parts: Parts, engine: Engine, question: str, history: Iterable[Turn | Mapping] | None) -> Query:
    """The `Query` record for a question in its conversation (what is searched, what the answer must hold)."""
    question = validate_question(question, parts.settings.max_question_chars)
    return engine.analyser.analyse(question, checked_turns(parts, history))


def answer_stream(
    parts: Parts,
    engine: Engine,
    question: str,
    top_k: int | None,
    mode: str,
    history: Iterable[Turn | Mapping] | None,
    answerer: str,
    unusable: Callable[[str], None],
) -> Iterator[Event]:
    """The events of one answer on one engine (see `Assistant.ask_stream`); `unusable` hears why the index could
    not be searched when the vector store fails under the request."""
    started = time.perf_counter()
    settings = parts.settings
    question = validate_question(question, settings.max_question_chars)
    turns = checked_turns(parts, history)
    if answerer not in ANSWERERS:
        raise QuestionError(f"unknown answer mode {answerer!r}; allowed: {', '.join(ANSWERERS)}")
    writer = engine.writer if answerer in ("auto", "llm") else None
    if answerer == "llm" and writer is None:
        raise QuestionError(NO_LLM)
    language = parts.languages.detect(question)
    english = None
    if not language.english:
        if writer is None:  # the texts are English and only a model could bridge the languages
            yield Event(EventKind.ANSWER, answer=other_language(question, language, started))
            return
        try:
            english = writer.translate(question)
        except LLMError as exc:
            yield Event(
                EventKind.ANSWER,
                answer=replace(
                    other_language(question, language, started), fallback_reason=str(exc), model=writer.model.name
                ),
            )
            return
    rewritten = None
    if writer is not None and turns and is_follow_up(english or question):
        base = english or question
        try:  # the model's standalone wording is searched beside the built-in resolver's, never instead of it
            rewritten = writer.rewrite(base, [(t.role, t.content) for t in turns])
            if not keeps_topic(rewritten, base, turns):  # it lost the topic the conversation carries: unused
                log.info("follow-up rewrite %r dropped the conversation's topic: not used", rewritten)
                rewritten = None
        except LLMError as exc:
            log.info("follow-up not rewritten (%s): carrying the conversation's words instead", exc)
    query = engine.analyser.analyse(question, turns, english, rewritten)
    k = top_k or settings.top_k
    try:  # the answerer may look past the passages shown for a specific thing asked for: retrieve enough
        retrieval = engine.retriever.search(query, max(k, RESERVE_PASSAGES), mode)
    except (ValueError, QuestionError):
        raise
    except Exception as exc:  # the vector store failed under us: say so (503), and look for a usable index
        problem = engine.index.problem()
        if problem is None:
            raise
        unusable(problem)
        raise IndexDamagedError(f"the index being served is unusable: {problem}") from exc
    searched = time.perf_counter()
    quoted = engine.answerer.answer(query, retrieval)
    quoted = replace(
        quoted,
        question=question,
        hits=quoted.evidence(k),
        search_query=query.searched,
        also_searched=query.rewrite,
        corrections=query.corrections,
        language=language.code,
        citations=localized(quoted.citations, language.code),
        retrieval_ms=(searched - started) * 1000,
        latency_ms=(time.perf_counter() - started) * 1000,
    )
    if writer is None or quoted.abstained:
        yield Event(EventKind.ANSWER, answer=quoted)
        return
    # as deep as the quoted answer may have looked, so the provisions it quotes are among those given
    candidates = engine.answerer.candidates(query, retrieval, RESERVE_PASSAGES)
    passages = writer.given(candidates, quoted.citations)
    for event in writer.write(
        rewritten or (query.searched if english else question), language, passages, quoted, started
    ):
        if event.answer is not None:
            written = event.answer
            event = replace(
                event,
                answer=replace(written, hits=written.evidence(k), latency_ms=(time.perf_counter() - started) * 1000),
            )
        yield event
