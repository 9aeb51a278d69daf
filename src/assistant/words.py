"""Words, outside the lexical index: how the assistant splits a question or a text into words, and the word lists it
reads them with (`corpus/words.toml`, data beside the glossary, read once on first use).

The lexical index has its own tokenizer (bm25s, stemmed, with its stop words); a question's terms come from it, once,
in the question stage (`question.query.QueryTerms`). Everything else that reads words reads them here:
- `tokens`: a word as a question writes it, with what is joined to it ("HR/VP", "EU's", "14th");
- `words`: a word as the texts' vocabulary counts it at ingest (letters and digits, inner apostrophes and hyphens);
- `proper_names`: the capitalised words of a question that may be names;
- `topic_words`: the words that carry a conversation's topic;
- `variants`: spellings of one word that mean the same.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .config import PROJECT_ROOT
from .errors import CorpusError

WORDS_FILE = PROJECT_ROOT / "corpus" / "words.toml"

_TOKEN = re.compile(r"[^\W_][\w'’\-/]*")
_WORD = re.compile(r"[^\W_](?:[^\W_]|['’\-](?=[^\W_]))*")
# a conversation's words: tokens, with a number's paragraph kept ("31(2)"), so that a follow-up carries "Article
# 31(2)" over as it was written
_TOPIC = re.compile(r"\d+\(\d+\)|" + _TOKEN.pattern)
_CLITIC = re.compile(r"(['’](s|m|re|ve|ll|d)|s['’])$", re.I)  # possessive or contraction: "Union's", "I'm"


@dataclass(frozen=True)
class WordLists:
    """The lists of `corpus/words.toml`, lower case."""

    function: frozenset[str]  # no subject of their own: question words, auxiliaries, articles, prepositions
    chat: frozenset[str]  # the function words and the words of conversation ("tell me", "please")
    topic: frozenset[str]  # never the topic of a conversation
    titles: frozenset[str]  # written before a person's name ("High Representative Kaja Kallas")
    not_names: frozenset[str]  # capitalised, but no part of a person's name (institutions, places, months)


@cache
def word_lists(path: Path = WORDS_FILE) -> WordLists:
    """The word lists, read once per path; a CorpusError names a file that cannot be read or lacks a list."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CorpusError(f"cannot read the word lists {path}: {exc}") from None

    def listed(section: str, key: str = "words") -> frozenset[str]:
        try:
            return frozenset(w.lower() for w in data[section][key])
        except (KeyError, TypeError, AttributeError):
            raise CorpusError(f"the word lists {path} have no list [{section}] {key} of words") from None

    function = listed("function")
    return WordLists(
        function=function,
        chat=function | listed("chat"),
        topic=listed("topic"),
        titles=listed("person", "titles"),
        not_names=listed("person", "not_names"),
    )


def tokens(text: str) -> list[str]:
    """The words of a question as written, with what is joined to them ("HR/VP", "EU's", "14th"), in order."""
    return _TOKEN.findall(text)


def words(text: str) -> list[str]:
    """The words of a text in order (letters and digits, with inner apostrophes and hyphens)."""
    return _WORD.findall(text)


def content_words(text: str) -> str:
    """The words of a question that say what it is about, without function and conversational words ("can you
    tell me ...")."""
    chat = word_lists().chat
    return " ".join(w for w in tokens(text) if w.lower() not in chat)


def proper_names(text: str) -> list[str]:
    """Capitalised words that are not acronyms and not the first word (whose capital sentence case explains),
    except in very short questions ("Iran too?")."""
    found = [t for t in tokens(text) if any(c.isalpha() for c in t)]  # words: "2019" is none, "14th" one
    start = 0 if len(found) <= 3 else 1
    names = [w.strip("'’-") for w in found[start:] if w[:1].isupper() and not w.isupper()]
    function = word_lists().function
    return list(dict.fromkeys(w for w in names if w and _CLITIC.sub("", w).lower() not in function))


def name_phrases(text: str, names: list[str] | None = None) -> list[str]:
    """The names of a text as they are written together: consecutive words of `names` (by default its
    `proper_names`) joined ("Red Sea", "South China Sea"), once each, in order."""
    wanted = set(proper_names(text) if names is None else names)
    phrases: list[str] = []
    run: list[str] = []
    for token in [*tokens(text), ""]:
        word = token.strip("'’-")
        base = _CLITIC.sub("", word)  # "Ukraine's" is Ukraine
        if word in wanted or (base and base in wanted):
            run.append(word if word in wanted else base)
            continue
        if run:
            phrases.append(" ".join(run))
            run = []
    return list(dict.fromkeys(phrases))


def topic_words(text: str) -> list[str]:
    """The words of a text that carry its topic (no stop words, question words or pronouns), in order, once each."""
    stop = word_lists().topic
    seen: dict[str, str] = {}
    for word in _TOPIC.findall(text):
        key = word.lower().strip("'’")
        if key in stop or len(key) < 2:
            continue
        seen.setdefault(key, word)
    return list(seen.values())


def variants(word: str) -> list[str]:
    """Spellings of one word that mean the same: without a possessive or contraction, without or split at hyphens
    and slashes."""
    base = _CLITIC.sub("", word)
    forms = [word, base]
    for sep in ("-", "/"):
        if sep in base:
            forms.append(base.replace(sep, ""))
            forms.extend(part for part in base.split(sep) if part)
    return list(dict.fromkeys(f.lower() for f in forms if f))
