"""Alignment of a sentence a language model wrote with the official wording it rests on: what the sentence claims
must be what the source says, not merely close to it.

The source is the whole sentence (or sentences) of the cited passage that the model's evidence comes from, so an
exception later in that sentence is seen. Both texts are read the same way: the names of `corpus/alignment.toml`
written as one token each ("EU countries" and "Member States" are one thing), words compared by stem, and a small
reviewed table of plain words for legal ones. Then, in order (the first broken rule is the verdict):
- reference: a treaty article, protocol or act is matched whole (treaty and number), against the passages given;
- number: every number stays bound to the word it counts in the source ("30 days", not "30 years");
- support: every content word of the sentence occurs in the source, or is a listed equivalent of one that does;
- negation / operator: negations, modality, exceptions, conditions, restrictions and quantifiers are matched with
  the word they attach to. One the sentence adds or moves fails; so does one of the source that the sentence drops
  while keeping what it qualifies. An obligation may be stated plainly ("the Council adopts" for "shall adopt"):
  legal drafting writes obligations in the present tense, so that is the one operator that may be left unsaid;
- actor: a body named as acting (the Council adopts, adopted by the Commission) acts on that thing in the source.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import Stemmer

from ..config import PROJECT_ROOT

TABLE = PROJECT_ROOT / "corpus" / "alignment.toml"
ACTORS = frozenset(
    {
        "european_council",
        "council",
        "commission",
        "parliament",
        "high_representative",
        "court",
        "member_states",
        "union",
    }
)
# the classes an answer must keep when the source has them and the sentence keeps what they qualify
KEPT = ("negation", "permission", "advice", "exception", "restriction", "condition", "universal", "partial")
PREPOSITIONS = frozenset({"of", "to", "from", "with", "for", "on", "in", "by", "between", "within", "among", "against"})
ATTACH_WINDOW = 5  # an operator attaches to the first content word at most this many tokens after it
NUMBER_WORDS = {  # number words, as the checks read them (fractions too)
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "twenty": "20",
    "thirty": "30",
    "half": "1/2",
    "third": "1/3",
    "thirds": "2/3",
    "quarter": "1/4",
}
# the words read as counts ("one" is as often "one of", and fractions count no thing of their own)
_COUNTS = {w: n for w, n in NUMBER_WORDS.items() if w != "one" and n.isdigit()}
_CONTRACTIONS = ((re.compile(r"\bcannot\b|\bcan't\b", re.I), "can not"), (re.compile(r"n't\b", re.I), " not"))
_FIGURE = re.compile(r"(?<![\w.])\d+(?:[.,\s]\d{3})*(?:[.,]\d+)?(?!\w)")
_TOKEN = re.compile(r"[a-z][a-z_]*(?:'s)?|\d+(?:[.,]\d+)*|[,;:—]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“‘'])|\n+")
# a sentence opening with one of these words speaks of something the one before names: both are its source
_CONTINUES = re.compile(r"(?:He|She|It|They|This|These|Those|Such|Its|Their)\b")
# treaty articles with the treaty they belong to, protocols, and acts by number
_TREATY = r"(TEU|TFEU|Treaty on European Union|Treaty on the Functioning of the European Union)"
_ARTICLE = re.compile(rf"\b(?:Article|Art\.?)s?\s*(\d{{1,3}})(?:\s*\(\d+\))*(?:\s*(?:of\s+the\s+)?{_TREATY})?", re.I)
_PROTOCOL = re.compile(r"\bProtocol\s*(?:No\.?\s*)?(\d{1,2})", re.I)
_ACT = re.compile(
    r"\b(Decision|Regulation|Joint Action|Common Position)\s*(?:\((?:CFSP|EU|EC)\)\s*)?(?:No\.?\s*)?(\d{1,4}/\d{1,4})",
    re.I,
)
_TREATY_NAMES = {"treaty on european union": "teu", "treaty on the functioning of the european union": "tfeu"}


@dataclass(frozen=True)
class Table:
    """The reviewed table (`corpus/alignment.toml`), compiled."""

    phrases: tuple[tuple[re.Pattern, str], ...]  # longest first: (pattern, the one token it is written as)
    words: dict[str, str]  # stem of a word -> the stem it stands for
    operators: dict[str, str]  # operator token -> class
    function: frozenset[str]
    translation: tuple[tuple[str, re.Pattern], ...]  # (kind, its words in any supported language), bodies first


@cache
def load_table(path: Path = TABLE) -> Table:
    """The table from its file (read once per path)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    stem = Stemmer.Stemmer("english").stemWord
    pairs: list[tuple[str, str]] = []
    for token, names in data["names"].items():
        pairs += [(name, token) for name in names]
    operators: dict[str, str] = {}
    for cls, words in data["operators"].items():
        for word in words:
            token = word.replace(" ", "_")
            operators[token] = cls
            if " " in word:
                pairs.append((word, token))
    pairs.sort(key=lambda p: -len(p[0]))
    phrases = tuple(
        (re.compile(r"(?<![\w/])" + r"\s+".join(map(re.escape, name.split())) + r"(?![\w/])", re.I), token)
        for name, token in pairs
    )
    words = {}
    for plain, legal in data["words"].items():
        for word in legal:
            for part in word.split():
                words[stem(part.lower())] = stem(plain)
    kinds = [(name, names) for name, names in data["translation"].pop("actors").items()]
    kinds += list(data["translation"].items())
    translation = tuple(
        (
            kind,
            re.compile(
                r"(?<!\w)(?:" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")(?![\w-])", re.I
            ),
        )
        for kind, words in kinds
    )
    return Table(phrases, words, operators, frozenset(data["function"]["words"]), translation)


