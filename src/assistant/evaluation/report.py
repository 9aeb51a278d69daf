"""Writes an evaluation run as report.md, report.json, per_question.jsonl and a retriever-comparison chart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from .gates import GateResult
from .runner import EvalRun, IndexInfo, LlmDetails, QuestionResult, Summary, breakdown, llm_details, summarize

HEADLINE = [
    ("recall_at_1", "R@1"),
    ("recall_at_3", "R@3"),
    ("recall_at_5", "R@5"),
    ("recall_at_10", "R@10"),
    ("mrr", "MRR@k"),
    ("ndcg", "nDCG@k"),
    ("citation_accuracy_first", "cite first"),
    ("citation_accuracy_any", "cite any"),
    ("keyword_hit_rate", "keywords"),
    ("lead_keyword_rate", "lead keyword"),
    ("abstention_precision", "abst. prec."),
    ("abstention_recall", "abst. rec."),
    ("abstention_accuracy", "abst. acc."),
    ("not_covered_declined", "not covered declined"),
    ("answerable_declined", "answerable declined"),
    ("answer_words_mean", "words"),
]
SPEED = [
    ("retrieval_ms_p50", "retrieval p50"),
    ("retrieval_ms_p95", "retrieval p95"),
    ("answer_ms_p50", "answer p50"),
    ("answer_ms_p95", "answer p95"),
    ("latency_ms_p50", "total p50"),
    ("latency_ms_p95", "total p95"),
]
CHART = HEADLINE[:10] + [HEADLINE[12]]


def fmt(value, digits: int = 3) -> str:
    """A metric as shown in tables: fixed decimals, "–" when undefined."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    def cell(v) -> str:
        return fmt(v).replace("|", "\\|").replace("\n", " ")

    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in rows
    ]


def _as_dicts(groups: dict[str, dict[str, Summary]]) -> dict[str, dict[str, dict]]:
    return {mode: {name: s.to_dict() for name, s in by_group.items()} for mode, by_group in groups.items()}


@dataclass(frozen=True)
class WorstRow:
    """A question a metric judged among the worst, with what happened to it."""

    id: str
    question: str
    rank: int | None
    keyword_score: float | None
    keywords_missing: list[str]
    abstained: bool
    confidence: float
    expected: list[dict[str, str]]
    citations: list[str]
    retrieved: list[str]


@dataclass(frozen=True)
class Report:
    """One evaluation as reported: summaries per run, breakdowns, worst lists and gates (report.json is its
    `to_dict()`, report.md its `markdown()`)."""

    generated_at: str
    sets: list[str]
    questions: int
    answerable: int
    follow_ups: int
    k: int
    retrievers: list[str]
    seconds: float
    index: IndexInfo
    summary: dict[str, Summary]
    llm: dict[str, LlmDetails]
    by_topic: dict[str, dict[str, Summary]]
    by_source_kind: dict[str, dict[str, Summary]]
    by_set: dict[str, dict[str, Summary]]
    by_split: dict[str, dict[str, Summary]]
    primary_retriever: str
    worst: dict[str, list[WorstRow]]
    gates: list[GateResult]

    def to_dict(self) -> dict:
        """JSON-ready form (report.json)."""
        return {
            "generated_at": self.generated_at,
            "sets": self.sets,
            "questions": self.questions,
            "answerable": self.answerable,
            "follow_ups": self.follow_ups,
            "k": self.k,
            "retrievers": self.retrievers,
            "seconds": self.seconds,
            "index": asdict(self.index),
            "summary": {mode: s.to_dict() for mode, s in self.summary.items()},
            "llm": {mode: asdict(d) for mode, d in self.llm.items()},
            "by_topic": _as_dicts(self.by_topic),
            "by_source_kind": _as_dicts(self.by_source_kind),
            "by_set": _as_dicts(self.by_set),
            "by_split": _as_dicts(self.by_split),
            "primary_retriever": self.primary_retriever,
            "worst": {metric: [asdict(r) for r in rows] for metric, rows in self.worst.items()},
            "gates": [
                {"metric": g.metric, "bound": g.bound, "direction": g.direction, "value": g.value, "passed": g.passed}
                for g in self.gates
            ],
        }


