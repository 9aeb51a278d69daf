"""Understanding a question: explicit article references and glossary expansion."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .catalogue import Term

# "Article 42(7) TEU", "Art. 215 TFEU", "Article 31", "Articles 42 and 43 of the Treaty on European Union"
_REFERENCE = re.compile(
    r"\bart(?:icle)?s?\.?\s*(\d{1,3})(?:\s*\((\d{1,2})\))?"
    r"(?:\s*(?:of\s+the\s+)?(TEU|TFEU|Treaty on European Union|Treaty on the Functioning of the European Union))?",
    re.I)
_PROTOCOL = re.compile(r"\bprotocol\s*(?:\(?\s*no\.?\s*)?(10|11)\b", re.I)
_DECLARATION = re.compile(r"\bdeclaration\s*(?:no\.?\s*)?(13|14)\b", re.I)
_TREATY_NAMES = {"teu": "TEU", "tfeu": "TFEU", "treaty on european union": "TEU",
                 "treaty on the functioning of the european union": "TFEU"}


# "of the NATO treaty", "of the UN Charter": an article of some other text, not of the EU Treaties
_OTHER_TEXT = re.compile(r"\s*of\s+(?:the\s+)?(?!treaty on\b|TEU\b|TFEU\b)[\w'’ -]{0,40}?"
                         r"\b(treaty|charter|convention|constitution|pact|agreement|act|law)\b", re.I)
# questions about what is happening now or how often something was used: legal texts as adopted do not record that
_LIVE_STATE = re.compile(
    r"\b(current(ly)?|right now|at the moment|this year|latest|so far|to date|"
    r"ever (been )?(used|invoked|activated|applied|triggered)|(has|have|did) (it|they|\w+ \w+) ever|"
    r"actually (been )?(used|invoked))\b", re.I)
_NAME = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
_FUNCTION_WORDS = frozenset("i what who whom whose which when where why how is are was were do does did can could "
                            "should would will shall may might must the a an and or but if in on of to for".split())


def proper_names(text: str) -> list[str]:
    """Capitalised words that are not acronyms and not the first word (whose capital sentence case explains),
    except in very short questions ("Iran too?")."""
    words = _NAME.findall(text)
    start = 0 if len(words) <= 3 else 1
    names = [w.strip("'’-") for w in words[start:] if w[:1].isupper() and not w.isupper()]
    return list(dict.fromkeys(w for w in names if w and w.lower() not in _FUNCTION_WORDS))


def asks_about_live_state(question: str) -> bool:
    """Does the question ask about the present state of affairs or the record of use ("the current head of",
    "has it ever been invoked")? The corpus holds texts as adopted, which cannot answer that."""
    return bool(_LIVE_STATE.search(question))


@dataclass(frozen=True)
class Reference:
    """An explicit pointer in a question to a treaty article (or protocol/declaration)."""

    source_id: str
    article: str
    paragraph: str = ""


def find_references(question: str, treaty_articles: dict[str, set[str]]) -> list[Reference]:
    """Explicit references in a question, in the order it names them; a bare "Article 31" means the TEU article
    if the index has it, else TFEU. A reference without an article (a protocol, a declaration) means the whole text."""
    found: list[tuple[int, Reference]] = []
    for m in _REFERENCE.finditer(question):
        article, paragraph, treaty = m.group(1), m.group(2) or "", m.group(3)
        if not treaty and _OTHER_TEXT.match(question, m.end()):
            continue
        if treaty:
            source = _TREATY_NAMES[treaty.lower()]
        else:
            source = next((s for s in ("TEU", "TFEU") if article in treaty_articles.get(s, set())), "")
        if source and article in treaty_articles.get(source, set()):
            found.append((m.start(), Reference(source, article, paragraph)))
    found += [(m.start(), Reference(f"PROTOCOL-{m.group(1)}", "")) for m in _PROTOCOL.finditer(question)]
    found += [(m.start(), Reference(f"DECLARATION-{m.group(1)}", "")) for m in _DECLARATION.finditer(question)]
    # in the order the question names them: "Protocol No 11 on Article 42 TEU" is about the protocol first
    refs = [ref for _, ref in sorted(found, key=lambda item: item[0])]
    return list(dict.fromkeys(refs))


class Expander:
    """Adds glossary expansions (and acronyms) to a question for the lexical and dense searches."""

    def __init__(self, terms: list[Term]):
        self.rules: list[tuple[re.Pattern, str]] = []
        for term in terms:
            names = [term.key, *term.also]
            for name in names:
                # acronyms match case-sensitively ("EDA", not "eda"); phrases match in any case
                flags = 0 if name.isupper() or "/" in name else re.I
                pattern = re.compile(rf"(?<![\w/]){re.escape(name)}(?![\w/])", flags)
                self.rules.append((pattern, term.expansion))
            self.rules.append((re.compile(rf"\b{re.escape(term.expansion)}\b", re.I), term.key))

    def expand(self, question: str) -> str:
        """The question followed by the expansions of the terms it mentions (each added once)."""
        extra: list[str] = []
        for pattern, addition in self.rules:
            if pattern.search(question) and addition.lower() not in question.lower() and addition not in extra:
                extra.append(addition)
        return f"{question} ({'; '.join(extra)})" if extra else question
