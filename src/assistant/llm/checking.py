"""Checking a sentence a language model wrote against the official wording it cites, before anyone sees it.

A sentence is kept only if all of these hold:
- every [n] marker refers to a passage that was given, and it has at least one;
- its evidence (the words it says it rests on) occurs verbatim in a cited passage (whitespace, quotes and case
  aside), and is long enough to say something;
- every other passage it cites says it too (each of its content words is there);
- every article or act it names is among the passages given;
- it is aligned with the whole source sentence its evidence comes from (`alignment`): every content word grounded,
  numbers bound to what they count, negations, modality, exceptions, conditions and quantifiers in their place,
  references whole, bodies in their roles.
For an answer in another language the model also gives each sentence in English: that English sentence is held to
the rules above, and the sentence shown must carry the same numbers, negation, modality and bodies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .alignment import Aligner, source_of

MIN_EVIDENCE_CHARS = 20  # "the Council" is not evidence of anything
RULES = (
    "empty",
    "marker",
    "evidence",
    "reference",
    "number",
    "negation",
    "support",
    "operator",
    "actor",
    "translation",
)

_MARKER = re.compile(r"\s*\[(\d+)\]")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})
_REFERENCE = re.compile(
    r"\b(?:article|art\.?)s?\s*(\d{1,3})|\b(?:decision|regulation|joint action|common position)\s*"
    r"(?:\((?:cfsp|eu|ec)\)\s*)?(?:no\s*)?(\d{1,4}/\d{1,4})|\bprotocol\s*(?:no\.?\s*)?(\d{1,2})",
    re.I,
)


@dataclass(frozen=True)
class Draft:
    """One sentence as the model wrote it: its text, the passages it cites and the words it rests on."""

    text: str
    markers: tuple[int, ...]
    evidence: str
    english: str = ""  # the same sentence in English, when the answer is in another language


@dataclass(frozen=True)
class Verdict:
    """What the checks made of a draft: kept (with the passage and span it rests on) or the rule it broke."""

    draft: Draft
    kept: bool
    rule: str = ""
    passage: int = 0
    span: tuple[int, int] = (0, 0)  # where the evidence is in that passage's text

    @property
    def shown(self) -> str:
        """The sentence as shown: its words and its markers."""
        text = _MARKER.sub("", self.draft.text).strip()
        return f"{text} {' '.join(f'[{n}]' for n in self.draft.markers)}"


def normalise(text: str) -> str:
    """Text compared for verbatim evidence: quotes unified, whitespace collapsed, lower case."""
    return " ".join(text.translate(_QUOTES).split()).lower()


def _references(text: str) -> set[str]:
    return {"|".join(g for g in m.groups() if g) for m in _REFERENCE.finditer(text)}


class Checker:
    """Holds drafted sentences to the rules against the numbered passages the model was given."""

    def __init__(self, aligner: Aligner | None = None):
        self.aligner = aligner or Aligner()

    def check(self, drafts: Sequence[Draft], passages: Sequence[str], labels: Sequence[str]) -> list[Verdict]:
        """A verdict for each draft; `passages[i]` and `labels[i]` are passage number i + 1."""
        return [self._rules(d, passages, labels) for d in drafts]

    @staticmethod
    def _english(draft: Draft) -> str:
        return _MARKER.sub("", draft.english or draft.text).strip()

    def _rules(self, draft: Draft, passages: Sequence[str], labels: Sequence[str]) -> Verdict:
        """Every rule but meaning; a kept verdict here still has to pass `support`."""
        text = _MARKER.sub("", draft.text).strip()
        english = self._english(draft)
        if not text or not english:
            return Verdict(draft, False, "empty")
        in_text = {int(n) for n in _MARKER.findall(draft.text)}
        markers = set(draft.markers) | in_text
        if not markers or any(not 1 <= n <= len(passages) for n in markers):
            return Verdict(draft, False, "marker")
        evidence = normalise(draft.evidence)
        if len(evidence) < MIN_EVIDENCE_CHARS:
            return Verdict(draft, False, "evidence")
        found = None
        for n in sorted(markers):
            at = normalise(passages[n - 1]).find(evidence)
            if at >= 0:
                found = (n, at)
                break
        if found is None:
            return Verdict(draft, False, "evidence")
        given = _references(" ".join(labels) + " " + " ".join(passages))
        if not (_references(text) | _references(english)) <= given:
            return Verdict(draft, False, "reference")
        n, _ = found
        # every other passage it cites must say what it says too: a marker is a claim about where it is written
        if any(m != n and not self.aligner.grounds(english, passages[m - 1]) for m in markers):
            return Verdict(draft, False, "marker")
        # aligned with the whole sentence of the passage its evidence comes from, so a qualifier there is seen; a
        # phrase the passage says twice ("the tasks referred to in Article 42(1)") may come from either sentence
        rules = []
        for span in _spans(passages[n - 1], draft.evidence) or [(0, 0)]:
            source = source_of(passages[n - 1], *span) if span != (0, 0) else draft.evidence
            rules.append(self.aligner.check(english, source, [*labels, *passages]))
            if not rules[-1]:
                break
        rule = rules[-1] and rules[0]  # "" when one sentence holding the evidence aligns; else the first's rule
        if not rule and draft.english:  # the sentence shown says what its checked English sentence says
            rule = self.aligner.translated(text, english)
        if rule:
            return Verdict(draft, False, rule)
        return Verdict(Draft(text, tuple(sorted(markers)), draft.evidence, draft.english), True, "", n, span)


def _spans(passage: str, evidence: str) -> list[tuple[int, int]]:
    """Where the evidence is in the passage's own text, each place it occurs (the normalised match mapped back to
    characters)."""
    words = [re.escape(w) for w in evidence.translate(_QUOTES).split()]
    pattern = re.compile(r"\s+".join(words), re.I)
    return [(m.start(), m.end()) for m in pattern.finditer(passage.translate(_QUOTES))]
