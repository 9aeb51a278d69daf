"""Training questions: the records, how they are read and checked against the provision listing, and how they are
split by document for choosing settings (dev questions are about documents the model never saw)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AssistantError
from ..ingest.chunking import TREATIES
from .listing import ProvisionEntry

STYLES = frozenset(
    {
        "what",
        "yes-no",
        "who",
        "when",
        "how-much",
        "which",
        "how",
        "why",
        "can-my-country",
        "informal",
        "typo",
        "follow-up",
        # questions the texts do not answer
        "current-events",
        "figure-year",
        "office-holder",
        "opinion",
        "prediction",
        "out-of-scope",
        "other-text",
    }
)


class TrainingDataError(AssistantError):
    """A training file that cannot be used as it is."""


@dataclass(frozen=True)
class Turn:
    """An earlier turn of the conversation a follow-up belongs to."""

    role: str
    content: str


@dataclass(frozen=True)
class TrainingQuestion:
    """A question written from the texts, tied to the provisions that answer it (none when the texts do not)."""

    id: str
    question: str
    answerable: bool
    provisions: tuple[str, ...]
    style: str
    history: tuple[Turn, ...] = field(default=())

    @property
    def searched(self) -> str:
        """What the question means on its own: a follow-up with the user's earlier question before it."""
        earlier = [t.content for t in self.history if t.role == "user"]
        return f"{earlier[-1]} {self.question}" if earlier else self.question

    def sources(self, listing: Mapping[str, ProvisionEntry]) -> frozenset[str]:
        """The documents its answer comes from."""
        return frozenset(listing[p].source_id for p in self.provisions)

    def units(self, listing: Mapping[str, ProvisionEntry]) -> frozenset[str]:
        """The units its answer comes from, as the dev split holds them out: a document, or for the two Treaties
        (one long document each) an article."""
        return frozenset(
            f"{listing[p].source_id}:{listing[p].article}" if listing[p].source_id in TREATIES else listing[p].source_id
            for p in self.provisions
        )


def _parse(line: str, where: str) -> TrainingQuestion:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TrainingDataError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise TrainingDataError(f"{where}: a line must be a JSON object")
    missing = [k for k in ("id", "question", "answerable", "provisions", "style") if k not in raw]
    if missing:
        raise TrainingDataError(f"{where}: missing {', '.join(missing)}")
    if raw["style"] not in STYLES:
        raise TrainingDataError(f"{where}: unknown style {raw['style']!r}")
    history = raw.get("history") or []
    if not isinstance(history, list) or not all(
        isinstance(t, dict) and t.get("role") in ("user", "assistant") and isinstance(t.get("content"), str)
        for t in history
    ):
        raise TrainingDataError(f"{where}: history must be a list of {{role, content}} turns")
    if not isinstance(raw["provisions"], list) or bool(raw["provisions"]) != bool(raw["answerable"]):
        raise TrainingDataError(f"{where}: an answerable question lists its provisions, an unanswerable one none")
    return TrainingQuestion(
        str(raw["id"]),
        str(raw["question"]).strip(),
        bool(raw["answerable"]),
        tuple(str(p) for p in raw["provisions"]),
        str(raw["style"]),
        tuple(Turn(t["role"], t["content"]) for t in history),
    )


def read_questions(
    paths: Iterable[Path], listing: Mapping[str, ProvisionEntry] | None = None
) -> list[TrainingQuestion]:
    """Every question of the files, checked: well formed, ids unique, and (given the listing) every provision id
    one the corpus has. A problem is one line naming the file and line."""
    out: list[TrainingQuestion] = []
    seen: set[str] = set()
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                q = _parse(line, f"{path}:{n}")
                if q.id in seen:
                    raise TrainingDataError(f"{path}:{n}: id {q.id!r} is used twice")
                if listing is not None:
                    unknown = [p for p in q.provisions if p not in listing]
                    if unknown:
                        raise TrainingDataError(
                            f"{path}:{n}: provision {unknown[0]} is not in the corpus (its text changed? run "
                            "`cfsp-assistant train list` and re-tie the question)"
                        )
                seen.add(q.id)
                out.append(q)
    return out


def split_by_document(
    questions: list[TrainingQuestion], listing: Mapping[str, ProvisionEntry], dev_share: float, seed: int
) -> tuple[list[TrainingQuestion], list[TrainingQuestion]]:
    """(train, dev): a share of the documents (Treaty articles count as documents) is held out whole, with every
    question whose answer comes from one of them, as after a corpus update; unanswerable questions are split at
    random in the same proportion."""
    rng = random.Random(seed)
    documents = sorted({s for q in questions if q.answerable for s in q.units(listing)})
    rng.shuffle(documents)
    held = set(documents[: max(1, round(dev_share * len(documents)))])
    train: list[TrainingQuestion] = []
    dev: list[TrainingQuestion] = []
    for q in questions:
        if q.answerable:
            (dev if q.units(listing) & held else train).append(q)
        else:
            (dev if rng.random() < dev_share else train).append(q)
    return train, dev