@dataclass(frozen=True)
class Reading:
    """A text as the rules read it: its tokens in order, with each one's kind and stem."""

    tokens: tuple[str, ...]
    kinds: tuple[str, ...]  # content | function | number | operator class | actor
    stems: tuple[str, ...]

    def content(self) -> set[str]:
        """The stems of its content words (actors included)."""
        return {s for s, k in zip(self.stems, self.kinds, strict=True) if k in ("content", "actor")}

    def _next_content(self, i: int, window: int = ATTACH_WINDOW) -> str:
        for j in range(i + 1, min(len(self.tokens), i + 1 + window)):
            if self.kinds[j] in ("content", "actor"):
                return self.stems[j]
        return ""

    def _previous_content(self, i: int, window: int = 3) -> str:
        for j in range(i - 1, max(-1, i - 1 - window), -1):
            if self.kinds[j] in ("content", "actor"):
                return self.stems[j]
        return ""

    def operators(self) -> list[tuple[str, str, frozenset[str], frozenset[str]]]:
        """(class, the content word it attaches to, the words it qualifies, the phrase it heads) for each operator.
        It qualifies the few content words before it and, opening a sentence or clause ("If ..., the Council ..."),
        the first words of the clause after it; the phrase it heads is its next three content words ("each member
        of the board" and "each board member" are the same)."""
        out = []
        for i, k in enumerate(self.kinds):
            if k in ("content", "function", "number", "actor", "punct"):
                continue
            near = [self.stems[j] for j in range(max(0, i - 6), i) if self.kinds[j] in ("content", "actor")][-3:]
            start = max([j for j in range(i) if self.kinds[j] == "punct"], default=-1)
            opening = all(self.kinds[j] == "function" for j in range(start + 1, i))
            if opening:
                comma = next((j for j in range(i + 1, len(self.tokens)) if self.kinds[j] == "punct"), None)
                if comma is not None:
                    after = [
                        self.stems[j]
                        for j in range(comma + 1, len(self.tokens))
                        if self.kinds[j] in ("content", "actor")
                    ]
                    near += after[:3]
            phrase = [
                self.stems[j]
                for j in range(i + 1, min(len(self.tokens), i + 7))
                if self.kinds[j] in ("content", "actor")
            ]
            out.append((k, self._next_content(i), frozenset(near), frozenset(phrase[:3])))
        return out

    def _after(self, i: int) -> frozenset[str]:
        """The content words after token i up to the clause's end (at most three, within six tokens)."""
        out: list[str] = []
        for j in range(i + 1, min(len(self.tokens), i + 7)):
            if self.kinds[j] == "punct":
                break
            if self.kinds[j] in ("content", "actor"):
                out.append(self.stems[j])
        return frozenset(out[:3])

    def _negation_targets(self) -> list[int]:
        """The token each negation attaches to: the first content word after it, within `ATTACH_WINDOW`."""
        out = []
        for i, k in enumerate(self.kinds):
            if k == "negation":
                end = min(len(self.tokens), i + 1 + ATTACH_WINDOW)
                j = next((j for j in range(i + 1, end) if self.kinds[j] in ("content", "actor")), None)
                if j is not None:
                    out.append(j)
        return out

    def negated(self) -> list[tuple[str, frozenset[str]]]:
        """(the word each negation attaches to, the words after that word in its clause)."""
        return [(self.stems[j], self._after(j)) for j in self._negation_targets()]

    def uses(self, stem: str) -> tuple[frozenset[str], frozenset[str]]:
        """The words after each use of a word in its clause, as (negated uses, other uses)."""
        targets = set(self._negation_targets())
        negated: set[str] = set()
        other: set[str] = set()
        for j, st in enumerate(self.stems):
            if self.kinds[j] in ("content", "actor") and _similar(st, stem):
                (negated if j in targets else other).update(self._after(j))
        return frozenset(negated), frozenset(other)

    def numbers(self) -> list[tuple[str, str, str]]:
        """(number, the word after it, the word before it) for each number."""
        return [
            (self.stems[i], self._next_content(i, 3), self._previous_content(i, 2))
            for i, k in enumerate(self.kinds)
            if k == "number"
        ]

    def agents(self) -> set[tuple[str, str]]:
        """(actor, the action it does): "the Council adopts" and "adopted by the Council" both give (council, adopt)."""
        out = set()
        for i, k in enumerate(self.kinds):
            if k != "actor":
                continue
            before = [j for j in range(max(0, i - 2), i) if self.tokens[j] not in ("the", "a", "an")]
            if before and self.tokens[before[-1]] == "by":  # passive: the action is what comes before "by"
                action = self._previous_content(before[-1], 4)
                if action:
                    out.add((self.stems[i], action))
                continue
            if before and self.tokens[before[-1]] in PREPOSITIONS:
                continue  # "a proposal from the Commission": the Commission is not the one acting here
            for j in range(i + 1, min(len(self.tokens), i + 5)):
                if self.kinds[j] == "content":
                    out.add((self.stems[i], self.stems[j]))
                    break
                if self.kinds[j] in ("actor", "number"):
                    break
        return out


