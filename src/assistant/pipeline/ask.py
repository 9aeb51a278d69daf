"""A question through the stages: the question stage reads it (with a language model, translated and a follow-up
reworded), retrieval finds the passages, the answer stage answers from the texts and, with a language model, the
writer words the answer from the provisions the quoted answer chose."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace

from ..answer.decide import RESERVE_PASSAGES, other_language
from ..errors import IndexDamagedError, QuestionError
from ..events import Event, EventKind
from ..llm.writer import localized
from ..question.conversation import Turn
from .engine import Engine

ANSWERERS = ("auto", "extractive", "llm")
NO_LLM = "no language model is configured (set CFSP_LLM_BASE_URL), so answers can only be quoted: use mode extractive"


def answer_stream(
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
    if answerer not in ANSWERERS:
        raise QuestionError(f"unknown answer mode {answerer!r}; allowed: {', '.join(ANSWERERS)}")
    writer = engine.writer if answerer in ("auto", "llm") else None
    if answerer == "llm" and writer is None:
        raise QuestionError(NO_LLM)
    query = engine.question.analyse(question, history, writer)
    if not query.language.english and not query.translated:  # the texts are English: only a model could bridge
        declined = other_language(query.asked, query.language, started)
        if writer is not None:  # it tried
            declined = replace(declined, fallback_reason=query.untranslated, model=writer.model.name)
        yield Event(EventKind.ANSWER, answer=declined)
        return
    k = top_k or engine.top_k
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
        question=query.asked,
        hits=quoted.evidence(k),
        search_query=query.searched,
        also_searched=query.rewrite,
        corrections=query.corrections,
        language=query.language.code,
        citations=localized(quoted.citations, query.language.code),
        retrieval_ms=(searched - started) * 1000,
        latency_ms=(time.perf_counter() - started) * 1000,
    )
    if writer is None or quoted.abstained:
        yield Event(EventKind.ANSWER, answer=quoted)
        return
    # as deep as the quoted answer may have looked, so the provisions it quotes are among those given
    candidates = engine.answerer.candidates(query, retrieval, RESERVE_PASSAGES)
    passages = writer.given(candidates, quoted.citations)
    for event in writer.write(query.standalone, query.language, passages, quoted, started):
        if event.answer is not None:
            written = event.answer
            event = replace(
                event,
                answer=replace(written, hits=written.evidence(k), latency_ms=(time.perf_counter() - started) * 1000),
            )
        yield event
