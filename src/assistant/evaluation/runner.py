"""Runs question sets through the same `Assistant` the chat and the API use, once per retrieval strategy."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from ..pipeline import Assistant
from ..retrieval.retriever import MODES
from . import metrics
from .questions import EvalQuestion

RECALL_KS = (1, 3, 5, 10)
OUT_OF_SCOPE = "out-of-scope"  # the topic of unanswerable questions that are not about the CFSP at all
TREATY_SOURCES = ("TEU", "TFEU")


@dataclass(frozen=True)
class QuestionResult:
    """What one retriever did with one question."""

    id: str
    set: str
    split: str  # tuning | held-out
    topic: str
    source_kind: str
    retriever: str
    question: str
    search_query: str
    answerable: bool
    follow_up: bool
    rank: int | None
    recall: dict[str, float]
    reciprocal_rank: float
    ndcg: float
    abstained: bool
    confidence: float
    first_citation_ok: bool
    any_citation_ok: bool
    keyword_score: float | None
    lead_keyword: bool | None  # the first cited quote holds an expected keyword (None without keywords)
    answer_words: int
    retrieval_ms: float
    answer_ms: float
    latency_ms: float
    keywords_missing: list[str]  # the answer text itself is not kept: reports are committed, corpus wording is not
    citations: list[str]
    retrieved: list[str]
    expected: list[dict] = field(default_factory=list)
    answerer: str = "extractive"  # asked for: extractive | llm
    mode: str = "extractive"  # what the answer was: llm (the model's checked sentences) or extractive (quoted)
    model: str = ""
    fallback_reason: str = ""
    drafted: int = 0  # sentences the model wrote
    dropped: list[str] = field(default_factory=list)  # the rule each dropped sentence broke
    language: str = "en"  # the question's
    answer_language: str = "en"  # the answer text's, as detected
    first_sentence_ms: float = 0.0
    ranker: str = ""  # another ranker than the configured one (`eval --rankers`); "" for the configured one

    @property
    def run(self) -> str:
        """The run this result belongs to: the retriever, with the answerer when it is not the quoted one and the
        ranker when it is not the configured one."""
        return run_name(self.retriever, self.answerer, self.ranker)

    def to_dict(self) -> dict:
        """JSON-ready form (a line of per_question.jsonl)."""
        return asdict(self)


def run_name(retriever: str, answerer: str, ranker: str = "") -> str:
    """The run's name: the retriever ("hybrid") for quoted answers, "hybrid+llm" for the language model's, and
    "hybrid/rules" for another ranker than the configured one."""
    name = retriever if answerer == "extractive" else f"{retriever}+{answerer}"
    return f"{name}/{ranker}" if ranker else name


@dataclass(frozen=True)
class IndexInfo:
    """The index an evaluation ran on, as its manifest records it."""

    generation: str
    documents: int
    chunks: int
    model: str
    provider: str
    backend: str
    built_at: str


@dataclass(frozen=True)
class LlmDetails:
    """For a language model run: how many sentences each rule dropped, and why answers fell back."""

    dropped_by_rule: dict[str, int]
    fallback_reasons: dict[str, int]


@dataclass(frozen=True)
class EvalRun:
    """Everything one evaluation produced: per-question results plus the run's context."""

    results: list[QuestionResult]
    retrievers: list[str]
    k: int
    sets: list[str]
    questions: int
    seconds: float
    index: IndexInfo
    threshold: float = 0.0  # the abstention threshold the answers were made with


def source_kind(question: EvalQuestion, kinds: dict[str, str]) -> str:
    """The kind of text that answers a question: treaty, decision, regulation, agreement ..., from its first
    expected official source; 'web page' only when nothing but a web page answers it; or 'unanswerable'."""
    if not question.answerable:
        return "unanswerable"

    def kind(source: str) -> str:
        if source in TREATY_SOURCES or source.startswith(("PROTOCOL-", "DECLARATION-")):
            return "treaty"
        return kinds.get(source, "unknown")

    found = [kind(e.source) for e in question.expected]
    return next((k for k in found if k != "web page"), found[0])


