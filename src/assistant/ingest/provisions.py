"""Provisions: the units an answer quotes. A chunk's lines become provisions: a paragraph or subparagraph of text,
a list with its lead-in ("...shall include: (a) ...; (b) ..."), or a heading (never quoted on its own).

Each provision keeps the indexes of its quotable sentences (into `Chunk.sentences`) in reading order, so an answer
can quote a provision whole, or trim it to its relevant sentences without losing the lead-in of a list.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ..types import Chunk

MIN_SENTENCE_CHARS = 12  # "1." and "(a)" alone are numbering, not text
# a list item: "(a) ...", "(iii) ...", "1) ...", "— ...", "• ..."
_ITEM = re.compile(r"^\s*(\(?[a-z]{1,4}\)|\(?\d{1,2}\)|[—–\-•·▪*]\s)")
_TERMINAL = (".", ";", ":", "?", "!", ",")
_OPEN_ENDINGS = (";", ",", ":", " and", " or", "; and", "; or", ", and", ", or")
# words that open recitals and preambles: background, not rules
_RECITAL = re.compile(
    r"^\s*(\(\d+\)\s*)?(whereas|having regard|recalling|bearing in mind|considering|convinced|"
    r"determined|resolved|desiring|confirming|noting|recognising|recognizing|welcoming|stressing|"
    r"emphasising|affirming|reaffirming|aware|mindful|in view of|acknowledging|underlining)\b|"
    # the formulas that open and close a preamble are in capitals ("THE COUNCIL OF THE EUROPEAN
    # UNION,", "HAVE AGREED", "HIS MAJESTY THE KING OF ...")
    r"^\s*(?-i:THE COUNCIL OF THE EUROPEAN UNION|HAS ADOPTED|HAVE AGREED|HAVE DECIDED|HIS MAJESTY|"
    r"HER MAJESTY|THE PRESIDENT OF)\b",
    re.I,
)


@dataclass(frozen=True)
class Provision:
    """A coherent unit of a chunk: its kind, paragraph number and quotable sentences (indexes, in order)."""

    chunk: Chunk
    kind: str  # text | list | paragraph (a numbered paragraph's subparagraphs and lists together) | heading
    paragraph: str
    sentences: tuple[int, ...]
    requires: tuple[tuple[int, int], ...] = ()  # (list item, the lead-in it cannot be quoted without)
    orphan: bool = False  # list items whose lead-in is in another passage
    operative: bool = True  # False for recitals, preambles, annex titles and headings

    def sentence_text(self, i: int) -> str:
        """The words of one of the chunk's sentences."""
        s = self.chunk.sentences[i]
        return self.chunk.text[s.start : s.end].strip()

    @property
    def text(self) -> str:
        """The whole provision as quoted."""
        return " ".join(self.sentence_text(i) for i in self.sentences)

    @property
    def id(self) -> str:
        """A stable name for the provision across re-ingests: where it is (source, article, paragraph) and a hash of
        its wording, so training questions stay tied to it while the text is unchanged."""
        digest = hashlib.sha256(" ".join(self.text.split()).encode("utf-8")).hexdigest()[:10]
        return f"{self.chunk.source_id}:{self.chunk.article or '-'}:{self.paragraph or '-'}:{digest}"

    @property
    def lead_ins(self) -> frozenset[int]:
        """The sentences that introduce lists."""
        return frozenset(lead for _, lead in self.requires)


def _lines(chunk: Chunk) -> list[tuple[str, list[int]]]:
    """Each line of the chunk's text with the indexes of the quotable sentences that lie in it."""
    lines: list[tuple[str, list[int]]] = []
    offset = 0
    starts = []
    for line in chunk.text.split("\n"):
        starts.append((offset, offset + len(line), line))
        lines.append((line, []))
        offset += len(line) + 1
    for i, s in enumerate(chunk.sentences):
        text = chunk.text[s.start : s.end].strip()
        if len(text) < MIN_SENTENCE_CHARS or not re.search(r"[^\W\d_]{2}", text):
            continue
        for n, (start, end, _) in enumerate(starts):
            if start <= s.start < end + 1:
                lines[n][1].append(i)
                break
    return lines


READING_WORDS = 25  # a link to further reading is a title, not a paragraph
# sections of an official summary that list documents rather than say anything
_DOCUMENT_SECTIONS = ("SUMMARY OF", "RELATED ACTS", "REFERENCES", "ACTS", "MAIN DOCUMENT", "RELATED DOCUMENTS")
# a link to further reading: "EU sanctions map: DRC (Council of the European Union).", "... — Press release (...)."
_FURTHER_READING = re.compile(
    r"(press release|for more information|see also|\((council of the european union|"
    r"european commission|european council|european external action service|eeas|"
    r"european parliament)[^)]*\)\.?)\s*$",
    re.I,
)


