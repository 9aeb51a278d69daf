"""What the pages expose and how a browser may treat them: no upload routes (the pages have no file input), a content
security policy on every page and on the docs, and a page's own refusals as a 400 rather than a 500."""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error
from .security import is_api

UPLOAD_ROUTES = ("/gradio_api/upload", "/gradio_api/upload_progress")
NO_UPLOADS = "this assistant takes no file uploads"
DOCS = "/docs"
# What the Gradio pages and the Swagger UI need, and nothing from elsewhere: no plugin, no <base> from elsewhere, no
# form posted elsewhere. Both start from inline scripts (Gradio's configuration changes with the page, so no hash
# fits it) and use inline styles; Gradio also runs the page's `js=` code as a function built from a string
# ('unsafe-eval', pages only: without it the page's own script was refused, tests/test_adversarial.py).
SCRIPTS = {"page": "script-src 'self' 'unsafe-inline' 'unsafe-eval'", "docs": "script-src 'self' 'unsafe-inline'"}
PAGE_SOURCES = (
    "default-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "media-src 'self' data: blob:",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
)


def is_upload(path: str, mounts: Iterable[str]) -> bool:
    """A Gradio upload route (or its progress route) under any of the chat pages' mounts."""
    path = path.rstrip("/")
    return any(path == mount.rstrip("/") + route for mount in mounts for route in UPLOAD_ROUTES)


class NoUploads:
    """404 for Gradio's upload routes under every chat mount, whatever the method, before any of the body is
    read: nothing reaches Gradio's temporary folder."""

    def __init__(self, app: ASGIApp, mounts: Iterable[str] = ("",)):
        self.app, self.mounts = app, tuple(mounts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        if scope["type"] == "http" and is_upload(scope["path"], self.mounts):
            await error(404, NO_UPLOADS)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def frame_ancestors(origins: Iterable[str]) -> str:
    """The CSP value saying which sites may show the widget in a frame: this server, plus the allowed origins."""
    origins = list(origins)
    return "frame-ancestors *" if "*" in origins else " ".join(["frame-ancestors 'self'", *origins])


def page_policy(origins: Iterable[str] = (), scripts: str = "page") -> str:
    """The whole Content-Security-Policy of a page (`scripts`: "page" or "docs") that the given origins (besides
    this server) may frame."""
    return "; ".join([PAGE_SOURCES[0], SCRIPTS[scripts], *PAGE_SOURCES[1:], frame_ancestors(origins)])


class PagePolicy:
    """Content-Security-Policy on everything but the API: the widget may be framed by the allowed origins, every
    other page (the chat, the docs) only by this server itself (no clickjacking), and none loads anything from
    elsewhere."""

    def __init__(self, app: ASGIApp, origins: Iterable[str], widget_path: str = "/widget"):
        self.app = app
        self.widget_path = widget_path
        self.widget_policy = page_policy(origins)
        self.page_policy = page_policy()
        self.docs_policy = page_policy(scripts="docs")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        path = scope.get("path", "")
        if scope["type"] != "http" or is_api(path):
            await self.app(scope, receive, send)
            return
        if path == DOCS or path.startswith(DOCS + "/"):
            policy = self.docs_policy
        elif path == self.widget_path or path.startswith(self.widget_path + "/"):
            policy = self.widget_policy
        else:
            policy = self.page_policy

        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("Content-Security-Policy", policy)
            await send(message)

        await self.app(scope, receive, with_policy)


class PageRefusals:
    """Gradio answers every failure of a page's direct call (`/gradio_api/run/...`) with a 500. A `gr.Error` is a
    refusal the handler meant (such as a malformed rating event) and carries its message even with errors hidden:
    that one becomes a 400 `{"error": message}`. Anything else stays a bare 500."""

    def __init__(self, app: ASGIApp, mounts: Iterable[str] = ("",)):
        self.app = app
        self.prefixes = tuple(mount.rstrip("/") + "/gradio_api/run/" for mount in mounts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        body: list[bytes] = []

        async def hold_500(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] == 500:
                held = message
                return
            if held is None:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            try:
                refusal = json.loads(b"".join(body)).get("error")
            except (ValueError, AttributeError):
                refusal = None
            if isinstance(refusal, str) and refusal:
                await error(400, refusal)(scope, receive, send)
                return
            await send(held)
            await send({"type": "http.response.body", "body": b"".join(body)})

        await self.app(scope, receive, hold_500)
