"""What a piece of official wording contains, for the kinds of things questions ask for: a body or office, a date
or period, a frequency, an amount, a rule (shall / may / shall not), a person's name, a statement of the present
state. Used to prefer the provision that answers and to decline when none contains what was asked."""

from __future__ import annotations

import re

from ..words import word_lists

BODY = re.compile(
    r"\b(Council|Commission|Parliament|High Representative|Member States?|Political and Security Committee|"
    r"Agency|Court of Justice|Presidency|President|Secretary[- ]General|Steering Board|Head of Mission|Special "
    r"Representative|Committee|Board|Director|Administrator|Union Minister|Union delegations?|External Action "
    r"Service|Operation Commander|Mission Commander|Civilian Operation Commander|Chair|Chairman|Coreper|"
    # international organisations ("Council of Europe" is matched by "Council"), not their charters or conventions
    r"(?:United Nations|UN)(?!\s+(?:Charter|Convention|Protocol|Programme|Conference|Firearms|Arms)\b)|NATO|"
    r"North Atlantic Treaty Organi[sz]ation|OSCE|OECD|Organi[sz]ation for (?:Security and [Cc]o-?operation in "
    r"Europe|Economic [Cc]o-?operation and Development))\b"
)
DATE = re.compile(
    r"\b(\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \d{4}|"
    r"(January|February|March|April|May|June|July|August|September|October|November|December) \d{4}|"
    r"(19|20)\d\d|until|no later than|expire|expiry|date of|entry into force|enter into force|months?|years?|"
    r"days?|weeks?|period|from the date|as from|by the end of)\b",
    re.I,
)
FREQUENCY = re.compile(
    r"\b(annual(ly)?|every (\w+ )?(year|month|week|six months|two years|three years)|once a|"
    r"twice a|each year|per year|a year|regular(ly)?|periodic(ally)?|at least once|"
    r"(six|three|twelve)-monthly|quarterly|biannual|yearly)\b",
    re.I,
)
# an amount, count or share: digits (not article or act numbers), currency, a fraction, a count of things, or the
# size of a vote ("unanimously", "a qualified majority"); "one" alone is too often "one or more" to count
FIGURE = re.compile(
    r"(?<![\w(./])\d[\d,.\s]*(\s?(%|per ?cent|million|billion|thousand))?(?![\w/)])|\bEUR\b|€|"
    r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|half|one third|two thirds|one quarter|per ?cent|percentage|"
    r"unanimous(ly)?|unanimity|qualified majority)\b",
    re.I,
)
RULE = re.compile(
    r"\b(shall|may|must|shall not|may not|cannot|prohibited|excluded|obliged|required|entitled|"
    r"exempt(ed)?|allowed|permitted|right to)\b",
    re.I,
)
PRESENT = re.compile(r"\b(currently|at present|presently|now|today|to date|as of|so far|nowadays)\b", re.I)
# a record that something was used: "was invoked in 2015", "has been activated"
RECORD = re.compile(
    r"\b(was|were|has been|have been|had been) (invoked|used|activated|triggered|applied|called "
    r"upon)\b|\b(invoked|activated|triggered) (it |the \w+ )?(in|on) (\d{1,2} )?\w* ?\d{4}\b",
    re.I,
)
# article and act numbers are references, not amounts: "Article 42(7)", "2019/797", "(CFSP) 2017/2315"
_REFERENCE_NUMBER = re.compile(
    r"\b(Articles?|Art\.|Arts\.|paragraphs?|points?|Annex(es)?|Protocol|No|Nos)\s*"
    r"\(?\d[\d()a-z, and-]*|\b\d{2,4}/\d+(/\w+)?\b|\(\d{1,2}\)",
    re.I,
)
# two or more capitalised words: a person's name ("Kaja Kallas", "Eamon Gilmore") when none of them is an institution,
# a place or a title (`corpus/words.toml`, [person])
_CAPITALISED = re.compile(r"\b([A-Z][a-zà-ÿ'’\-]+(?:\s+[A-Z][a-zà-ÿ'’\-]+)+)\b")


def is_generic(word: str) -> bool:
    """An institution, place-type or title word ("Council", "Union", "Eastern") rather than a particular name."""
    return word.lower().strip("'’-") in word_lists().not_names or word.isupper()


def strip_references(text: str) -> str:
    """The text without article, paragraph and act numbers (so they do not count as figures or years)."""
    return _REFERENCE_NUMBER.sub(" ", text)


# a date or a year is when, not how much: "13 April 2016", "April 13, 2016", "13.4.2016", "2021-2027", "in 2023"
# (month names capitalised: "12 may be seconded" is a count)
_CALENDAR = re.compile(
    r"\b(\d{1,2} )?(?-i:January|February|March|April|May|June|July|August|September|October|November|December)"
    r"( \d{1,2},)?( \d{4})?\b|\b\d{1,2}\.\d{1,2}\.\d{4}\b|\b(19|20)\d\d\s*[-–]\s*(19|20)\d\d\b|"
    r"\b(in|since|from|until|by|before|after|during|year|years)\s+(19|20)\d\d\b(?![,.]?\d)",
    re.I,
)


def has_figure(text: str) -> bool:
    """An amount, count or share ("20 %", "25 of the 27", "one third", "EUR 5 million", "unanimously"); dates and
    years do not count."""
    return bool(FIGURE.search(_CALENDAR.sub(" ", strip_references(text))))


def has_year(text: str, year: str) -> bool:
    """Does the text mention the year (in a date, or in an act's number such as 2017/2315)?"""
    return re.search(rf"(?<!\d){year}(?!\d)", text) is not None


def persons(text: str) -> list[str]:
    """Names of people the text mentions, without the title written before one ("High Representative Jane Doe")."""
    found = []
    lists = word_lists()
    for m in _CAPITALISED.finditer(text):
        words = m.group(1).split()
        while len(words) > 2 and _bare(words[0]) in lists.titles:
            words = words[1:]
        if all(_bare(w) not in lists.not_names for w in words):
            found.append(" ".join(words))
    return found


def _bare(word: str) -> str:
    return word.lower().strip("'’-")


def states_present(text: str) -> bool:
    """Does the text state how things are now?"""
    return bool(PRESENT.search(text))


# "once / if / when the clause has been invoked, ..." sets a condition: within its own clause (up to a comma,
# semicolon, colon or the end of a sentence) and 80 characters, a condition word before "has / have been invoked"
_CONDITION = re.compile(
    r"\b(?:once|if|when|whenever|where|after|until|unless|before|in case|in the event)\b"
    r"(?:(?!\.\s+[A-Z])[^;:,])*$",
    re.I,
)


def records_use(text: str) -> bool:
    """Does the text record that something (a clause, a mechanism) was actually used? "Was invoked" tells what
    happened; "once it has been invoked" is a condition and records nothing."""
    return any(
        not m.group(0).lower().startswith(("has", "have"))
        or not _CONDITION.search(text, max(0, m.start() - 80), m.start())
        for m in RECORD.finditer(text)
    )


def answers_kind(text: str, kind: str) -> bool:
    """Does the text contain the kind of thing the question asks for (a body for "who", a date for "when" ...)?"""
    if kind == "who":
        return bool(BODY.search(text))
    if kind == "when":
        return bool(DATE.search(strip_references(text)))
    if kind == "how_often":
        return bool(FREQUENCY.search(text))
    if kind == "how_much":
        return has_figure(text)
    if kind == "rule":
        return bool(RULE.search(text))
    return False
