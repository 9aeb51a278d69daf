"""Explicit references in a question: "Article 42(7) TEU", "Art. 215 TFEU", "Protocol No 10" — and references to
articles of texts that are not indexed ("Article 5 of the NATO treaty")."""

from __future__ import annotations

import re
from dataclasses import dataclass

# "Article 42(7) TEU", "Art. 215 TFEU", "Article 31", "Articles 42 and 43 of the Treaty on European Union"
_REFERENCE = re.compile(
    r"\bart(?:icle)?s?\.?\s*(\d{1,3})(?:\s*\((\d{1,2})\))?"
    r"(?:\s*(?:of\s+the\s+)?(TEU|TFEU|Treaty on European Union|Treaty on the Functioning of the European Union))?",
    re.I,
)
# "Articles 42 and 43 TEU", "Articles 21, 22 and 24": every number of the list, the treaty named after it
_TREATY = r"(?:\s*(?:of\s+the\s+)?(TEU|TFEU|Treaty on European Union|Treaty on the Functioning of the European Union))?"
_ONE = r"\d{1,3}(?:\s*\(\d{1,2}\))?"
_LIST = re.compile(rf"\b(?:articles|arts)\.?\s*((?:{_ONE}\s*(?:,|and|or|&)\s*)+{_ONE}){_TREATY}", re.I)
_PROTOCOL = re.compile(r"\bprotocol\s*(?:\(?\s*no\.?\s*)?(10|11)\b", re.I)
# the protocols named by their subject: "the PESCO protocol", "the protocol on permanent structured cooperation"
_PROTOCOL_SUBJECT = (
    (
        re.compile(
            r"\b(?:PESCO|permanent structured cooperation)[\s-]+protocols?\b|"
            r"\bprotocols?\s+on\s+(?:the\s+)?(?:PESCO|permanent structured cooperation)\b",
            re.I,
        ),
        "10",
    ),
    # "the protocol on Article 42" is No 11; "the protocol on Article 42(6)" (PESCO) is not
    (re.compile(r"\bprotocols?\s+on\s+Article\s+42\b(?!\s*\()", re.I), "11"),
)
_DECLARATION = re.compile(r"\bdeclaration\s*(?:no\.?\s*)?(13|14)\b", re.I)
_TREATY_NAMES = {
    "teu": "TEU",
    "tfeu": "TFEU",
    "treaty on european union": "TEU",
    "treaty on the functioning of the european union": "TFEU",
}
# "of the NATO treaty", "of the UN Charter": an article of some other text, not of the EU Treaties
# a capitalised word that is not a function word ("In", "And") or an acronym ("EU")
_NAMED = r"(?!(?:in|on|at|by|of|and|or|to|for|with|from|the|a|an)\b)(?-i:[A-Z][a-z])[\w'’-]*"
_OTHER_TEXT = re.compile(
    r"\s*of\s+(?!(?:the\s+)?(?:treaty on\b|TEU\b|TFEU\b|"
    # "the Treaty", "the EU Treaty", "the Union's treaties", "the Lisbon Treaty", "the Treaty of Lisbon": the EU's own
    r"(?:EU|European Union|Union|Lisbon)?(?:['’]s)?\s*treat(?:y|ies)\b(?!\s+of\s+(?!Lisbon\b))))"
    r"(?:the\s+)?([\w'’ -]{0,40}?"
    r"\b(?:treaty|charter|convention|constitution|pact|agreement|act|law)\b"
    # with the place or party it is named after, in capitalised words: "the Treaty of Westphalia", "of the North
    # Atlantic" (not "EU" in "the Treaty of Washington EU law", not "In" in "of Amsterdam In 1997")
    r"(?:\s+of\s+(?:the\s+)?" + _NAMED + r"(?:\s+" + _NAMED + r")*)?)",
    re.I,
)


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
    named: list[tuple[int, str, str, str | None, int]] = []  # (where, article, paragraph, treaty, end of the mention)
    lists = list(_LIST.finditer(question))
    for m in lists:
        for one in re.finditer(r"(\d{1,3})(?:\s*\((\d{1,2})\))?", m.group(1)):
            named.append((m.start(1) + one.start(), one.group(1), one.group(2) or "", m.group(2), m.end()))
    for m in _REFERENCE.finditer(question):
        if not any(lst.start() <= m.start() < lst.end() for lst in lists):
            named.append((m.start(), m.group(1), m.group(2) or "", m.group(3), m.end()))
    for at, article, paragraph, treaty, end in named:
        if not treaty and _OTHER_TEXT.match(question, end):
            continue
        if treaty:
            source = _TREATY_NAMES[treaty.lower()]
        else:
            source = next((s for s in ("TEU", "TFEU") if article in treaty_articles.get(s, set())), "")
        if source and article in treaty_articles.get(source, set()):
            found.append((at, Reference(source, article, paragraph)))
    found += [(m.start(), Reference(f"PROTOCOL-{m.group(1)}", "")) for m in _PROTOCOL.finditer(question)]
    found += [
        (m.start(), Reference(f"PROTOCOL-{number}", ""))
        for pattern, number in _PROTOCOL_SUBJECT
        for m in pattern.finditer(question)
    ]
    found += [(m.start(), Reference(f"DECLARATION-{m.group(1)}", "")) for m in _DECLARATION.finditer(question)]
    # in the order the question names them: "Protocol No 11 on Article 42 TEU" is about the protocol first
    refs = [ref for _, ref in sorted(found, key=lambda item: item[0])]
    return list(dict.fromkeys(refs))


def other_text(question: str) -> str:
    """The article a question names of a text that is not an EU Treaty ("Article 5 of the NATO treaty"), or ""."""
    for m in _REFERENCE.finditer(question):
        if m.group(3):
            continue
        other = _OTHER_TEXT.match(question, m.end())
        if other:
            return f"Article {m.group(1)} of the {other.group(1).strip()}"
    return ""
