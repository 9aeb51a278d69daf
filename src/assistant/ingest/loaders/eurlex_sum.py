"""EUR-Lex-Sum JSON records: the act as adopted and its official plain-language summary, two documents of one act."""

from __future__ import annotations

import json
import re

from ...errors import DocumentError
from ...types import Block, DocEntry, SourceDoc
from .common import clean, join_markers, make_doc, numbered

_ARTICLE = re.compile(r"^Article (\d+[a-z]?)$")
_HEADING = re.compile(r"^(PART|TITLE|CHAPTER|SECTION) ([IVXLC]+|\d+)$")
_ANNEX = re.compile(r"^ANNEX(ES)?( [IVX]+)?\b")
_PREAMBLE_START = re.compile(r"^(THE COUNCIL|THE EUROPEAN PARLIAMENT|THE HIGH CONTRACTING|Having regard|Whereas)")
_SUMMARY_SKIP = re.compile(r"^(MAIN DOCUMENTS?|RELATED DOCUMENTS?)$")
_LAST_UPDATE = re.compile(r"^(last update|See consolidated version)", re.I)


def _unglue(text: str) -> str:
    """Restore line breaks in records whose act text lost them ("...:Article 11. This ..." is Art. 1(1))."""
    for marker in (
        "THE COUNCIL OF THE EUROPEAN UNION",
        "Having regard",
        "Whereas:",
        "HAS ADOPTED",
        "Done at ",
        "ANNEX",
    ):
        text = text.replace(marker, f"\n{marker}")
    out, pos, n = [], 0, 1
    while True:
        # a heading is glued to what follows it: a capital letter, a quote, or paragraph "1."
        m = re.compile(rf"Article ?{n}(?=[A-Z\u2018\"]|1\.\s?[A-Z])").search(text, pos)
        if not m:
            break
        out.append(text[pos : m.start()])
        out.append(f"\nArticle {n}\n")
        pos, n = m.end(), n + 1
    out.append(text[pos:])
    text = "".join(out)
    text = re.sub(r"(?<=[.;:,a-z])(\(\d{1,2}\)) ?(?=[A-Z])", r"\n\1 ", text)  # recitals "(2) On 28 ..."
    return re.sub(r"(?<=[.;:])(\d{1,2}\.) ?(?=[A-Z])", r"\n\1 ", text)  # numbered paragraphs


def _act_blocks(text: str, entry: DocEntry) -> list[Block]:
    if text.count("\n") < 20:
        text = _unglue(text)
    lines = join_markers([clean(ln) for ln in text.splitlines() if clean(ln)])
    start = next((i for i, ln in enumerate(lines) if _PREAMBLE_START.match(ln)), 0)
    blocks: list[Block] = []
    headings: list[str] = []
    article, part = "", "preamble"
    sub: list[str] = []
    body: list[str] = []
    pending_heading = ""

    def flush() -> None:
        if body and (part != "annex" or entry.annexes):
            blocks.append(Block(article, tuple(headings + sub), numbered(body), part))
        body.clear()

    for i, ln in enumerate(lines[start:], start):
        if part != "annex" and (m := _ARTICLE.match(ln)):
            flush()
            article, part, sub = m.group(1), "article", []
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if (
                nxt
                and len(nxt) < 100
                and not nxt.endswith((".", ":", ";", ","))
                and not nxt[0].isdigit()
                and not _ARTICLE.match(nxt)
            ):
                pending_heading = nxt
            continue
        if pending_heading:
            sub, pending_heading = [ln], ""
            continue
        if part != "annex" and _HEADING.match(ln):
            flush()
            level = ln.split()[0]
            headings[:] = [
                h
                for h in headings
                if not h.startswith(
                    ("PART", "TITLE", "CHAPTER", "SECTION")[("PART", "TITLE", "CHAPTER", "SECTION").index(level) :]
                )
            ]
            headings.append(ln)
            pending_heading = ""
            continue
        if (
            headings
            and _HEADING.match(headings[-1])
            and not body
            and part != "preamble"
            and len(ln) < 150
            and not ln.endswith(".")
        ):
            headings[-1] = f"{headings[-1]}: {ln}"
            continue
        if _ANNEX.match(ln) and part != "preamble" or (part == "closing" and ln.startswith("ANNEX")):
            flush()
            article, part, sub, headings = "", "annex", [ln[:120]], []
            continue
        if ln.startswith("Done at ") and part in ("article", "preamble"):
            flush()
            part = "closing"
            continue
        if part != "closing":
            body.append(ln)
    flush()
    return blocks


def _summary_blocks(text: str, title: str) -> list[Block]:
    lines = [clean(ln) for ln in text.splitlines() if clean(ln)]
    while lines and lines[0] == title:  # the title is printed twice at the top
        lines.pop(0)
    blocks: list[Block] = []
    heading, skip = "", False
    body: list[str] = []

    def flush() -> None:
        if body:
            blocks.append(Block("", (heading,) if heading else (), numbered(body), "section"))
        body.clear()

    for ln in lines:
        letters = re.sub(r"[^A-Za-z]", "", ln)
        if len(letters) >= 4 and letters.isupper() and len(ln) < 140:
            flush()
            heading, skip = ln.rstrip(":"), bool(_SUMMARY_SKIP.match(ln))
        elif skip:
            continue
        elif ln.startswith("For further information"):
            skip = True  # what follows is a list of links to other pages
        elif not _LAST_UPDATE.match(ln):
            body.append(ln)
    flush()
    return blocks


def load(raw: bytes, entries: list[DocEntry]) -> list[SourceDoc]:
    """The act text (unless the catalogue takes it from elsewhere) and the EUR-Lex summary of one record."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DocumentError(f"invalid JSON: {exc}") from None
    except RecursionError:  # thousands of nested arrays or objects: no EUR-Lex-Sum record looks like that
        raise DocumentError("invalid JSON: nested too deeply to be a EUR-Lex-Sum record") from None
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("reference", ""), str)
        or not isinstance(record.get("summary", ""), str)
    ):
        raise DocumentError("not a EUR-Lex-Sum record (needs string fields 'reference' and 'summary')")
    entry = entries[0]
    docs = []
    if entry.act_text and record.get("reference", "").strip():
        docs.append(make_doc(entry, _act_blocks(record["reference"], entry)))
    if entry.summary and record.get("summary", "").strip():
        first = clean(record["summary"].splitlines()[0])
        docs.append(
            make_doc(
                entry,
                _summary_blocks(record["summary"], first),
                kind="official summary",
                tier=3,
                url=entry.summary_url or entry.url,
                citation=f"EUR-Lex summary of {entry.citation}",
            )
        )
    if not docs:
        raise DocumentError("record has neither act text nor summary")
    return docs
