"""One evaluation end to end: validate the sets, run them, check the gates, write the report."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..pipeline import Assistant
from . import gates as gating
from . import report as reporting
from .questions import EvalQuestion, QuestionSetError, load_sets
from .runner import EvalRun, run, run_name, summarize


@dataclass(frozen=True)
class Outcome:
    """What an evaluation produced: the report, the gates as checked and the raw run."""

    report: reporting.Report
    gates: list[gating.GateResult]
    run: EvalRun

    @property
    def failed(self) -> list[gating.GateResult]:
        """The gates that failed."""
        return [g for g in self.gates if not g.passed]


def check_gates_apply(gates: dict[str, float], gate_retriever: str, retrievers: Sequence[str]) -> None:
    """Refuse, before anything runs, gates on unknown metrics or on a retriever that is not evaluated."""
    gating.check_names(gates)
    if gates and gate_retriever not in retrievers:
        raise gating.GatesError(
            f"the gates apply to {gate_retriever!r}, which is not among the retrievers "
            f"evaluated ({', '.join(retrievers)})"
        )


def evaluate(
    assistant: Assistant,
    questions: Sequence[EvalQuestion],
    out_dir: Path,
    retrievers: Sequence[str],
    k: int = 10,
    gates: dict[str, float] | None = None,
    gate_retriever: str = "hybrid",
    progress: Callable[[int, int], None] | None = None,
    answerers: Sequence[str] = ("extractive",),
    others: Mapping[str, Assistant] | None = None,
) -> Outcome:
    """Run every question with every retriever and answerer, check the gates on `gate_retriever` (a retriever's
    quoted answers, or a run such as "hybrid+llm") and write the report files."""
    gates = gates or {}
    runs = [run_name(mode, answerer) for answerer in answerers for mode in retrievers]
    runs += [run_name(mode, "extractive", name) for name in (others or {}) for mode in retrievers]
    check_gates_apply(gates, gate_retriever, runs)
    result = run(assistant, questions, retrievers, k, progress, answerers, others)
    summary = summarize([r for r in result.results if r.run == gate_retriever])
    checked = gating.check(summary, gates)
    return Outcome(reporting.write(result, out_dir, gate_retriever, checked), checked, result)


def load_questions(paths: Sequence[Path]) -> list[EvalQuestion]:
    """Validated questions of the given sets (a folder stands for its *.jsonl files)."""
    files: list[Path] = []
    for path in map(Path, paths):
        files += sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files:
        raise QuestionSetError(f"no question sets found in {', '.join(map(str, paths))}")
    return load_sets(files)
