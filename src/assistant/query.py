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


@dataclass(frozen=True)
class Reference:
    """An explicit pointer in a question to a treaty article (or protocol/declaration)."""

    source_id: str
    article: str
    paragraph: str = ""


def find_references(question: str, treaty_articles: dict[str, set[str]]) -> list[Reference]:
    """Explicit references in a question; a bare "Article 31" means the TEU article if the index has it, else TFEU."""
    refs: list[Reference] = []
    for m in _REFERENCE.finditer(question):
        article, paragraph, treaty = m.group(1), m.group(2) or "", m.group(3)
        if treaty:
            source = _TREATY_NAMES[treaty.lower()]
        else:
            source = next((s for s in ("TEU", "TFEU") if article in treaty_articles.get(s, set())), "")
        if source and article in treaty_articles.get(source, set()):
            refs.append(Reference(source, article, paragraph))
    refs += [Reference(f"PROTOCOL-{m.group(1)}", "") for m in _PROTOCOL.finditer(question)]
    refs += [Reference(f"DECLARATION-{m.group(1)}", "") for m in _DECLARATION.finditer(question)]
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