class Aligner:
    """Reads sentences and their sources with one table and says which rule, if any, a sentence breaks."""

    def __init__(self, table: Table | None = None):
        self.table = table or load_table()
        self._stem = Stemmer.Stemmer("english").stemWord

    def read(self, text: str) -> Reading:
        """The text as the rules read it."""
        text = _strip_references(text)
        for pattern, replacement in _CONTRACTIONS:
            text = pattern.sub(replacement, text)
        for pattern, token in self.table.phrases:
            text = pattern.sub(f" {token} ", text)
        text = text.lower()
        text = re.sub(r"\b(where|when|whenever)\b", "if", text)  # conditions, as legal drafting uses them
        tokens, kinds, stems = [], [], []
        for token in _TOKEN.findall(text):
            token = token.removesuffix("'s")
            if token in ",;:—":
                kinds.append("punct")
                stems.append(token)
            elif token[0].isdigit() or token in _COUNTS:
                kinds.append("number")
                stems.append(_COUNTS.get(token, re.sub(r"[.,]", "", token)))
            elif token in self.table.operators:
                kinds.append(self.table.operators[token])
                stems.append(token)
            elif token in ACTORS:
                kinds.append("actor")
                stems.append(token)
            elif token in self.table.function or len(token) < 2:
                kinds.append("function")
                stems.append(token)
            else:
                kinds.append("content")
                stem = self._stem(token)
                stems.append(self.table.words.get(stem, stem))
            tokens.append(token)
        return Reading(tuple(tokens), tuple(kinds), tuple(stems))

    def check(self, sentence: str, source: str, given: Iterable[str]) -> str:
        """The rule the sentence breaks against its source ("" when it is aligned); `given` are the labels and texts
        of the passages the model was given (for whole references)."""
        if not _references(sentence) <= _references(" ".join(given)):
            return "reference"
        said, src = self.read(sentence), self.read(source)
        bound = {(n, w) for n, after, before in src.numbers() for w in (after, before) if w}
        numbers = {n for n, _, _ in src.numbers()}
        for n, after, before in said.numbers():
            counted = after or before  # the word it counts: the one after it ("30 days"), else the one before
            if n not in numbers or (counted and (n, counted) not in bound):
                return "number"
        have = src.content()
        if not all(_same(s, have) for s in said.content()):
            return "support"
        return self._operators(said, src) or self._actors(said, src)

    def grounds(self, sentence: str, passage: str) -> bool:
        """Whether every content word of the sentence is in the passage (a passage it cites besides its evidence's)."""
        have = self.read(passage).content()
        return all(_same(s, have) for s in self.read(sentence).content())

    def translated(self, shown: str, english: str) -> str:
        """The rule the sentence shown in another language breaks against the English one that was checked ("" when
        none): "number" when it states a number the English does not, "negation" when one of them is negative and the
        other not, "translation" when it names other bodies or another modality (an obligation for a permission)."""
        shown, english = _plain(shown), _plain(english)
        if not _figures(shown) <= _figures(english):
            return "number"
        said, checked = self._kinds(shown), self._kinds(english)
        if ("negation" in said) != ("negation" in checked):
            return "negation"
        return "translation" if said != checked else ""

    def _kinds(self, text: str) -> set[str]:
        for pattern, replacement in _CONTRACTIONS:
            text = pattern.sub(replacement, text)
        found = set()
        for kind, pattern in self.table.translation:  # longest names first: "European Council" is not "Council"
            if pattern.search(text):
                found.add(kind)
                text = pattern.sub(" ", text)
        return found

    @staticmethod
    def _operators(said: Reading, src: Reading) -> str:
        theirs = src.operators()
        mine = said.operators()
        words = said.content()
        classes = {op[0] for op in theirs}
        for cls, attached, _, phrase in mine:  # added, or (negations and quantifiers) moved to another word
            if cls not in classes:
                return "negation" if cls == "negation" else "operator"
            if (
                cls in ("negation", "universal", "partial")
                and attached
                and not any(
                    c == cls
                    and (
                        not a
                        or _similar(attached, a)
                        or (cls != "negation" and (_same(attached, p) or _same(a, phrase)))
                    )
                    for c, a, _, p in theirs
                )
            ):
                return "negation" if cls == "negation" else "operator"
        # a word the source uses both negated and not ("is not charged to the budget, it shall be charged to the
        # Member States") is told apart by what follows it in its clause: a negation on the use that is not negated
        for attached, after in said.negated():
            negated, other = src.uses(attached)
            after = frozenset(w for w in after if not _similar(w, attached))
            if after and any(_same(w, other) for w in after) and not any(_same(w, negated) for w in after):
                return "negation"
        for cls, attached, _, _ in theirs:  # dropped while keeping what it says something of
            if cls not in KEPT:
                continue
            if cls == "negation":  # kept on the same word
                if (
                    attached
                    and _same(attached, words)
                    and not any(c == cls and (not a or _similar(a, attached)) for c, a, _, _ in mine)
                ):
                    return "negation"
                continue
            kept = sum(op[0] == cls for op in mine)
            needed = sum(  # this class's operators of the source that qualify what the sentence says
                c == cls
                and (
                    (bool(a) and _same(a, words))
                    or (c in ("exception", "restriction", "condition") and any(_same(w, words) for w in q))
                )
                for c, a, q, _ in theirs
            )
            if kept < needed:
                return "operator"
        # an obligation turned into a permission on the same action
        duties = {op[1] for op in theirs if op[0] == "obligation"}
        allowed = {op[1] for op in theirs if op[0] == "permission"}
        for cls, attached, _, _ in mine:
            if cls == "permission" and attached in duties and attached not in allowed:
                return "operator"
        return ""

    @staticmethod
    def _actors(said: Reading, src: Reading) -> str:
        theirs = src.agents()
        for actor, action in said.agents():
            if (actor, action) in theirs:
                continue
            if any(_similar(action, a) and actor != who for who, a in theirs) and not any(
                who == actor and _similar(action, a) for who, a in theirs
            ):
                return "actor"
        return ""


