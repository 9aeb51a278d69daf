r"""Text from outside (questions, history, embedding inputs) must be valid Unicode before a model or a page sees it.

JSON can carry a lone UTF-16 surrogate ("\\ud800"): Python accepts it as a one-character string, but the tokenizer,
UTF-8 output and JSON encoders all refuse it, so it is turned away at the edge with a message (422), not a crash.
"""

from __future__ import annotations

import re
import unicodedata

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


def validate_question(question: str, max_chars: int) -> str:
    """The question stripped, or a QuestionError saying what is wrong with it."""
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("the question is empty: type a question about EU foreign and security policy")
    question = require_unicode(question.strip(), "the question")
    if len(question) > max_chars:
        raise QuestionError(
            f"the question is {len(question)} characters long; the limit is {max_chars}. Please shorten it."
        )
    # Compatibility forms read as the letters they stand for: a question typed in full-width letters ("Ｗｈａｔ")
    # was taken for another language and declined. NFKC can lengthen a text (one ligature, many letters): the limit
    # holds after it too.
    question = unicodedata.normalize("NFKC", question)
    if len(question) > max_chars:
        raise QuestionError(f"the question is over {max_chars} characters long once its letters are spelt out")
    return question
