"""Quality gates: minimums (and maximums) on summary metrics; a failed gate names the metric."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import AssistantError
from .runner import METRICS, Summary


class GatesError(AssistantError):
    """A gates file or gate bound cannot be used; the message names the problem."""


# metrics where lower is better; every other metric of the summary is a "min" gate (the value must reach the bound)
LOWER_IS_BETTER = {
    "answerable_declined",
    "answer_words_mean",
    "retrieval_ms_p50",
    "retrieval_ms_p95",
    "answer_ms_p50",
    "answer_ms_p95",
    "latency_ms_p50",
    "latency_ms_p95",
}
GATED = {name: "max" if name in LOWER_IS_BETTER else "min" for name in METRICS}


@dataclass(frozen=True)
class GateResult:
    """One gate checked against a measured value."""

    metric: str
    bound: float
    direction: str
    value: float | None

    @property
    def passed(self) -> bool:
        """Does the value meet the bound?"""
        if self.value is None:
            return False
        return self.value >= self.bound if self.direction == "min" else self.value <= self.bound

    def describe(self) -> str:
        """One line: metric, value, bound and the verdict."""
        shown = "undefined" if self.value is None else f"{self.value:.3f}"
        word = "at least" if self.direction == "min" else "at most"
        return f"{self.metric} = {shown} (gate: {word} {self.bound:g}) {'passed' if self.passed else 'FAILED'}"


def load_gates(path: Path) -> tuple[str, dict[str, float]]:
    """A gates file: `retriever = "hybrid"` and a `[gates]` table of metric = bound."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GatesError(f"cannot read gates file {path}: {exc}") from None
    gates = data.get("gates", {})
    check_names(gates)
    return data.get("retriever", "hybrid"), {k: float(v) for k, v in gates.items()}


def check_names(gates: dict) -> None:
    """Refuse gates on metrics that do not exist (a typo must not silently pass)."""
    unknown = [name for name in gates if name not in GATED]
    if unknown:
        raise GatesError(f"unknown gate metric(s) {', '.join(unknown)}; known: {', '.join(GATED)}")


def check(summary: Summary, gates: dict[str, float]) -> list[GateResult]:
    """Each gate against the summary of the gated retriever."""
    check_names(gates)
    return [GateResult(name, bound, GATED[name], summary.value(name)) for name, bound in gates.items()]
