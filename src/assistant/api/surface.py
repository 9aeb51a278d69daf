"""What the chat pages expose beyond asking: nothing. Gradio's file-upload routes are refused, since the pages
have no file input (an open upload route took any file with no key or limit and kept it for ever)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error

UPLOAD_ROUTES = ("/gradio_api/upload", "/gradio_api/upload_progress")
NO_UPLOADS = "this assistant takes no file uploads"


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
