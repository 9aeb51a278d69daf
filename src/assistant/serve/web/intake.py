"""Whether the page may take a question now: room in the chat's queue and the asker under the rate limit.

The page asks before it enqueues the question. A person who would be refused is told why in a line under the box
and keeps the question there; a refused enqueue request instead left an "Error" over the conversation and a locked
box. (Gradio shows no notice for errors of its instant, queue=False steps, so the line is a page component.)
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from . import render

BUSY = "The assistant is busy answering other questions: please try again in a moment."

# (Authorization header, client address) -> why a question from that caller would be refused now, or None
Refusal = Callable[[str | None, str | None], str | None]


def picked_text(data: gr.SelectData) -> str:
    """The question of a clicked start-screen example ({"text": ...}) or suggested question (an option's value)."""
    value = data.value
    return str(value.get("text") or value.get("value") or "") if isinstance(value, dict) else str(value or "")


def _taken(text: str) -> tuple:
    # the box is emptied and stays locked while the answer is written; Stop replaces Send; no notice
    return (
        text,
        gr.update(value="", interactive=False),
        gr.update(visible=False),
        gr.update(visible=True),
        "",
        gr.update(value="", visible=False),
    )


def _waiting(why: str, box: dict) -> tuple:
    # nothing to answer; the box keeps (or gets) the question, Send stays, and the notice says why
    return "", box, gr.update(), gr.update(), why, gr.update(value=render.error_message(why), visible=True)


class Intake:
    """Takes questions for one page (Blocks): each `take_*` returns (question to answer, box, Send, Stop, refusal,
    notice); with a refusal the question to answer is empty and the box holds the question, so nothing is lost."""

    def __init__(self, page: gr.Blocks, refusal: Refusal | None = None):
        self.page = page
        self.refusal = refusal

    def refused(self, request: gr.Request | None) -> str:
        """Why a question from this request cannot be taken now, or "" when it can."""
        queue = getattr(
            self.page, "_queue", None
        )  # Gradio keeps the queue private; `build_chat_page` gives it max_size
        if queue is not None and queue.max_size is not None and len(queue) >= queue.max_size:
            return BUSY
        if self.refusal is None or request is None:
            return ""
        client = request.client.host if request.client else None
        return self.refusal(request.headers.get("authorization"), client) or ""

    def take_typed(self, text: str, request: gr.Request) -> tuple:
        """The typed question, unless it must wait (then the box keeps it as typed)."""
        why = self.refused(request)
        return _waiting(why, gr.update()) if why else _taken(text)

    def take_picked(self, data: gr.SelectData, request: gr.Request) -> tuple:
        """A clicked example or suggestion, unless it must wait (then it is put in the box to send later)."""
        text, why = picked_text(data), self.refused(request)
        return _waiting(why, gr.update(value=text)) if why else _taken(text)


def stop_if_refused(why: str) -> None:
    """Stop the steps of a refused question before the answer is enqueued (the notice has said why)."""
    if why:
        raise gr.Error(why, visible=False, print_exception=False)
