"""Thumbs up/down on an answer and the optional comment after it, written to the feedback store."""

from __future__ import annotations

import logging

import gradio as gr

from ..feedback import FeedbackStore
from .chat import Exchange

log = logging.getLogger(__name__)


def _rating(liked: bool | str) -> int:
    """+1 or -1, or 0 when the thumb was clicked again to take the rating back."""
    if liked is True:
        return 1
    if liked is False:
        return -1
    return 0


class Ratings:
    """Event handlers for the Chatbot's like/dislike buttons and the comment box; one row per rated answer."""

    def __init__(self, store: FeedbackStore):
        self.store = store

    def rate(self, exchanges: list[Exchange], rated: dict[int, int], data: gr.LikeData):
        """Store, change or remove the rating of one answer; returns (rated, row being commented, comment box row)."""
        rated = dict(rated or {})
        index = data.index if isinstance(data.index, int) else data.index[0]
        position = index // 2  # every exchange is one user message then one assistant message
        exchange = exchanges[position] if 0 <= position < len(exchanges or []) else None
        if exchange is None or exchange.answer is None:
            return rated, None, gr.update(visible=False)  # nothing was answered (an error or a stopped search)
        rating, row = _rating(data.liked), rated.get(index)
        try:
            if rating == 0:
                if row is not None:
                    self.store.delete(row)
                    rated.pop(index)
                return rated, None, gr.update(visible=False)
            if row is None:
                record = exchange.record()
                row = self.store.add(record["question"], record["answer"], record["citations"], rating)
                rated[index] = row
            else:
                self.store.rate(row, rating)
        except Exception:
            log.exception("storing a rating failed")
            gr.Warning("Your rating could not be saved. Please try again later.")
            return rated, None, gr.update(visible=False)
        return rated, row, gr.update(visible=True)

    def comment(self, text: str, row: int | None):
        """Attach the comment to the rating just given; returns (cleared box, row, comment box row)."""
        if row is not None and (text or "").strip():
            try:
                self.store.comment(row, text)
                gr.Info("Thank you, your comment was saved.")
            except ValueError as exc:
                gr.Warning(str(exc))
                return text, row, gr.update(visible=True)
            except Exception:
                log.exception("storing a comment failed")
                gr.Warning("Your comment could not be saved. Please try again later.")
        return "", None, gr.update(visible=False)
