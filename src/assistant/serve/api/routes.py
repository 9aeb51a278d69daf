"""/api/v1: ask (JSON or server-sent events), sources and health, served from one loaded `Assistant`."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, format_sse_event

from ...errors import QuestionError
from ...events import Event, EventKind
from ...pipeline import NO_LLM, Assistant
from ...question.conversation import Turn
from ...types import Answer
from ..streaming import answer_pieces
from .errors import without_paths
from .schemas import AskRequest, AskResponse, ErrorResponse, HealthResponse, Source, SourcesResponse
from .security import token_of

log = logging.getLogger(__name__)

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 413, 422, 429, 500)
}


def api_router(
    assistant: Assistant, limiter: anyio.CapacityLimiter, is_operator: Callable[[str | None], bool] = lambda _: False
) -> APIRouter:
    """The routes for one assistant; `limiter` bounds how many questions are answered at once (the rest wait);
    `is_operator` says whether a bearer token is an operator's (who sees the process and paths in health).
    Questions worded by a language model wait on it, not on the cores: they have slots of their own (as many), so
    a quoted answer never waits behind a slow model."""
    settings = assistant.settings
    worded = anyio.CapacityLimiter(limiter.total_tokens)

    def slots(mode: str) -> anyio.CapacityLimiter:
        return limiter if assistant.llm is None or mode == "extractive" else worded

    router = APIRouter(prefix="/api/v1", tags=["assistant"], responses=dict(ERRORS))

    def checked(request: AskRequest) -> tuple[list[Turn], int]:
        """The request's turns and passage count, or a QuestionError (422) naming the limit; the question and the
        turns themselves are checked by the question stage, before anything is searched."""
        top_k = settings.top_k if request.top_k is None else request.top_k
        if not 1 <= top_k <= settings.max_top_k:
            raise QuestionError(f"top_k must be between 1 and {settings.max_top_k}, not {top_k}")
        if request.mode == "llm" and assistant.llm is None:
            raise QuestionError(NO_LLM)
        return [Turn(t.role, t.content) for t in request.history], top_k

    async def answer(request: AskRequest) -> Answer:
        history, top_k = checked(request)
        return await anyio.to_thread.run_sync(
            lambda: assistant.ask(request.question, top_k=top_k, history=history, answerer=request.mode),
            limiter=slots(request.mode),
        )

    @router.post("/ask", response_model=AskResponse, summary="Answer a question with citations")
    async def ask(request: AskRequest) -> AskResponse:
        """A cited answer made of official sentences, or `abstained: true` when the texts do not answer."""
        return AskResponse.of(await answer(request))

    # Not `response_class=EventSourceResponse`: that makes FastAPI expect a generator, and this endpoint first
    # checks the request and makes the first step of the answer (so bad input is a plain 4xx), then streams.
    @router.post(
        "/ask/stream",
        summary="Answer a question, streamed (server-sent events)",
        responses={
            200: {
                "description": "`delta` events with pieces of the answer text (a language model's sentences as each "
                "passes the checks), a `restart` event if the language model's answer is then withdrawn for the "
                "quoted one (drop the text so far), then one `answer` event with the same JSON as /api/v1/ask.",
                "content": {"text/event-stream": {}},
            }
        },
    )
    async def ask_stream(request: AskRequest) -> EventSourceResponse:
        """Server-sent events: `delta` ({"text": piece}) as the answer is written, `restart` ({"reason": ...}) when
        streamed sentences are withdrawn, then `answer` (the full JSON, which is authoritative)."""
        history, top_k = checked(request)
        steps = assistant.ask_stream(request.question, top_k=top_k, history=history, answerer=request.mode)

        def step() -> Event | None:
            return next(steps, None)

        # one step at a time in a worker thread, each counted against the limiter like a whole answer
        held = slots(request.mode)
        first = await anyio.to_thread.run_sync(step, limiter=held)  # bad input raises here: a plain 4xx

        async def events() -> AsyncIterator[bytes]:
            event, shown = first, False
            while event is not None:
                if event.kind is EventKind.SENTENCE:
                    text = (" " if shown else "") + event.text
                    shown = True
                    yield format_sse_event(event="delta", data_str=json.dumps({"text": text}, ensure_ascii=False))
                elif event.answer is not None:
                    result = AskResponse.of(event.answer)
                    if shown and result.mode != "llm":  # sentences went out, then the model's answer was withdrawn
                        restart = json.dumps({"reason": result.fallback_reason}, ensure_ascii=False)
                        yield format_sse_event(event="restart", data_str=restart)
                        shown = False
                    if not shown:
                        for piece in answer_pieces(result.answer):
                            data = json.dumps({"text": piece}, ensure_ascii=False)
                            yield format_sse_event(event="delta", data_str=data)
                    yield format_sse_event(event="answer", data_str=result.model_dump_json())
                event = await anyio.to_thread.run_sync(step, limiter=held)

        return EventSourceResponse(events(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @router.get("/sources", response_model=SourcesResponse, summary="What is indexed")
    async def sources() -> SourcesResponse:
        """Every indexed document: id, kind, title, citation form, date, official link and chunk count."""
        rows = [
            Source(**{name: row[name] for name in Source.model_fields if row.get(name) is not None})
            for row in assistant.sources()
        ]
        return SourcesResponse(documents=len(rows), chunks=len(assistant.index.chunks), sources=rows)

    @router.get(
        "/health",
        response_model=HealthResponse,
        summary="Liveness and index readiness",
        responses={503: {"model": HealthResponse, "description": "The served index cannot answer."}},
    )
    async def health(request: Request) -> JSONResponse:
        """The server answers and its index can serve (200), or not (503 with `ready: false` and the problem):
        the generation served, counts, embedding model and provider, vector store mode (and, for an operator's
        key, the server process and the problem with its file paths)."""
        problem = await anyio.to_thread.run_sync(assistant.check)
        operator = is_operator(token_of(request.headers.get("authorization")))
        if problem and not operator:
            log.warning("health: the index cannot answer: %s", problem)
            problem = without_paths(problem)
        index = assistant.index
        manifest = index.manifest
        body = HealthResponse(
            status="unavailable" if problem else "ok",
            ready=problem is None,
            problem=problem,
            generation=manifest.generation,
            documents=manifest.documents,
            chunks=len(index.chunks),
            embedding_model=manifest.model,
            embedding_provider=manifest.provider,
            dimension=manifest.dim,
            vector_store="server" if settings.server_mode else "embedded",
            built_at=manifest.built_at,
            worker_pid=os.getpid() if operator else None,
        )
        shown = body.model_dump(exclude={"worker_pid"} if body.worker_pid is None else set())
        return JSONResponse(shown, status_code=503 if problem else 200)

    return router