def evaluate_one(
    assistant: Assistant,
    question: EvalQuestion,
    mode: str,
    k: int,
    kind: str,
    answerer: str = "extractive",
    ranker: str = "",
) -> QuestionResult:
    """Ask one question (with its history) in one retrieval mode and score what came back."""
    answer = assistant.ask(question.question, top_k=k, mode=mode, history=question.history, answerer=answerer)
    hits = answer.hits[:k]
    covers = [
        frozenset(i for i, e in enumerate(question.expected) if e.matches(h.chunk.source_id, h.chunk.article))
        for h in hits
    ]
    rank = metrics.first_relevant_rank([bool(c) for c in covers])
    cited = [question.is_relevant(c.source_id, c.article) for c in answer.citations]
    answered = not answer.abstained
    return QuestionResult(
        id=question.id,
        set=question.set_name,
        split=question.split,
        topic=question.topic,
        source_kind=kind,
        retriever=mode,
        question=question.question,
        search_query=answer.search_query,
        answerable=question.answerable,
        follow_up=bool(question.history),
        rank=rank,
        recall={str(n): metrics.recall_at(rank, n) for n in RECALL_KS if n <= k},
        reciprocal_rank=metrics.reciprocal_rank(rank, k),
        ndcg=metrics.ndcg_at(covers, len(question.expected), k),
        abstained=answer.abstained,
        confidence=round(answer.confidence, 4),
        first_citation_ok=answered and bool(cited) and cited[0],
        any_citation_ok=answered and any(cited),
        keyword_score=metrics.keyword_score(answer.text if answered else "", question.answer_keywords),
        lead_keyword=metrics.lead_keyword(
            answer.citations[0].quote if answered and answer.citations else "", question.answer_keywords
        ),
        answer_words=len(answer.text.split()) if answered else 0,
        retrieval_ms=round(answer.retrieval_ms, 3),
        answer_ms=round(answer.latency_ms - answer.retrieval_ms, 3),
        latency_ms=round(answer.latency_ms, 3),
        keywords_missing=[
            kw for kw in question.answer_keywords if not answered or kw.lower() not in answer.text.lower()
        ],
        citations=[c.label for c in answer.citations],
        retrieved=[h.chunk.label for h in hits],
        expected=[e.to_dict() for e in question.expected],
        answerer=answerer,
        mode=answer.mode,
        model=answer.model,
        fallback_reason=answer.fallback_reason,
        drafted=answer.drafted,
        dropped=list(answer.dropped),
        language=answer.language,
        answer_language=assistant.languages.detect(answer.text).code if answered else answer.language,
        first_sentence_ms=round(answer.first_sentence_ms, 3),
        ranker=ranker,
    )


def run(
    assistant: Assistant,
    questions: Sequence[EvalQuestion],
    retrievers: Sequence[str] = MODES,
    k: int = 10,
    progress: Callable[[int, int], None] | None = None,
    answerers: Sequence[str] = ("extractive",),
    others: Mapping[str, Assistant] | None = None,
) -> EvalRun:
    """Evaluate every question with every retriever and answerer; `progress(done, total)` is called after each.
    `others` are assistants on the same index with other rankers (by ranker name), each run with the quoted
    answerer as well, so the rankers are compared on the same questions in one run."""
    unknown = [r for r in retrievers if r not in MODES]
    if unknown:
        raise ValueError(f"unknown retriever(s) {', '.join(unknown)}; choose from {', '.join(MODES)}")
    runs = [(mode, answerer, "") for answerer in answerers for mode in retrievers]
    runs += [(mode, "extractive", name) for name in (others or {}) for mode in retrievers]
    kinds: dict[str, str] = {}
    for chunk in assistant.index.chunks:
        if chunk.kind != "official summary":
            kinds.setdefault(chunk.source_id, chunk.kind)
    started = time.perf_counter()
    results: list[QuestionResult] = []
    total = len(questions) * len(runs)
    for mode, answerer, ranker in runs:
        asking = (others or {})[ranker] if ranker else assistant
        for question in questions:
            results.append(evaluate_one(asking, question, mode, k, source_kind(question, kinds), answerer, ranker))
            if progress:
                progress(len(results), total)
    manifest = assistant.index.manifest
    return EvalRun(
        results,
        [run_name(mode, answerer, ranker) for mode, answerer, ranker in runs],
        k,
        sorted({q.set_name for q in questions}),
        len(questions),
        time.perf_counter() - started,
        IndexInfo(
            generation=manifest.generation,
            documents=manifest.documents,
            chunks=manifest.chunks,
            model=manifest.model,
            provider=manifest.provider,
            backend=manifest.backend,
            built_at=manifest.built_at,
        ),
        assistant.settings.abstain_threshold,
    )


@dataclass(frozen=True)
class Summary:
    """The metrics of a group of results from one retriever (None where a metric is undefined for the group)."""

    questions: int
    answerable: int
    recall_at_1: float | None = None
    recall_at_3: float | None = None
    recall_at_5: float | None = None
    recall_at_10: float | None = None
    mrr: float | None = None
    ndcg: float | None = None
    citation_accuracy_first: float | None = None
    citation_accuracy_any: float | None = None
    keyword_hit_rate: float | None = None
    lead_keyword_rate: float | None = None
    answerable_declined: float | None = None
    not_covered_declined: float | None = None
    abstention_precision: float | None = None
    abstention_recall: float | None = None
    abstention_accuracy: float | None = None
    answer_words_mean: float | None = None
    retrieval_ms_p50: float | None = None
    retrieval_ms_p95: float | None = None
    answer_ms_p50: float | None = None
    answer_ms_p95: float | None = None
    latency_ms_p50: float | None = None
    latency_ms_p95: float | None = None
    # language model answers (runs with --answerer llm)
    llm_answer_rate: float | None = None  # answered questions shown in the model's words
    fallback_rate: float | None = None  # answered questions where the quoted answer stood in
    sentences_drafted: float | None = None
    sentences_kept: float | None = None
    sentences_dropped: float | None = None
    in_question_language: float | None = None  # answered non-English questions answered in their own language
    first_sentence_ms_p50: float | None = None
    first_sentence_ms_p95: float | None = None

    def value(self, metric: str) -> float | None:
        """One metric by its name (as gates files and reports name them)."""
        return getattr(self, metric)

    def to_dict(self) -> dict:
        """JSON-ready form (report.json)."""
        return {k: v for k, v in asdict(self).items() if v is not None or k.startswith(("recall_at_", "questions"))}


