r"""Text from outside (questions, history, embedding inputs) must be valid Unicode before a model or a page sees it.

JSON can carry a lone UTF-16 surrogate ("\\ud800"): Python accepts it as a one-character string, but the tokenizer,
UTF-8 output and JSON encoders all refuse it, so it is turned away at the edge with a message (422), not a crash.
"""

from __future__ import annotations

import re

from ..errors import QuestionError

_SURROGATE = re.compile("[\ud800-\udfff]")


def first_invalid(text: str) -> int | None:
    """Index of the first lone surrogate in the text (half of a UTF-16 pair, not a character), or None."""
    found = _SURROGATE.search(text)
    return found.start() if found else None


def require_unicode(text: str, what: str) -> str:
    """The text unchanged, or a QuestionError naming `what` and the position of its first invalid character."""
    at = first_invalid(text)
    if at is not None:
        raise QuestionError(
            f"{what} has an invalid character at position {at + 1} (U+{ord(text[at]):04X}, half of a "
            "UTF-16 surrogate pair): send valid Unicode text"
        )
    return text


def displayable(text: str) -> str:
    """The text with each lone surrogate replaced by U+FFFD (the replacement character), so it can be shown."""
    return _SURROGATE.sub("\ufffd", text)
