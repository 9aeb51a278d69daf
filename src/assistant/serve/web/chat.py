"""One conversation turn at a time: ask the pipeline with the session's history and stream the rendered answer.

The session's exchanges (kept in `gr.State`, so per browser tab) are the single source of truth; the Chatbot's
messages are re-rendered from them on every step, so nothing a user sees ever feeds back into a search.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

from ...errors import AssistantError
from ...pipeline import Assistant
from ...question.validation import displayable
from ...types import Answer
from ..streaming import answer_pieces
from . import render
from .examples import ExamplePicker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Exchange:
    """A question and what the page answered: the Answer (None while searching or after an error) and its HTML."""

    question: str
    answer: Answer | None = None
    shown: str = ""
    suggestions: tuple[str, ...] = ()

    def messages(self) -> list[dict]:
        """The two Chatbot messages of this exchange (suggested questions become clickable options)."""
        bot: dict = {"role": "assistant", "content": self.shown}
        if self.suggestions:
            bot["options"] = [{"value": q, "label": q} for q in self.suggestions]
        return [{"role": "user", "content": render.user_message(self.question)}, bot]

    def record(self) -> dict:
        """What a rating of this exchange stores: question, plain answer text and citations as data."""
        answer = self.answer
        return {
            "question": self.question,
            "answer": answer.text if answer else "",
            "mode": answer.mode if answer else "",
            "model": answer.model if answer else "",
            "citations": [asdict(c) for c in answer.citations] if answer else [],
        }


def to_messages(exchanges: list[Exchange]) -> list[dict]:
    """The Chatbot value for a conversation."""
    return [m for ex in exchanges for m in ex.messages()]


def history(exchanges: list[Exchange], max_turns: int) -> list[dict]:
    """The earlier turns given to the pipeline: questions and answer texts only, never HTML, newest kept."""
    answered = [(ex.question, ex.answer) for ex in exchanges if ex.answer is not None]
    keep = answered[-(max_turns // 2) :] if max_turns >= 2 else []
    return [
        turn
        for question, answer in keep
        for turn in ({"role": "user", "content": question}, {"role": "assistant", "content": answer.text})
    ]


class Chat:
    """Answers one message of a session: a searching state first, then the answer word group by word group."""

    def __init__(self, assistant: Assistant, picker: ExamplePicker, stream_delay: float = 0.03):
        self.assistant = assistant
        self.picker = picker
        self.stream_delay = stream_delay

    def respond(self, message: str, exchanges: list[Exchange]) -> Iterator[tuple[list[dict], list[Exchange]]]:
        """Stream the Chatbot messages and the updated exchanges for one question."""
        exchanges = list(exchanges or [])
        if not isinstance(message, str) or not message.strip():
            yield to_messages(exchanges), exchanges
            return
        earlier = history(exchanges, self.assistant.settings.max_history_turns)
        # shown as typed, except a lone surrogate (no character; the answer below says so), which breaks the page
        current = Exchange(displayable(message), shown=render.searching())
        yield to_messages(exchanges + [current]), exchanges + [current]

        number = len(exchanges) + 1  # the exchange's position on the page: its source ids use it
        written = ""  # a language model's checked sentences, shown as each passes
        try:
            answer = None
            for event in self.assistant.ask_stream(message, history=earlier):
                if event.answer is not None:
                    answer = event.answer
                    break
                written = f"{written} {event.text}".strip()
                partial = replace(current, shown=render.partial_answer(written, (), number, writing=True))
                yield to_messages(exchanges + [partial]), exchanges + [partial]
            assert answer is not None  # the stream always ends with the answer
        except AssistantError as exc:
            current = replace(current, shown=render.error_message(str(exc)))
            yield to_messages(exchanges + [current]), exchanges + [current]
            return
        except Exception:
            log.exception("answering failed for a question of %d characters", len(message))
            current = replace(current, shown=render.error_message(render.GENERIC_ERROR))
            yield to_messages(exchanges + [current]), exchanges + [current]
            return

        answer = replace(answer, hits=())  # the session keeps what it shows, not the retrieved passages
        if answer.abstained:
            suggestions = tuple(self.picker.nearest(message, 3))
            current = replace(
                current, answer=answer, suggestions=suggestions, shown=render.abstention(answer, suggestions)
            )
            yield to_messages(exchanges + [current]), exchanges + [current]
            return

        if answer.mode != "llm":  # a quoted answer is written out word group by word group
            written = ""
            for piece in answer_pieces(answer.text)[:-1]:
                written += piece
                partial = replace(
                    current, answer=answer, shown=render.partial_answer(written, answer.citations, number)
                )
                yield to_messages(exchanges + [partial]), exchanges + [partial]
                time.sleep(self.stream_delay)
        # the served index may have moved to a newer generation since the page was built: its links, not the old ones
        urls = self.assistant.index.manifest.document_urls()
        current = replace(current, answer=answer, shown=render.full_answer(answer, number, urls))
        yield to_messages(exchanges + [current]), exchanges + [current]