def worst(results: Sequence[QuestionResult], metric: str, n: int = 10, threshold: float = 0.0) -> list[QuestionResult]:
    """The n questions a metric judges worst (only those that failed it), worst first."""
    if metric == "recall_at_5":
        failed = [r for r in results if r.answerable and r.recall.get("5", 0.0) < 1.0]
        return sorted(failed, key=lambda r: (r.rank is not None, -(r.rank or 0)))[:n]
    if metric == "mrr":
        failed = [r for r in results if r.answerable and r.reciprocal_rank < 1.0]
        return sorted(failed, key=lambda r: r.reciprocal_rank)[:n]
    if metric == "citation_accuracy_first":
        return [r for r in results if r.answerable and not r.first_citation_ok][:n]
    if metric == "keyword_hit_rate":
        failed = [r for r in results if r.answerable and r.keyword_score is not None and r.keyword_score < 1.0]
        return sorted(failed, key=lambda r: r.keyword_score or 0.0)[:n]
    if metric == "abstention_accuracy":
        failed = [r for r in results if r.abstained == r.answerable]
        # confident wrong answers and clear-cut wrong refusals first
        return sorted(failed, key=lambda r: -abs(r.confidence - threshold))[:n]
    raise ValueError(f"no worst-list for {metric}")


WORST = [
    ("recall_at_5", "Missed in the top 5"),
    ("mrr", "Lowest reciprocal rank"),
    ("citation_accuracy_first", "First citation not an expected source"),
    ("keyword_hit_rate", "Fewest expected keywords in the answer"),
    ("abstention_accuracy", "Wrong abstention decision"),
]


def build(run: EvalRun, gate_retriever: str, gates: Sequence[GateResult]) -> Report:
    """The report: summaries per retriever, breakdowns, worst lists and gates."""
    by_mode = {name: [r for r in run.results if r.run == name] for name in run.retrievers}
    primary = gate_retriever if gate_retriever in by_mode else run.retrievers[-1]
    return Report(
        generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        sets=run.sets,
        questions=run.questions,
        answerable=sum(1 for r in by_mode[primary] if r.answerable),
        follow_ups=sum(1 for r in by_mode[primary] if r.follow_up),
        k=run.k,
        retrievers=run.retrievers,
        seconds=round(run.seconds, 2),
        index=run.index,
        summary={mode: summarize(rs) for mode, rs in by_mode.items()},
        llm={mode: llm_details(rs) for mode, rs in by_mode.items() if any(r.answerer != "extractive" for r in rs)},
        by_topic=breakdown(run.results, "topic"),
        by_source_kind=breakdown(run.results, "source_kind"),
        by_set=breakdown(run.results, "set"),
        by_split=breakdown(run.results, "split"),
        primary_retriever=primary,
        worst={
            metric: [
                WorstRow(
                    id=r.id,
                    question=r.question,
                    rank=r.rank,
                    keyword_score=r.keyword_score,
                    keywords_missing=r.keywords_missing,
                    abstained=r.abstained,
                    confidence=r.confidence,
                    expected=r.expected,
                    citations=r.citations,
                    retrieved=r.retrieved[:3],
                )
                for r in worst(by_mode[primary], metric, threshold=run.threshold)
            ]
            for metric, _ in WORST
        },
        gates=list(gates),
    )


