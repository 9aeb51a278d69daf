"""Step 4 of the answer stage, compose: what the answer quotes, from the ranked candidates: the provision that answers
the question first, then at most two that complete it, each quoted as a coherent unit (trimmed to its relevant
sentences, a list never cut from its lead-in, what qualifies a rule never left out, omissions marked with "…").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ..question.query import Intent, Query
from ..types import Via
from .features import SHORT_WORDS
from .rank import Ranker
from .records import MAX_PARTS, Candidate, Part

OPEN_ASKS = (
    Intent.DEFINITION,
    Intent.GENERAL,
    Intent.PURPOSE,
)  # questions that ask what something is or does, not a specific fact
EXTRA_MIN_SHARE = 0.75  # a further provision must score this share of the first one
EXTRA_ALONE_SHARE = 0.95  # ... and add a term the answer lacks, unless it scores this share
DUPLICATE_SIMILARITY = 0.9  # a provision this close in meaning to one already quoted repeats it
LEAD_WORDS = 75  # the first provision is trimmed to about this many words
EXTRA_WORDS = 45  # each further one to about this many
ANSWER_WORDS = 120
OMISSION = "…"


class Composer:
    """Picks the provisions the answer quotes from the ranked candidates, and trims each."""

    def __init__(
        self,
        ranker: Ranker,
        idf: Callable[[str], float],
        position_of: dict[str, int],
        qualifiers: tuple[str, ...] = (),
    ):
        self.ranker = ranker  # says how close a candidate's score comes to the lead's
        self.idf = idf
        self.position_of = position_of
        # words that qualify a rule, as whole words or phrases ("not" but not "notably")
        self.qualifies = (
            re.compile(r"\b(" + "|".join(re.escape(q) for q in qualifiers) + r")\b", re.I) if qualifiers else None
        )

    def compose(self, query: Query, candidates: Sequence[Candidate]) -> list[Part]:
        """The provisions the answer quotes, the best first: at most three, within the length budget."""
        if not candidates:
            return []
        named = self._named_paragraph(query, candidates)
        if named:
            return named
        lead = candidates[0]
        parts = [Part(lead, *self.trim(lead, LEAD_WORDS))]
        if len(lead.text.split()) < SHORT_WORDS:  # a fragment ("The mechanism shall be called Athena.") says little
            # alone: the provision of its own article it follows on from comes with it; in reading order when the
            # question asks what something is, after it when the fragment holds a specific thing asked for
            context, before = self._unit_context(lead, candidates)
            if context is not None:
                part = Part(context, *self.trim(context, EXTRA_WORDS))
                first = before and query.asks_for in OPEN_ASKS
                parts = [part, *parts] if first else [*parts, part]
        covered = set().union(*(p.candidate.terms for p in parts))
        asked = set(query.terms.expanded)
        for cand in candidates[1:]:
            if len(parts) >= MAX_PARTS:
                break
            if self.ranker.share(cand.score, lead.score) < EXTRA_MIN_SHARE:
                break
            new_terms = {t for t in cand.terms - covered if self.idf(t) > 0}
            relevant_new = new_terms & asked
            if not relevant_new and self.ranker.share(cand.score, lead.score) < EXTRA_ALONE_SHARE:
                continue
            if any(self._repeats(cand, p.candidate) for p in parts):
                continue
            quote, kept = self.trim(cand, EXTRA_WORDS)
            if sum(p.words for p in parts) + len(quote.split()) > ANSWER_WORDS:
                continue
            parts.append(Part(cand, quote, kept))
            covered |= cand.terms
        return parts

    def _unit_context(self, lead: Candidate, candidates: Sequence[Candidate]) -> tuple[Candidate | None, bool]:
        """The provision of the lead's article or section that comes just before it (what a fragment such as "The
        mechanism shall be called Athena." refers back to), else the one just after, among those that say
        something on their own; and whether it comes before."""
        chunk = lead.hit.chunk
        unit = [
            c
            for c in candidates
            if (c.hit.chunk.source_id, c.hit.chunk.article, c.hit.chunk.headings)
            == (chunk.source_id, chunk.article, chunk.headings)
            and (c is lead or len(c.text.split()) >= SHORT_WORDS)
        ]
        unit.sort(key=lambda c: (self.position_of[c.hit.chunk.id], c.provision.sentences[:1]))
        at = next(i for i, c in enumerate(unit) if c is lead)
        if at > 0:
            return unit[at - 1], True
        return (unit[at + 1] if at + 1 < len(unit) else None), False

    def _named_paragraph(self, query: Query, candidates: Sequence[Candidate]) -> list[Part]:
        """For "What does Article 42(7) TEU say?": that paragraph's provisions in reading order."""
        wanted = {(r.source_id, r.article, r.paragraph) for r in query.references if r.paragraph}
        if not wanted:
            return []
        chosen = [
            c
            for c in candidates
            if c.hit.via is Via.REFERENCE
            and (c.hit.chunk.source_id, c.hit.chunk.article, c.provision.paragraph) in wanted
        ]
        chosen.sort(key=lambda c: (c.rank, c.provision.sentences))
        parts: list[Part] = []
        for cand in chosen:  # quoted from its beginning, in order: the reader asked for this paragraph
            quote, kept = self.trim(cand, LEAD_WORDS if not parts else EXTRA_WORDS, from_start=True)
            if parts and sum(p.words for p in parts) + len(quote.split()) > ANSWER_WORDS:
                break
            parts.append(Part(cand, quote, kept))
        return parts

    @staticmethod
    def _repeats(a: Candidate, b: Candidate) -> bool:
        if a.provision == b.provision:
            return True
        if a.vector is None or b.vector is None:
            return False
        return float(a.vector @ b.vector) > DUPLICATE_SIMILARITY

    def trim(self, cand: Candidate, budget: int, from_start: bool = False) -> tuple[str, tuple[int, ...]]:
        """The provision's wording within about `budget` words: whole if it fits, else its most relevant sentences
        in reading order (a list item keeps its lead-in, a lead-in its best items, or all its items when they fit
        in the budget again), "…" where sentences are left out. A sentence of the provision that qualifies its
        rule (`qualifiers`: "except", "unless", "shall not apply" ...) is never left out."""
        p = cand.provision
        length = {i: len(p.sentence_text(i).split()) for i in p.sentences}
        if sum(length.values()) <= budget:
            return p.text, p.sentences
        score = dict(zip(p.sentences, cand.sentence_scores, strict=False))
        if from_start:  # earlier sentences first
            score = {i: -k for k, i in enumerate(p.sentences)}
        lead_of = dict(p.requires)
        keep: set[int] = set()
        used = 0
        for i in sorted(p.sentences, key=lambda i: -score.get(i, 0.0)):
            wanted = {i} | ({lead_of[i]} if i in lead_of else set())
            if i in p.lead_ins:  # a lead-in comes with its best item
                items = [item for item, lead in p.requires if lead == i]
                if items:
                    wanted.add(max(items, key=lambda item: score.get(item, 0.0)))
            extra = sum(length[j] for j in wanted - keep)
            if keep and used + extra > budget:
                continue
            keep |= wanted
            used += extra
        for lead in p.lead_ins & keep:  # a list quoted whole when it fits in the budget again
            items = [item for item, of in p.requires if of == lead and item not in keep]
            if used + sum(length[i] for i in items) <= 2 * budget:
                keep |= set(items)
                used += sum(length[i] for i in items)
        if self.qualifies is not None:  # what qualifies the quoted rule stays, whatever the budget
            keep |= {i for i in p.sentences if self.qualifies.search(p.sentence_text(i))}
            keep |= {lead_of[i] for i in keep if i in lead_of}
        pieces: list[str] = []
        skipped = False
        for i in p.sentences:
            if i in keep:
                if skipped:  # a quote that starts after its provision's first sentence says so too
                    pieces.append(OMISSION)
                pieces.append(p.sentence_text(i))
                skipped = False
            else:
                skipped = True
        if skipped:
            pieces.append(OMISSION)
        return " ".join(pieces), tuple(i for i in p.sentences if i in keep)
