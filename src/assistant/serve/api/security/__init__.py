"""Who may call, how often and how much: API keys (`keys.py`), rate limits (`rates.py`) and the middlewares that
apply them with the body-size limit (`guard.py`)."""

from .guard import PUBLIC, REALM, BodyLimit, Guard, enqueues_question, is_api, is_public, question_refusal
from .keys import KeyRing, bearer, caller_of, parse_keys, token_of, warn_if_open
from .rates import RateLimit, redacted

__all__ = [
    "PUBLIC",
    "REALM",
    "BodyLimit",
    "Guard",
    "KeyRing",
    "RateLimit",
    "bearer",
    "caller_of",
    "enqueues_question",
    "is_api",
    "is_public",
    "parse_keys",
    "question_refusal",
    "redacted",
    "token_of",
    "warn_if_open",
]
