"""Every API error is JSON `{"error": "one line"}` with a fitting status; details stay in the server log."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ...errors import AssistantError, IndexUnusableError, ModelError, QuestionError

log = logging.getLogger(__name__)

INTERNAL = "internal error"
# An absolute file path in a message (not part of a URL): /srv/cfsp/.data/index/g2026...
_PATH = re.compile(r"(?<![\w:/.~-])/(?:[^\s/'\"(),;]+/)*[^\s/'\"(),;:]*")


def without_paths(message: str) -> str:
    """A message fit for the public: each server file path shortened to its last part (…/g2026...-1a2b), so the
    folder layout, user names and mount points stay in the server log."""

    def short(match: re.Match) -> str:
        path = match.group(0)
        end = path.rstrip(".")  # a full stop after a path ends the sentence
        return "…/" + end.rstrip("/").rsplit("/", 1)[-1] + path[len(end) :]

    return _PATH.sub(short, message)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one error shape: a single line, whatever the message held."""
    line = " ".join(str(message).split()) or "error"
    line = line.encode("utf-8", "replace").decode("utf-8")  # an echoed lone surrogate would break the JSON encoder
    return JSONResponse({"error": line}, status_code=status, headers=headers)


def status_of(exc: AssistantError) -> int:
    """A bad question is the client's to fix (422); a missing index or model is the server's state (503)."""
    if isinstance(exc, QuestionError):
        return 422
    if isinstance(exc, (IndexUnusableError, ModelError)):
        return 503
    return 400


def validation_message(exc: RequestValidationError) -> tuple[int, str]:
    """Status and one line for a request pydantic refused: malformed JSON is 400, a wrong field 422."""
    problems = list(exc.errors())
    first = problems[0] if problems else {}
    if first.get("type") == "json_invalid":
        return 400, f"the request body is not valid JSON ({first.get('ctx', {}).get('error', 'parse error')})"
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    if first.get("type") == "missing" and not where:
        return 422, "the request needs a JSON body"
    message = str(first.get("msg", "invalid request"))
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return 422, f"{where}: {message}{more}" if where else f"{message}{more}"


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""

    async def on_assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        status = status_of(exc)
        message = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        if status >= 500:  # the server's own state: the full message (paths included) goes to the log only
            log.warning("%s %s: %d %s", request.method, request.url.path, status, message)
            message = without_paths(message)
        return error(status, message)

    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = validation_message(exc)
        return error(status, message)

    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    async def on_anything(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error(500, INTERNAL)

    # Starlette types every handler as taking an Exception; each of these takes the subclass it is registered for
    app.add_exception_handler(AssistantError, on_assistant_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, on_http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, on_anything)
