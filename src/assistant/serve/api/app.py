"""`create_app`: one FastAPI app serving the HTTP API, its docs, the widget and the chat page on one port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import gradio as gr
from fastapi import FastAPI, Request
from fastapi.middleware import Middleware
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Receive, Scope, Send

from ... import __version__
from ...config import Settings
from ...pipeline import Assistant
from ..feedback import FeedbackStore
from ..web import build_chat_page, page_options
from . import errors
from .openai_embeddings import embeddings_router
from .routes import api_router
from .security import BodyLimit, Guard, KeyRing, RateLimit, is_api, question_refusal
from .surface import NoUploads, PagePolicy, PageRefusals
from .widget import WIDGET_JS, WIDGET_PATH

DESCRIPTION = """Answers questions about the EU's Common Foreign and Security Policy with sentences quoted from the
official texts, each cited and linked. When API keys are configured, send `Authorization: Bearer <key>`.
Errors are JSON `{"error": "..."}`."""
ANY_METHOD = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


class HeadAsGet:
    """HEAD on the API is routed as GET (FastAPI's routes list GET only); the server still sends no body, because
    uvicorn keeps its own copy of the scope, which says HEAD."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        if scope["type"] == "http" and scope["method"] == "HEAD" and is_api(scope["path"]):
            scope = {**scope, "method": "GET"}
        await self.app(scope, receive, send)


def create_app(
    assistant: Assistant,
    settings: Settings,
    feedback: FeedbackStore,
    *,
    stream_delay: float = 0.03,
    owns_assistant: bool = False,
    pages: bool = True,
) -> FastAPI:
    """The whole server for one loaded assistant: /api/v1 and /v1 (OpenAPI docs at /docs), the compact chat at
    /widget with /widget.js to embed it, and the chat page at /. While serving, the assistant follows the index
    (see `Assistant.watch`); with `owns_assistant` it is closed at shutdown. Without `pages`, the API alone (for
    one of several worker processes). Raises ConfigError for unusable keys or an unreachable rate-limit storage."""
    keys = KeyRing.from_settings(settings)
    # one allowance per caller for the API and the chat; shared by every process when the storage is Redis
    rate = RateLimit(settings.rate_limit, settings.rate_limit_storage) if settings.rate_limit else None
    # Outermost first: CORS answers preflights and labels every response (errors included) for allowed sites;
    # the size limit and the guard refuse requests before anything is parsed.
    middleware = [
        # Always installed, even with no origins: Gradio then leaves CORS to it instead of adding its own rules.
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.allowed_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After"],
            max_age=600,
        ),
        # before the size limit: an upload is refused without reading any of it
        Middleware(NoUploads, mounts=("", WIDGET_PATH)),
        Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
        Middleware(Guard, keys=keys, rate=rate, protect_chat=settings.protect_chat, chat_mounts=("", WIDGET_PATH)),
        Middleware(PagePolicy, origins=settings.allowed_origins, widget_path=WIDGET_PATH),
        Middleware(PageRefusals, mounts=("", WIDGET_PATH)),
        Middleware(HeadAsGet),
    ]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        """While serving, follow the index: a new generation from an ingest is picked up without a restart."""
        assistant.watch()
        try:
            yield
        finally:  # uvicorn ends the process by the signal after this: a `finally` in app.py would not run
            if owns_assistant:
                assistant.close()
            else:
                assistant.unwatch()

    # FastAPIOffline: the /docs page with Swagger UI files shipped in a package, not fetched from a CDN (offline)
    app = FastAPIOffline(
        title="CFSP Assistant API",
        version=__version__,
        description=DESCRIPTION,
        middleware=middleware,
        docs_url="/docs",
        redoc_url=None,
        static_url="/docs/static",
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    errors.install(app)

    if settings.embedding_threads == 0 and hasattr(assistant.embedder, "use_threads"):
        # A server makes several model calls at once (questions, embeddings requests); with one torch thread each
        # they share the cores instead of oversubscribing them. Measured on 2 cores: question p95 while embeddings
        # run 88 -> 33 ms, 16 clients 36.6 -> 49.4 answers/s, an embeddings request alone just as fast.
        assistant.embedder.use_threads(1)
    limiter = anyio.CapacityLimiter(settings.concurrency_limit)  # questions at once; more wait their turn
    operators = KeyRing(k.get_secret_value() for k in settings.operator_keys)
    app.include_router(api_router(assistant, limiter, lambda token: operators.enabled and operators.valid(token)))
    # Embeddings have their own, smaller limit: a few large requests once held every slot and questions waited.
    app.include_router(
        embeddings_router(assistant.embedder, settings, anyio.CapacityLimiter(settings.embedding_concurrency))
    )

    # Every method: without this route PUT, DELETE ... fell through to the chat page's mount and got its 404.
    # (A CORS preflight never gets here: the CORS middleware answers it.)
    @app.api_route("/api/{rest:path}", methods=ANY_METHOD, include_in_schema=False)
    @app.api_route("/v1/{rest:path}", methods=ANY_METHOD, include_in_schema=False)
    async def unknown(request: Request, rest: str) -> Response:
        """An unknown API path is a JSON 404 (not the chat page's), a known one asked with another method a 405."""
        # the OpenAPI document lists every documented path (FastAPI builds it once); the API has no path parameters
        allowed = sorted(method.upper() for method in app.openapi().get("paths", {}).get(request.url.path, {}))
        if allowed:
            return errors.error(
                405, f"use {' or '.join(allowed)} for {request.url.path}", {"Allow": ", ".join(allowed)}
            )
        return errors.error(404, "no such API endpoint: see /docs")

    if not pages:
        # A Gradio page keeps its queue and session state in the process that served it, while the kernel spreads
        # a browser's connections over the workers: its questions would land on processes that never saw them.
        @app.get("/", include_in_schema=False)
        @app.get(WIDGET_PATH + "/", include_in_schema=False)
        async def no_pages() -> Response:
            """Where the chat page would be: why it is not, and where the API is."""
            return errors.error(
                404,
                "this server runs several worker processes (CFSP_WORKERS) and serves the API only: the chat page "
                "and widget need one process (CFSP_WORKERS=1); the API is at /api/v1, its documentation at /docs",
            )

        return app

    @app.get("/widget.js", include_in_schema=False)
    async def widget_js() -> Response:
        """The embed script."""
        return Response(
            WIDGET_JS,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    @app.get(WIDGET_PATH, include_in_schema=False)
    async def widget_slash() -> RedirectResponse:
        """The widget lives at /widget/ (its assets are relative to it)."""
        return RedirectResponse(WIDGET_PATH.lstrip("/") + "/")

    # Mounted last, the widget before the catch-all "/" (Starlette tries routes in order).
    mount = {"server_name": settings.host, "server_port": settings.port}
    refusal = question_refusal(keys, rate)  # the pages tell a person over the limit before enqueueing
    widget = build_chat_page(assistant, settings, feedback, stream_delay=stream_delay, compact=True, refusal=refusal)
    gr.mount_gradio_app(app, widget, path=WIDGET_PATH, **mount, **page_options(compact=True))
    chat = build_chat_page(assistant, settings, feedback, stream_delay=stream_delay, refusal=refusal)
    gr.mount_gradio_app(app, chat, path="/", **mount, **page_options())
    return app
