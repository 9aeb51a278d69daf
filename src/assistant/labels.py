"""How sources are named to people: the kind of text ("Council decision", "Web page — not an official legal text")
and its date ("7 June 2016", or "date unknown")."""

from __future__ import annotations

import re
from datetime import date

KINDS = {
    "treaty": "Treaty",
    "decision": "Decision",
    "regulation": "Regulation",
    "official summary": "Official EUR-Lex summary",
    "agreement": "Agreement",
    "common position": "Common position",
    "directive": "Directive",
    "recommendation": "Recommendation",
    "web page": "Web page",
    "document": "Document",
}
UNOFFICIAL = " — not an official legal text"
WEB_TIER = 4  # web pages and dropped-in documents: not official legal texts
# CFSP decisions ("Decision (CFSP) 2017/2315", "Decision 2014/75/CFSP") are adopted by the Council (Art. 28-29 TEU)
_CFSP_DECISION = re.compile(r"\bDecision (\(CFSP\) \d{4}/\d+|\d{4}/\d+/CFSP)")


def kind_label(kind: str, tier: int = 2, title: str = "", label: str = "") -> str:
    """The name of a kind of source; names the Council when the act's title or CFSP numbering says it adopted it,
    and says plainly when a source is not an official legal text."""
    text = KINDS.get(kind, kind.capitalize() or "Document")
    if kind in ("decision", "regulation") and (title.startswith("Council ") or _CFSP_DECISION.search(label)):
        text = f"Council {text.lower()}"
    return text + UNOFFICIAL if tier >= WEB_TIER else text


# English month names whatever the process's locale (strftime's %B follows LC_TIME)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def date_label(value: str) -> str:
    """An ISO date as "7 June 2016"; "date unknown" when there is none."""
    if not value:
        return "date unknown"
    try:
        d = date.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"