def _similar(a: str, b: str) -> bool:
    """Stems of one word: equal, or one the other's start with at least 6 letters in common ("membership")."""
    return a == b or (len(a) >= 6 and len(b) >= 6 and (a.startswith(b[:6]) and b.startswith(a[:6])))


def _same(stem: str, stems: set[str] | frozenset[str]) -> bool:
    return stem in stems or any(_similar(stem, s) for s in stems)


def _strip_references(text: str) -> str:
    for pattern in (_ARTICLE, _PROTOCOL, _ACT):
        text = pattern.sub(" ", text)
    return text


def _plain(text: str) -> str:
    """The text without its references and their paragraph numbers ("(2)", "No 10"): not figures, not a "no"."""
    return re.sub(r"\(\d{1,2}\)|\bNos?\.?\s*(?=\d)", " ", _strip_references(text))


def _figures(text: str) -> set[str]:
    """The numbers a text states, in digits or words ("four" is "4"; "1 000" and "1,000" are "1000")."""
    found = {re.sub(r"[.,\s]", "", n) for n in _FIGURE.findall(text)}
    return found | {NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in NUMBER_WORDS}


def _references(text: str) -> set[str]:
    """References written whole: "teu:42", "art:42" (no treaty named), "protocol:10", "decision:2020/1"."""
    found = set()
    for m in _ARTICLE.finditer(text):
        treaty = (m.group(2) or "").lower()
        found.add(f"{_TREATY_NAMES.get(treaty, treaty) or 'art'}:{m.group(1)}")
    found |= {f"protocol:{m.group(1)}" for m in _PROTOCOL.finditer(text)}
    found |= {f"{m.group(1).lower()}:{m.group(2)}" for m in _ACT.finditer(text)}
    return found


def source_of(passage: str, start: int, end: int) -> str:
    """The whole sentence or sentences of `passage` that the span start..end lies in."""
    bounds = [0] + [m.end() for m in _SENTENCE_END.finditer(passage)] + [len(passage)]
    at = max(k for k, b in enumerate(bounds) if b <= start)
    if at > 0 and _CONTINUES.match(passage, bounds[at]):
        at -= 1
    last = min((b for b in bounds if b >= end), default=len(passage))
    return passage[bounds[at] : last].strip()