def markdown(report: Report) -> str:
    """report.md: readable on its own."""
    k = report.k
    idx = report.index
    lines = [
        "# CFSP Assistant evaluation report",
        "",
        f"Generated {report.generated_at} by `cfsp-assistant eval` (do not edit by hand). "
        f"Question sets: {', '.join(report.sets)} — {report.questions} questions "
        f"({report.answerable} answerable, {report.questions - report.answerable} unanswerable, "
        f"{report.follow_ups} follow-ups). Index: {idx.documents} documents, {idx.chunks} chunks, "
        f"model {idx.model} ({idx.provider}). Top k = {k}. Run time {report.seconds:.1f} s.",
        "",
        "Recall@n: an expected source (any-of) among the first n passages. MRR and nDCG at k. "
        "Citation accuracy: the first (or any) citation of the answer is an expected source. Keywords: share of "
        "expected phrases the answer contains. Abstention: declining is the positive class. Retrieval metrics over "
        "answerable questions; abstention over all.",
        "",
        "## Retrievers compared",
        "",
        *_table(
            ["retriever"] + [label.replace("@k", f"@{k}") for _, label in HEADLINE],
            [[mode] + [s.value(key) for key, _ in HEADLINE] for mode, s in report.summary.items()],
        ),
        "",
        "![retrievers compared](retrievers.png)",
        "",
        "## Speed (milliseconds per question, this machine)",
        "",
        *_table(
            ["retriever"] + [label for _, label in SPEED],
            [[mode] + [_ms(s.value(key), 1) for key, _ in SPEED] for mode, s in report.summary.items()],
        ),
        "",
    ]
    lines += _llm_section(report)
    splits = report.by_split.get(report.primary_retriever, {})
    if len(splits) > 1:
        names = [name for name in ("tuning", "held-out") if name in splits]
        lines += [
            f"## Tuning and held-out sets side by side ({report.primary_retriever})",
            "",
            "The held-out sets (eval/questions/heldout/) were written before any tuning and never tuned on.",
            "",
            *_table(
                ["metric"] + [f"{name} ({splits[name].questions} questions)" for name in names],
                [[label] + [splits[name].value(key) for name in names] for key, label in HEADLINE + SPEED[-2:]],
            ),
            "",
        ]
    if report.gates:
        lines += [
            f"## Gates ({report.primary_retriever})",
            "",
            *_table(
                ["metric", "bound", "value", "result"],
                [
                    [
                        g.metric,
                        f"{'≥' if g.direction == 'min' else '≤'} {g.bound:g}",
                        g.value,
                        "passed" if g.passed else "**FAILED**",
                    ]
                    for g in report.gates
                ],
            ),
            "",
        ]
    for title, groups in (
        ("By topic", report.by_topic),
        ("By source kind", report.by_source_kind),
        ("By question set", report.by_set),
    ):
        lines += _breakdown_table(title, groups, report.primary_retriever)
    primary = report.primary_retriever
    for metric, title in WORST:
        rows = report.worst[metric]
        lines += [f"## Worst questions ({primary}): {title.lower()}", ""]
        if not rows:
            lines += ["None.", ""]
            continue
        lines += _table(
            ["id", "question", "expected", "what happened", "cited", "retrieved instead (top 3)"],
            [
                [
                    r.id,
                    r.question,
                    ", ".join(" ".join(e.values()) for e in r.expected) or "(none)",
                    _what_happened(metric, r),
                    "; ".join(r.citations[:3]) or "–",
                    "; ".join(r.retrieved),
                ]
                for r in rows
            ],
        ) + [""]
    return "\n".join(lines)


def _ms(value: float | None, digits: int = 0) -> str | None:
    return None if value is None else f"{value:.{digits}f}"


