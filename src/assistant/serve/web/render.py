"""HTML for the chat messages: every string from a user or the corpus goes through html.escape here.

Each message is one HTML block without blank lines, so the Chatbot's Markdown renderer passes it through as
HTML (no Markdown syntax in a question or a legal text is interpreted) and its sanitiser is a second fence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from html import escape
from html import unescape as html_unescape

from ... import labels
from ...question.languages import language_of_url
from ...types import Answer, Citation

SEARCHING = "Searching the official sources…"
GENERIC_ERROR = "Something went wrong on our side while answering. Please try again in a moment."

_MARKER = re.compile(r"\[(\d+)\]")
_SENTENCE_END = re.compile(r"(?<=\[\d\]) (?=\S)|(?<=\[\d\d\]) (?=\S)")  # after a sentence's closing marker


def kind_label(kind: str, title: str = "", label: str = "", tier: int = 2) -> str:
    """The badge text for a source kind (see `labels.kind_label`)."""
    return labels.kind_label(kind, tier, title, label)


def _slug(kind: str) -> str:
    return re.sub(r"[^a-z]+", "-", kind.lower()).strip("-") or "document"


def human_date(value: str) -> str:
    """ISO date as "7 June 2016"; "date unknown" when there is none."""
    return labels.date_label(value)


def _text(value: str) -> str:
    """Escaped text with line breaks kept, so a message never contains a blank line."""
    return escape(value).replace("\r", "").replace("\n", "<br>")


def source_id(exchange: int, n: int) -> str:
    """The element id of citation n of the exchange-th answer on the page (the target of its [n] markers)."""
    return f"cfsp-src-{exchange}-{n}"


def user_message(question: str) -> str:
    """A question exactly as typed, shown as text."""
    return f'<div class="cfsp-user">{_text(question)}</div>'


def searching() -> str:
    """The placeholder shown while the sources are searched."""
    return f'<div class="cfsp-searching" role="status"><span class="cfsp-spinner"></span>{SEARCHING}</div>'


def error_message(message: str) -> str:
    """A one-line error for people, never a traceback."""
    message = message.strip().splitlines()[0] if message.strip() else GENERIC_ERROR
    return f'<div class="cfsp-error" role="alert">{_text(message[:1].upper() + message[1:])}</div>'


def answer_text(text: str, citations: Sequence[Citation], exchange: int) -> str:
    """Answer sentences with each [n] marker turned into a link to its source below."""
    labels = {c.n: c.label for c in citations}

    def link(match: re.Match) -> str:
        n = int(match.group(1))
        if n not in labels:
            return match.group(0)
        return f'<a class="cfsp-cite" href="#{source_id(exchange, n)}" title="{escape(labels[n])}">[{n}]</a>'

    return _MARKER.sub(link, escape(text))


def _paragraphs(text: str, citations: Sequence[Citation], exchange: int) -> str:
    """One paragraph per quoted sentence (each ends with its marker), easier to read than one block."""
    parts = _SENTENCE_END.split(text)
    return "".join(f'<p class="cfsp-text">{answer_text(p, citations, exchange)}</p>' for p in parts if p.strip())


def partial_answer(text: str, citations: Sequence[Citation], exchange: int, writing: bool = False) -> str:
    """The answer while it is being written out (`writing`: a language model's sentences, each shown once it has
    been checked against its source)."""
    status = (
        '<p class="cfsp-how cfsp-how-checking" role="status"><span class="cfsp-spinner"></span>'
        "Writing in plain words; each sentence is shown once it has been checked against its source…</p>"
        if writing
        else ""
    )
    return f'<div class="cfsp-answer cfsp-streaming">{status}{_paragraphs(text, citations, exchange)}</div>'


def how_made(answer: Answer) -> str:
    """The badge saying how the answer was made: written by a language model and checked, or quoted; and from
    what (the official texts, or sources not all of which are official texts, such as a web page)."""
    sources = "the official texts" if answer.official_only else "the sources below, not all of them official texts"
    if answer.mode == "llm":
        return (
            f'<p class="cfsp-how cfsp-how-llm">Written by {escape(answer.model)} from {sources}; '
            "every sentence checked against its source</p>"
        )
    why = (
        f' title="{escape(answer.model)}\'s wording was not shown: {escape(answer.fallback_reason)}"'
        if answer.fallback_reason
        else ""
    )
    return f'<p class="cfsp-how cfsp-how-quoted"{why}>Quoted from {sources}</p>'


def _link(url: str, text: str) -> str:
    """A link to an official text, opened in a new tab without giving that tab a handle on this page."""
    if not url.startswith(("https://", "http://")):
        return ""  # a generated catalogue entry may carry a local path or nothing: no link rather than a broken one
    return f'<a class="cfsp-link" href="{escape(url)}" target="_blank" rel="noopener noreferrer">{escape(text)} ↗</a>'


def context_html(c: Citation) -> str:
    """The whole article (or section, or page) a quote comes from, the quoted sentences marked."""
    pieces, at = [], 0
    for start, end in sorted(c.highlights):
        if start < at or end > len(c.context):
            continue
        pieces += [_text(c.context[at:start]), f'<mark class="cfsp-mark">{_text(c.context[start:end])}</mark>']
        at = end
    pieces.append(_text(c.context[at:]))
    return "".join(pieces)


def _context_title(c: Citation) -> str:
    if c.tier >= labels.WEB_TIER:
        return "Read the whole page"
    return "Read the whole article" if c.article else "Read the whole section"


def source_card(c: Citation, exchange: int, document_url: str = "") -> str:
    """One cited passage: number, label, kind badge, date, the quote, the whole article around it (opened on
    request, the quote marked) and links to the official text."""
    links = [_link(c.url, "Official text")]
    if c.local_url:
        links.append(_link(c.local_url, f"Official text in {language_of_url(c.local_url)}"))
    if document_url and document_url != c.url:
        links.append(
            _link(
                document_url, "Whole document on EUR-Lex" if "eur-lex.europa.eu" in document_url else "Whole document"
            )
        )
    context = (
        (
            f'<details class="cfsp-context"><summary>{_context_title(c)}</summary>'
            f'<div class="cfsp-context-text">{context_html(c)}</div></details>'
        )
        if c.context
        else ""
    )
    return (
        f'<li class="cfsp-source" id="{source_id(exchange, c.n)}">'
        f'<div class="cfsp-source-head"><span class="cfsp-num">[{c.n}]</span>'
        f'<span class="cfsp-label">{escape(c.label)}</span>'
        f'<span class="cfsp-badge cfsp-kind-{_slug(c.kind)}">{escape(c.kind_label)}</span>'
        f'<span class="cfsp-date">{escape(c.date_label)}</span></div>'
        f'<blockquote class="cfsp-quote">{_text(c.quote)}</blockquote>'
        f"{context}"
        f'<div class="cfsp-source-foot"><span class="cfsp-title">{escape(c.title)}</span>'
        f'<span class="cfsp-links">{"".join(links)}</span></div>'
        f"</li>"
    )


def searched_for(answer: Answer) -> str:
    """A "Searched for: …" line when the search differs from what was typed (a follow-up's topic, a typo, a
    language model's rewording)."""
    if not answer.also_searched and (not answer.search_query or answer.search_query == answer.question):
        return ""
    also = f" and, as the model worded it, <q>{_text(answer.also_searched)}</q>" if answer.also_searched else ""
    return f'<p class="cfsp-searched">Searched for: <q>{_text(answer.search_query)}</q>{also}</p>'


def full_answer(answer: Answer, exchange: int, document_urls: Mapping[tuple[str, str], str] | None = None) -> str:
    """The finished answer with its sources section underneath."""
    urls = document_urls or {}
    cards = "".join(source_card(c, exchange, urls.get((c.source_id, c.kind), "")) for c in answer.citations)
    sources = (
        (
            f'<div class="cfsp-sources"><div class="cfsp-sources-title">Sources</div>'
            f'<ol class="cfsp-source-list">{cards}</ol></div>'
        )
        if cards
        else ""
    )
    return (
        f'<div class="cfsp-answer">{how_made(answer)}{searched_for(answer)}'
        f"{_paragraphs(answer.text, answer.citations, exchange)}{sources}</div>"
    )


def abstention(answer: Answer, suggestions: Sequence[str]) -> str:
    """The honest "not in the texts" message, what is covered, and a pointer to nearby questions."""
    hint = (
        '<p class="cfsp-try">Questions I can answer that are close to yours — click one to ask it:</p>'
        if suggestions
        else ""
    )
    return f'<div class="cfsp-abstain">{searched_for(answer)}<p>{_linked(answer.text)}</p>{hint}</div>'


def _linked(text: str) -> str:
    """Escaped text whose EUR-Lex addresses are links (a message pointing to the texts in another language)."""
    return re.sub(
        r"https://eur-lex\.europa\.eu/\S+?(?=[\s.,;)]*(?:\s|$))",
        lambda m: _link(html_unescape(m.group(0)), html_unescape(m.group(0))),
        _text(text),
    )
