"""What a piece of official wording contains, for the specific things a question can ask for that a provision on the
same subject may lack: a year, a statement of the present state, a record that something was used. Used to decline
when none of the provisions that answer best contains what was asked (each check kept because removing it costs on
the dev questions; see README, "Rules measured on dev")."""

from __future__ import annotations

import re

PRESENT = re.compile(r"\b(currently|at present|presently|now|today|to date|as of|so far|nowadays)\b", re.I)
# a record that something was used: "was invoked in 2015", "has been activated"
RECORD = re.compile(
    r"\b(was|were|has been|have been|had been) (invoked|used|activated|triggered|applied|called "
    r"upon)\b|\b(invoked|activated|triggered) (it |the \w+ )?(in|on) (\d{1,2} )?\w* ?\d{4}\b",
    re.I,
)
# institution, place-type and title words: never a particular name ("Council", "Union", "Eastern")
_GENERIC = frozenset(
    """
union european council commission parliament member members states state high representative foreign affairs
security policy defence agency court justice treaty article decision regulation committee political military staff
service external action common annex protocol declaration republic kingdom united nations federation east west
north south eastern western northern southern europe africa asia america middle southeast central the this that
these those summary key points what when where who how why which from with for and operation mission centre
satellite institute studies college facility peace fund board general secretary president presidency chair
directorate office special agreement convention charter strategy global human rights climate paris joint
comprehensive plan action framework international criminal organisation organization prohibition chemical
weapons nuclear arms trade law official journal regulations decisions ministers government governments
january february march april may june july august september october november december monday tuesday
wednesday thursday friday saturday sunday strategic eu's union's treaty's
""".split()
)


def is_generic(word: str) -> bool:
    """An institution, place-type or title word ("Council", "Union", "Eastern") rather than a particular name."""
    return word.lower().strip("'’-") in _GENERIC or word.isupper()


def has_year(text: str, year: str) -> bool:
    """Does the text mention the year (in a date, or in an act's number such as 2017/2315)?"""
    return re.search(rf"(?<!\d){year}(?!\d)", text) is not None


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
