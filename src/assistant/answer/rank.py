"""Step 2 of the answer stage, rank: how a candidate provision's features become its score for the question, and
the candidates in that order (`rank`).

Implementations of one protocol, chosen by name (`CFSP_RANKER`, `eval --rankers`):
- `rules` (the default): the hand-weighted sum the assistant used before a model was trained (`RULE_WEIGHTS`);
- `reader`: the same sum with the reader's probability among its features: the cross-encoder trained here
  (`assistant.answer.reader`) reads the question with the sum's best candidates, and they are scored again (not the
  default: on the tuning sets it does worse, see the README's "The relevance models");
- `learned`: a logistic regression fitted by `cfsp-assistant train ranker` on questions written from the texts, its
  coefficients and decline threshold in `models/ranker/ranker.json` (sha256 checked at load). Its score is the
  calibrated probability that the provision answers the question, so it also says whether anything answers at all.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from ..config import PROJECT_ROOT
from ..errors import ModelError
from .reader import Reader
from .records import SIGNALS, Candidate, Signals

RANKERS = ("learned", "reader", "rules")
RANKER_FILE = PROJECT_ROOT / "models" / "ranker" / "ranker.json"
RETRAIN = "retrain it with `cfsp-assistant train ranker` or restore models/ranker from git"

# The rules ranker's weights (fitted by hand on the tuning sets before the learned ranker existed, rounded); features
# not named here weigh nothing for it.
RULE_WEIGHTS = {
    "dense_best": 0.45,  # meaning: the provision's best sentence against the question
    "lexical": 0.4,  # share of the question's terms it contains, rarer terms and names weighing more
    "focus": 0.15,  # the same with terms weighted by how rare they are among the candidates (the specific ask)
    "title": 0.2,  # share of the question's terms in the headings it sits under (its article's or act's title)
    "subject": 0.1,  # its article or section is titled after what the question names
    "distinct": 0.3,  # meaning: closer to the question than to the candidates' common subject
    "rank": 0.05,  # 1 / (1 + rank of its passage in the retrieval)
    "reference": 0.2,  # the question names this article (or paragraph)
    "kind": 0.1,  # holds the kind of thing asked for (a body for "who", a date for "when" ...)
    "demand": 0.12,  # holds a specific thing asked for (the year, a person's name, a statement of the present)
    "background": -0.25,  # recital, preamble or annex, for a question that is not about purpose or background
    "orphan": -0.05,  # list items whose lead-in sits in another passage
    "authority": 0.06,  # 1 treaty ... 0 web page: tips the balance only between candidates that answer alike
    # the reader's probability that the provision answers, for the best candidates (the `reader` ranker only):
    # its weight chosen on dev by `cfsp-assistant train reader` (models/reader/MODEL_CARD.md)
    "reader": 0.25,
}


# The learned ranker's probabilities are compared as (p / p_best) ** SHARE_POWER wherever the composer asks how close
# a candidate comes to the best one. Chosen on the tuning sets among 1, 0.5, 0.33, 0.2 and 0.1: with the plain ratio
# (1) the learned ranker quoted one provision where the rules quote two (64 words against 87) and declined more
# answerable questions; 0.2 brings both to the rules' level; 0.1 kept fewer not-covered questions declined.
SHARE_POWER = 0.2


class Ranker(Protocol):
    """Scores candidates from their features; higher is better."""

    @property
    def name(self) -> str:
        """What `CFSP_RANKER` calls it."""

    @property
    def reads(self) -> bool:
        """Whether it weighs the reader's probability (the composer runs the reader only for such a ranker)."""

    def scores(self, features: Sequence[Signals]) -> list[float]:
        """One score per candidate."""

    def answers(self, best: float) -> bool | None:
        """Whether the best score means the question is answered at all; None when the ranker cannot tell."""

    def share(self, score: float, best: float) -> float:
        """How close a candidate's score comes to the best one's, 1 for as good: the composer quotes a further
        provision, and a provision holding what was asked may lead, only above a share of the best."""


class RulesRanker:
    """The hand-weighted sum (with the reader's probability among its features when it `reads`)."""

    def __init__(self, weights: Mapping[str, float] = RULE_WEIGHTS, reads: bool = False):
        unknown = sorted(set(weights) - set(SIGNALS))
        if unknown:
            raise ModelError(f"the ranker weighs features no candidate has: {', '.join(unknown)}")
        self.weights = dict(weights)
        self.reads = reads
        self.name = "reader" if reads else "rules"

    def scores(self, features: Sequence[Signals]) -> list[float]:
        """Weighted sum of each candidate's features."""
        return [sum(w * f.value(name) for name, w in self.weights.items()) for f in features]

    def answers(self, best: float) -> bool | None:
        """A weighted sum is no probability: the rules' own checks decide."""
        return None

    def share(self, score: float, best: float) -> float:
        """The plain ratio of the two sums."""
        return score / best if best > 0 else 0.0