METRICS = tuple(f for f in Summary.__dataclass_fields__ if f not in ("questions", "answerable"))


def summarize(results: Sequence[QuestionResult]) -> Summary:
    """Aggregate metrics over a group of results from one retriever."""
    answerable = [r for r in results if r.answerable]
    recall_ks = sorted({int(n) for r in results for n in r.recall})
    abstention = metrics.abstention_scores([(r.answerable, r.abstained) for r in results])
    answered = [r for r in results if not r.abstained]
    latencies: dict[str, float | None] = {}
    for name in ("retrieval_ms", "answer_ms", "latency_ms"):
        values = [getattr(r, name) for r in results]
        latencies[f"{name}_p50"] = metrics.percentile(values, 50)
        latencies[f"{name}_p95"] = metrics.percentile(values, 95)
    recalls = {
        f"recall_at_{n}": metrics.mean([r.recall[str(n)] for r in answerable])
        for n in recall_ks
        if f"recall_at_{n}" in Summary.__dataclass_fields__
    }
    return Summary(
        questions=len(results),
        answerable=len(answerable),
        **recalls,
        mrr=metrics.mean([r.reciprocal_rank for r in answerable]),
        ndcg=metrics.mean([r.ndcg for r in answerable]),
        citation_accuracy_first=metrics.mean([float(r.first_citation_ok) for r in answerable]),
        citation_accuracy_any=metrics.mean([float(r.any_citation_ok) for r in answerable]),
        keyword_hit_rate=metrics.mean([r.keyword_score for r in answerable]),
        lead_keyword_rate=metrics.mean([None if r.lead_keyword is None else float(r.lead_keyword) for r in answerable]),
        answerable_declined=metrics.mean([float(r.abstained) for r in answerable]),
        not_covered_declined=metrics.mean(
            [float(r.abstained) for r in results if not r.answerable and r.topic != OUT_OF_SCOPE]
        ),
        abstention_precision=abstention["precision"],
        abstention_recall=abstention["recall"],
        abstention_accuracy=abstention["accuracy"],
        answer_words_mean=metrics.mean([float(r.answer_words) for r in answered]),
        **latencies,
        **(_llm_metrics(results) if any(r.answerer != "extractive" for r in results) else {}),
    )


def _llm_metrics(results: Sequence[QuestionResult]) -> dict[str, float | None]:
    answered = [r for r in results if not r.abstained]
    written = [r for r in answered if r.mode == "llm"]
    drafted = sum(r.drafted for r in answered)
    dropped = sum(len(r.dropped) for r in answered)
    firsts = [r.first_sentence_ms for r in written]
    return {
        "llm_answer_rate": metrics.mean([float(r.mode == "llm") for r in answered]),
        "fallback_rate": metrics.mean([float(r.mode != "llm") for r in answered]),
        "sentences_drafted": float(drafted),
        "sentences_kept": float(sum(r.drafted - len(r.dropped) for r in written)),
        "sentences_dropped": float(dropped),
        # of the answered questions not asked in English: English ones are answered in English either way
        "in_question_language": metrics.mean(
            [float(r.answer_language == r.language) for r in answered if r.language != "en"]
        ),
        "first_sentence_ms_p50": metrics.percentile(firsts, 50),
        "first_sentence_ms_p95": metrics.percentile(firsts, 95),
    }


def llm_details(results: Sequence[QuestionResult]) -> LlmDetails:
    """For a language model run: how many sentences each rule dropped, and why answers fell back."""
    dropped: Counter[str] = Counter(rule for r in results for rule in r.dropped)
    reasons: Counter[str] = Counter(r.fallback_reason for r in results if r.fallback_reason)
    return LlmDetails(dict(dropped.most_common()), dict(reasons.most_common()))


def breakdown(results: Sequence[QuestionResult], by: str) -> dict[str, dict[str, Summary]]:
    """summary[retriever][group] for `by` in ("topic", "source_kind", "set", "split")."""
    groups: dict[str, dict[str, list[QuestionResult]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        groups[r.run][getattr(r, by)].append(r)
    return {mode: {name: summarize(rs) for name, rs in sorted(by_group.items())} for mode, by_group in groups.items()}
