"""Thumbs up/down on an answer and the optional comment after it, written to the feedback store."""

from __future__ import annotations

import logging

import gradio as gr

from ..feedback import FeedbackStore
from .chat import Exchange

log = logging.getLogger(__name__)


def like_event(payload: object) -> tuple[int, int]:
    """The message index and the rating (+1, -1, or 0 when the thumb was clicked again to take it back) of a
    like/dislike event as the page sends it, or a BadRating naming what is malformed."""
    if not isinstance(payload, dict):
        raise BadRating("malformed rating event: not an object")
    index = payload.get("index")
    if isinstance(index, list) and index:  # [message, part] for a message in parts
        index = index[0]
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise BadRating("malformed rating event: 'index' must be a message number")
    liked = payload.get("liked", True)
    if liked is True:
        return index, 1
    if liked is False:
        return index, -1
    if liked in ("", None):  # the page sends "" when a thumb is clicked again
        return index, 0
    raise BadRating("malformed rating event: 'liked' must be true, false or empty")


class BadRating(gr.Error):
    """A like/dislike event the page itself would never send: the caller's to fix (400), so no traceback."""

    def __init__(self, message: str):
        super().__init__(message, print_exception=False)


class Ratings:
    """Event handlers for the Chatbot's like/dislike buttons and the comment box; one row per rated answer."""

    def __init__(self, store: FeedbackStore):
        self.store = store

    # gr.EventData, not gr.LikeData: LikeData reads the event's fields before this runs and failed with a 500
    def rate(self, exchanges: list[Exchange], rated: dict[int, int], data: gr.EventData):
        """Store, change or remove the rating of one answer; returns (rated, row being commented, comment box row)."""
        index, rating = like_event(data._data)
        rated = dict(rated or {})
        position = index // 2  # every exchange is one user message then one assistant message
        exchange = exchanges[position] if 0 <= position < len(exchanges or []) else None
        if exchange is None or exchange.answer is None:
            return rated, None, gr.update(visible=False)  # nothing was answered (an error or a stopped search)
        row = rated.get(index)
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