def _llm_section(report: Report) -> list[str]:
    """How the language model's answers fared: shown or replaced by the quoted answer, sentences kept and
    dropped (by rule), language, and time to the first shown sentence."""
    if not report.llm:
        return []
    rows = []
    for name, details in report.llm.items():
        s = report.summary[name]
        rows.append(
            [
                name,
                s.llm_answer_rate,
                s.fallback_rate,
                int(s.sentences_drafted or 0),
                int(s.sentences_kept or 0),
                ", ".join(f"{rule} {n}" for rule, n in details.dropped_by_rule.items()) or "none",
                s.in_question_language,
                _ms(s.first_sentence_ms_p50),
                _ms(s.first_sentence_ms_p95),
                _ms(s.latency_ms_p50),
                _ms(s.latency_ms_p95),
            ]
        )
    lines = [
        "## Language model answers",
        "",
        "Over answered questions: the share shown in the model's words (every sentence checked) and the share "
        "where the quoted answer stood in; sentences the model wrote, kept (in answers shown) and dropped, by "
        "the rule they broke; of the questions not asked in English, answers in their language; milliseconds to "
        "the first shown sentence and to the whole answer.",
        "",
        *_table(
            [
                "run",
                "model's words",
                "fallback",
                "sentences written",
                "kept",
                "dropped by rule",
                "in question's language",
                "first sentence p50",
                "p95",
                "total p50",
                "p95",
            ],
            rows,
        ),
        "",
    ]
    for name, details in report.llm.items():
        if details.fallback_reasons:
            lines += [f"Why the quoted answer stood in ({name}):", ""]
            lines += [f"- {reason}: {n}" for reason, n in details.fallback_reasons.items()] + [""]
    return lines


def _what_happened(metric: str, row: WorstRow) -> str:
    if metric == "keyword_hit_rate":
        return "missing: " + ", ".join(f"“{k}”" for k in row.keywords_missing)
    if metric == "abstention_accuracy":
        return f"{'declined' if row.abstained else 'answered'} (confidence {row.confidence:.2f})"
    if row.abstained:
        return "declined" + ("" if row.rank is None else f"; first expected at rank {row.rank}")
    return "expected source not retrieved" if row.rank is None else f"first expected at rank {row.rank}"


def _breakdown_table(title: str, groups: dict[str, dict[str, Summary]], primary: str) -> list[str]:
    modes = list(groups)
    names = sorted({g for m in modes for g in groups[m]})
    header = (
        ["group", "n"]
        + [f"R@5 {m}" for m in modes]
        + [f"MRR {primary}", f"cite first {primary}", f"keywords {primary}", f"abst. acc. {primary}"]
    )
    rows = []
    for name in names:
        p = groups.get(primary, {}).get(name)
        rows.append(
            [name, p.questions if p else None]
            + [s.recall_at_5 if (s := groups[m].get(name)) else None for m in modes]
            + (
                [p.mrr, p.citation_accuracy_first, p.keyword_hit_rate, p.abstention_accuracy]
                if p
                else [None, None, None, None]
            )
        )
    return [f"## {title}", "", *_table(header, rows), ""]


def chart(report: Report, path: Path) -> None:
    """Grouped bars: the headline metrics for each retriever."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(report.summary)
    width = 0.8 / max(1, len(modes))
    fig, ax = plt.subplots(figsize=(11, 4.2), dpi=110)
    for i, mode in enumerate(modes):
        values = [report.summary[mode].value(key) or 0.0 for key, _ in CHART]
        xs = [j + (i - (len(modes) - 1) / 2) * width for j in range(len(CHART))]
        bars = ax.bar(xs, values, width, label=mode)
        ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
    ax.set_xticks(range(len(CHART)), [label.replace("@k", f"@{report.k}") for _, label in CHART], fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("score (higher is better)")
    ax.set_title(f"Retrievers compared on {report.questions} questions")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(run: EvalRun, out_dir: Path, gate_retriever: str = "hybrid", gates: Sequence[GateResult] = ()) -> Report:
    """Write the four report files into out_dir (created if needed); returns the report."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = build(run, gate_retriever, gates)
    (out_dir / "report.json").write_text(
        json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    with (out_dir / "per_question.jsonl").open("w", encoding="utf-8") as fh:
        for r in run.results:
            fh.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")
    chart(report, out_dir / "retrievers.png")
    (out_dir / "report.md").write_text(markdown(report) + "\n", encoding="utf-8")
    return report
