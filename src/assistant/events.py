"""The steps of a streamed answer, as the pipeline yields them and the chat page and the API pass them on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .types import Answer


class EventKind(StrEnum):
    """What a step of the stream carries."""

    SENTENCE = "sentence"  # a sentence a language model wrote that passed the checks, to show now
    ANSWER = "answer"  # the finished answer (always the last step)


@dataclass(frozen=True)
class Event:
    """A step of a streamed answer: a checked sentence to show, or the finished answer."""

    kind: EventKind
    text: str = ""
    answer: Answer | None = None