# the lead-in of a list of links: "See also:", "For more information, see:", "Further reading:"
_READING_LIST = re.compile(r"^\s*(see also|(for )?(more|further) information,? see|further reading)\s*:\s*$", re.I)


def _heading(line: str) -> bool:
    """A title, heading or link to further reading: not ending like a sentence or a list entry, or a short titled
    reference to a publisher's page ("EU sanctions map: DRC (Council of the European Union).")."""
    stripped = line.strip()
    if not stripped:
        return False
    if not stripped.endswith(_TERMINAL):
        return True
    titled = ":" in stripped or "—" in stripped or "press release" in stripped.lower()
    return titled and len(stripped.split()) <= READING_WORDS and bool(_FURTHER_READING.search(stripped))


def _reading_entry(line: str) -> bool:
    """A title in a list of links: short, not the next section's heading (in capitals), and not ending like a
    sentence unless it ends with its publisher in brackets ("… (European External Action Service).")."""
    stripped = line.strip()
    return (
        bool(stripped)
        and not stripped.isupper()
        and len(stripped.split()) <= READING_WORDS
        and (not stripped.endswith(_TERMINAL) or stripped.rstrip(".").endswith(")"))
    )


def _continues_list(line: str, previous: str) -> bool:
    """Does a line go on with the list that the previous line is part of?"""
    stripped = line.strip()
    if not stripped:
        return False
    if _ITEM.match(stripped) or stripped[:1].islower():
        return True
    return previous.rstrip().endswith(_OPEN_ENDINGS)


def split(chunk: Chunk) -> list[Provision]:
    """The provisions of a chunk in reading order: the subparagraphs and lists of one numbered paragraph together,
    otherwise each subparagraph or list (with its lead-in) on its own."""
    lines = _lines(chunk)
    paragraph = {i: s.paragraph for i, s in enumerate(chunk.sentences)}
    background = chunk.label.startswith(("Recitals", "Preamble", "Annex"))
    if chunk.headings.rsplit(" — ", 1)[-1].strip(" *").upper() in _DOCUMENT_SECTIONS:
        return [Provision(chunk, "heading", "", tuple(ids), operative=False) for _, ids in lines if ids]
    units: list[Provision] = []
    i = 0
    while i < len(lines):
        line, ids = lines[i]
        if _READING_LIST.match(line):  # "See also:" and the titles it lists: links, not text to quote
            group, j = list(ids), i + 1
            while j < len(lines) and _reading_entry(lines[j][0]):
                group += lines[j][1]
                j += 1
            if group:
                units.append(Provision(chunk, "heading", paragraph[group[0]], tuple(group), operative=False))
            i = j
            continue
        if not ids:
            i += 1
            continue
        if _heading(line) and not _ITEM.match(line):
            units.append(Provision(chunk, "heading", paragraph[ids[0]], tuple(ids), operative=False))
            i += 1
            continue
        group, requires = list(ids), []
        j = i + 1
        starts_list = line.rstrip().endswith(":") or (_ITEM.match(line) and i == 0)
        if starts_list:
            lead = ids[-1] if line.rstrip().endswith(":") else None
            while j < len(lines) and _continues_list(lines[j][0], lines[j - 1][0]):
                group += lines[j][1]
                requires += [(item, lead) for item in lines[j][1] if lead is not None]
                j += 1
        is_list = bool(j > i + 1 or (starts_list and not line.rstrip().endswith(":")))
        operative = not background and not _RECITAL.match(chunk.text[chunk.sentences[group[0]].start :])
        units.append(
            Provision(
                chunk,
                "list" if is_list else "text",
                paragraph[group[0]],
                tuple(group),
                tuple(requires),
                orphan=is_list and not line.rstrip().endswith(":"),
                operative=operative,
            )
        )
        i = j
    return _by_paragraph(units)


def _by_paragraph(units: list[Provision]) -> list[Provision]:
    """Neighbouring units of the same numbered paragraph merged into one provision."""
    out: list[Provision] = []
    for unit in units:
        last = out[-1] if out else None
        if (
            last is not None
            and unit.kind != "heading"
            and last.kind != "heading"
            and unit.paragraph
            and unit.paragraph == last.paragraph
            and unit.operative == last.operative
        ):
            out[-1] = Provision(
                unit.chunk,
                "paragraph",
                unit.paragraph,
                last.sentences + unit.sentences,
                last.requires + unit.requires,
                last.orphan,
                last.operative,
            )
        else:
            out.append(unit)
    return out