@dataclass(frozen=True)
class LearnedRanker:
    """Logistic regression over standardised features: P(the provision answers the question)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float  # below this probability for the best candidate, nothing answers: decline
    name: str = "learned"
    reads: bool = False

    def scores(self, features: Sequence[Signals]) -> list[float]:
        """The probability for each candidate."""
        out = []
        for f in features:
            z = self.intercept + sum(
                c * (f.value(n) - m) / s
                for n, m, s, c in zip(self.features, self.mean, self.scale, self.coef, strict=True)
            )
            out.append(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))))
        return out

    def answers(self, best: float) -> bool | None:
        """Does the best candidate's probability reach the threshold chosen on dev?"""
        return best >= self.threshold

    def share(self, score: float, best: float) -> float:
        """The ratio of the two probabilities, flattened by SHARE_POWER (a probability falls much faster than the
        rules' sum between candidates that answer alike)."""
        return (score / best) ** SHARE_POWER if best > 0 else 0.0

    def to_dict(self) -> dict:
        """JSON-ready form (what ranker.json holds besides its checksum)."""
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "threshold": self.threshold,
        }


def _digest(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def save_ranker(ranker: LearnedRanker, path: Path, card: Mapping[str, object] | None = None) -> None:
    """Write the ranker with the sha256 of its parameters (checked at load) and what it was trained on."""
    payload = ranker.to_dict()
    record = {"model": payload, "sha256": _digest(payload), "card": dict(card or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def load_ranker(path: Path = RANKER_FILE) -> LearnedRanker:
    """The learned ranker from its file, its parameters checked against the recorded sha256."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        payload = record["model"]
        ok = _digest(payload) == record["sha256"]
    except OSError:
        raise ModelError(f"the ranking model {path} is missing: {RETRAIN}") from None
    except (ValueError, KeyError, TypeError):
        raise ModelError(f"the ranking model {path} is not a ranker file: {RETRAIN}") from None
    if not ok:
        raise ModelError(f"the ranking model {path} does not match its sha256: {RETRAIN}")
    try:
        ranker = LearnedRanker(
            tuple(payload["features"]),
            tuple(float(x) for x in payload["mean"]),
            tuple(float(x) for x in payload["scale"]),
            tuple(float(x) for x in payload["coef"]),
            float(payload["intercept"]),
            float(payload["threshold"]),
        )
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"the ranking model {path} is not a ranker file: {RETRAIN}") from None
    if not len(ranker.features) == len(ranker.mean) == len(ranker.scale) == len(ranker.coef):
        raise ModelError(f"the ranking model {path} is not a ranker file: {RETRAIN}")
    unknown = sorted(set(ranker.features) - set(SIGNALS))
    if unknown:
        raise ModelError(f"the ranking model {path} reads features no candidate has ({', '.join(unknown)}): {RETRAIN}")
    return ranker


def make_ranker(name: str, path: Path = RANKER_FILE) -> Ranker:
    """The ranker called `name`; names the allowed ones when given another."""
    if name in ("rules", "reader"):
        return RulesRanker(reads=name == "reader")
    if name == "learned":
        return load_ranker(path)
    raise ModelError(f"unknown ranker {name!r}; allowed: {', '.join(RANKERS)}")


def rank(
    question: str, candidates: Sequence[Candidate], ranker: Ranker, reader: Reader | None = None
) -> list[Candidate]:
    """The candidates scored by the ranker, best first. For a ranker that `reads`, the reader first reads the
    question (as searched) with the ranking's best candidates, its probability becomes their feature `reader`, and
    all are scored again."""
    scores = ranker.scores([c.features for c in candidates])
    if reader is not None and ranker.reads:
        best = sorted(range(len(candidates)), key=lambda i: -scores[i])[: reader.candidates]
        texts = [reader.text(candidates[i]) for i in best]
        read = dict(zip(best, reader.probabilities(question, texts), strict=True))
        candidates = [
            replace(c, features=replace(c.features, reader=float(read[i]))) if i in read else c
            for i, c in enumerate(candidates)
        ]
        scores = ranker.scores([c.features for c in candidates])
    ranked = [replace(c, score=score) for c, score in zip(candidates, scores, strict=True)]
    ranked.sort(key=lambda c: -c.score)
    return ranked
