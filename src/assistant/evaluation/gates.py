"""Quality gates: minimums (and maximums) on summary metrics; a failed gate names the metric."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .questions import QuestionSetError

# metric name in the summary -> direction ("min": the value must be at least the bound)
GATED = {
    "recall_at_1": "min", "recall_at_3": "min", "recall_at_5": "min", "recall_at_10": "min",
    "mrr": "min", "ndcg": "min",
    "citation_accuracy_first": "min", "citation_accuracy_any": "min", "keyword_hit_rate": "min",
    "lead_keyword_rate": "min", "answerable_declined": "max", "not_covered_declined": "min", "answer_words_mean": "max",
    "abstention_precision": "min", "abstention_recall": "min", "abstention_accuracy": "min",
    "latency_ms_p95": "max",
}


@dataclass(frozen=True)
class GateResult:
    """One gate checked against a measured value."""

    metric: str
    bound: float
    direction: str
    value: float | None

    @property
    def passed(self) -> bool:
        if self.value is None:
            return False
        return self.value >= self.bound if self.direction == "min" else self.value <= self.bound

    def describe(self) -> str:
        shown = "undefined" if self.value is None else f"{self.value:.3f}"
        word = "at least" if self.direction == "min" else "at most"
        return f"{self.metric} = {shown} (gate: {word} {self.bound:g}) {'passed' if self.passed else 'FAILED'}"


def load_gates(path: Path) -> tuple[str, dict[str, float]]:
    """A gates file: `retriever = "hybrid"` and a `[gates]` table of metric = bound."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise QuestionSetError(f"cannot read gates file {path}: {exc}") from None
    gates = data.get("gates", {})
    check_names(gates)
    return data.get("retriever", "hybrid"), {k: float(v) for k, v in gates.items()}


def check_names(gates: dict) -> None:
    """Refuse gates on metrics that do not exist (a typo must not silently pass)."""
    unknown = [name for name in gates if name not in GATED]
    if unknown:
        raise QuestionSetError(f"unknown gate metric(s) {', '.join(unknown)}; known: {', '.join(GATED)}")


def check(summary: dict, gates: dict[str, float]) -> list[GateResult]:
    """Each gate against the summary of the gated retriever."""
    check_names(gates)
    return [GateResult(name, bound, GATED[name], summary.get(name)) for name, bound in gates.items()]
