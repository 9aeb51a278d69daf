"""The words the indexed texts use, counted at ingest: tells which words of a question the texts know, and suggests
the intended word for a typo ("Comission" -> "Commission") so a misspelt question is searched, not declined."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from ..words import variants, words

FILE = "vocabulary.json"
MIN_CORRECTABLE = 4  # shorter words are too often other words one edit away ("tax" -> "tac")
MIN_SEEN = 2  # a correction must be a word the texts use more than once
RARE_COUNT = 3  # a word used this often or less is particular to a passage or two


def english_words() -> Callable[[str], bool]:
    """Is a (lower-case) word an English word? From pyspellchecker's packaged English word list, loaded on call."""
    from spellchecker import SpellChecker

    known = SpellChecker(language="en", distance=1).word_frequency.dictionary
    return lambda word: word in known


def _number(word: str) -> str:
    """The other grammatical number of a word, by its plain "-s": "unions" -> "union", "balkan" -> "balkans"."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word + "s"


@dataclass(frozen=True)
class Vocabulary:
    """Lower-cased word -> how often the indexed texts use it."""

    counts: dict[str, int]

    @classmethod
    def build(cls, texts: Iterable[str]) -> Vocabulary:
        """Count the words of the texts."""
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(w.lower() for w in words(text))
        return cls(dict(counts))

    def save(self, folder: Path) -> None:
        """Write next to the other files of a generation."""
        (folder / FILE).write_text(json.dumps(self.counts, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Vocabulary:
        """Read a saved vocabulary."""
        data = json.loads((folder / FILE).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{FILE} is not a JSON object")
        return cls({str(k): int(v) for k, v in data.items()})

    def rare(self, word: str) -> bool:
        """Do the texts use this word only a few times (a person's name, not a country)?"""
        return 0 < max(self.counts.get(form, 0) for form in variants(word)) <= RARE_COUNT

    def knows(self, word: str, also: Collection[str] = ()) -> bool:
        """Do the texts use this word, in any of its spellings (possessive, singular or plural, hyphenated, slashed)?
        `also`: other words to count as known (the glossary's names: "EDF" in "EDF-funded")."""
        forms = variants(word)
        known = lambda w: w in self.counts or w in also or _number(w) in self.counts  # noqa: E731
        if any(known(f) for f in forms[:2]):
            return True
        parts = forms[2:]
        return bool(parts) and all(known(p) for p in parts if len(p) > 1)

    def correction(self, word: str, english: Callable[[str], bool] = lambda w: False) -> str | None:
        """The word the texts use that is one edit away (two for long words) from a word that is neither in the
        texts nor an English word (`english`), or None: "Comission" -> "commission", but "stops" stays."""
        base = variants(word)[1] if len(variants(word)) > 1 else word.lower()
        if len(base) < MIN_CORRECTABLE or not base.isalpha() or self.knows(word) or english(base):
            return None
        limit = 1 if len(base) < 8 else 2
        near = process.extract(
            base, self.counts.keys(), scorer=DamerauLevenshtein.distance, score_cutoff=limit, limit=12
        )
        found = [(str(w), int(d)) for w, d, _ in near if self.counts[w] >= MIN_SEEN and str(w).isalpha()]
        if not found:
            return None
        best, _ = min(found, key=lambda wd: (wd[1], -self.counts[wd[0]]))
        return best
