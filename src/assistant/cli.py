"""Command line: `cfsp-assistant ingest | ask | sources | eval | benchmark | feedback-export`.

Thin: each command translates options into a call, and domain errors become one-line messages."""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .config import Settings, load_settings
from .errors import AssistantError, QuestionError, os_error_message

if TYPE_CHECKING:
    from .embedding.embedder import Embedder

commands = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Cited answers about the EU's Common Foreign and Security Policy from the official texts.",
)
err = Console(stderr=True, soft_wrap=True)  # one-line messages stay one line, whatever the terminal width
out = Console()


def _verify_index(settings: Settings) -> None:
    """`ingest --verify`: the served generation checked as start-up and ingest check it; nothing is written."""
    from .errors import IndexDamagedError
    from .index.generations import require_manifest
    from .ingest.build import served_problem

    manifest = require_manifest(settings)
    problem = served_problem(settings, manifest, settings.embedding_backend)
    if problem is not None:
        raise IndexDamagedError(problem, "run `cfsp-assistant ingest` to repair it")
    out.print(
        f"index {manifest.generation} verified: {len(manifest.files)} files match the sha256 recorded when they "
        "were written, and the vector store answers",
        markup=False,
        highlight=False,
    )


@commands.command()
def ingest(
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Build a fresh generation even if nothing changed.")
    ] = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Only check the served index (every file against the sha256 its manifest recorded, the vector store "
            "readable) and change nothing; exit 1 naming what is wrong.",
        ),
    ] = False,
) -> None:
    """Build or update the index from the corpus folder (idempotent; the old index serves until the new one is ready).
    A damaged index (missing, truncated or altered files, a corrupt manifest or vector store) is rebuilt. The models
    the server loads are made ready too (the reader's built beside the embedding model's at first use)."""
    from .embedding.embedder import make_embedder

    settings = load_settings()
    if verify:
        _verify_index(settings)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        reader = _reader_beside(settings, pool)
        started = time.perf_counter()
        embedder = make_embedder(settings)  # the first use extracts the packaged weights and builds the ONNX file
        model_s = time.perf_counter() - started
        if not json_output:
            err.print(f"embedding model ready in {model_s:.1f} s", markup=False, highlight=False)
        _ingest_with_progress(settings, embedder, json_output, rebuild)
        reader_s = reader.result()  # its error, if any, is the command's, after the ingest: the server would stop on it
        if reader_s is not None and not json_output:
            err.print(f"reader model ready in {reader_s:.1f} s", markup=False, highlight=False)


def _reader_beside(settings: Settings, pool: ThreadPoolExecutor) -> Future[float | None]:
    """When the ranker reads, the reader's files made ready in the pool while the embedding model is (its seconds):
    each is built in a child process at first use, mostly on one core, so a first run waits for the longer of the two
    rather than for both, and the server then starts without building anything."""
    from .answer.rank import make_ranker
    from .answer.reader import prepare_reader

    def prepare() -> float | None:
        started = time.perf_counter()
        if not make_ranker(settings.ranker).reads:
            return None
        prepare_reader(settings.models_dir)
        return time.perf_counter() - started

    return pool.submit(prepare)


def _ingest_with_progress(settings: Settings, embedder: Embedder, json_output: bool, rebuild: bool) -> None:
    """Run the ingest, with a progress bar on a terminal (a line per tenth of each stage otherwise), and print its
    report."""
    from .ingest.build import ingest as run_ingest

    plain = not json_output and not err.is_terminal  # a log file gets a line per tenth of each stage instead of a bar
    shown: dict[str, int] = {}  # stage -> the last tenth printed
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=json_output or not err.is_terminal,
    ) as bar:
        task = bar.add_task("reading corpus", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)
            tenth = done * 10 // total if total else 0
            if plain and tenth > shown.get(stage, -1):
                shown[stage] = tenth
                err.print(f"{stage} {done}/{total}", markup=False, highlight=False)

        report = run_ingest(settings, embedder, progress=progress, rebuild=rebuild)
    if json_output:
        out.print_json(json.dumps(report.to_dict()))
        return
    if report.repaired:
        err.print(f"repaired: {report.repaired}", markup=False, highlight=False)
    state = (
        "unchanged: nothing to do"
        if report.unchanged
        else f"{report.added} chunks added, {report.removed} removed, {report.embedded} embedded"
    )
    out.print(
        f"[bold]Indexed {report.documents} documents, {report.chunks} chunks[/] ({state}) in {report.seconds:.1f} s; "
        f"serving generation {report.generation}"
    )
    out.print("time: " + ", ".join(f"{stage} {s:.1f} s" for stage, s in report.stages.items()), highlight=False)
    table = Table("source", "chunks", box=None)
    for source, n in report.per_source.items():
        table.add_row(source, str(n))
    out.print(table)
    for path, reason in report.skipped:
        out.print(f"[yellow]skipped[/] {path}: {reason}")


@commands.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in quotes.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the Answer record as JSON.")] = False,
    top_k: Annotated[int, typer.Option(min=1, max=50, help="Passages to retrieve.")] = 5,
    mode: Annotated[
        str,
        typer.Option(
            help="auto (the language model when CFSP_LLM_BASE_URL is set), extractive (quoted) or llm (worded by "
            "the language model, every sentence checked)."
        ),
    ] = "auto",
) -> None:
    """Answer one question with citations to the official texts."""
    from .pipeline import ANSWERERS, NO_LLM, Assistant
    from .question.validation import validate_question

    settings = load_settings()
    validate_question(question, settings.max_question_chars)
    if mode not in ANSWERERS:
        raise QuestionError(f"unknown --mode {mode!r}; allowed: {', '.join(ANSWERERS)}")
    if mode == "llm" and not settings.llm_base_url:
        raise QuestionError(NO_LLM)
    answer = Assistant.from_settings(settings).ask(question, top_k=top_k, answerer=mode)
    if json_output:
        out.print_json(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    out.print(answer.text, markup=False, highlight=False)
    if answer.citations:
        out.print()
        for c in answer.citations:
            link = f"{c.url} ({c.local_url})" if c.local_url else c.url
            out.print(f"[{c.n}] {c.label} — {link}", markup=False, highlight=False)
    sources = "the official texts" if answer.official_only else "the sources above, not all of them official texts"
    if answer.mode == "llm":
        err.print(
            f"Written by {answer.model} from {sources}; every sentence checked against its source.",
            markup=False,
            highlight=False,
        )
    elif answer.fallback_reason:
        err.print(
            f"Quoted from {sources}: {answer.model}'s answer was not shown ({answer.fallback_reason}).",
            markup=False,
            highlight=False,
        )


@commands.command()
def sources(json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """List what is indexed: documents, kinds, dates, chunk counts and official links."""
    from dataclasses import asdict

    from .index.generations import require_manifest

    settings = load_settings()
    manifest = require_manifest(settings)
    if json_output:
        out.print_json(json.dumps([asdict(s) for s in manifest.sources], ensure_ascii=False))
        return
    table = Table("source", "kind", "date", "citation", "link", box=None)
    for s in manifest.sources:
        table.add_row(s.source_id, s.kind, s.date, s.citation, s.url)
    out.print(table)
    out.print(
        f"{manifest.documents} documents, {manifest.chunks} chunks, model {manifest.model}, "
        f"generation {manifest.generation}, built {manifest.built_at}"
    )


@commands.command("eval")
def evaluate(
    sets: Annotated[
        list[Path], typer.Argument(help="Question sets (JSONL files, or folders of them), e.g. eval/questions.")
    ],
    k: Annotated[
        int, typer.Option("--k", min=1, max=50, help="Passages retrieved per question (recall@n up to k).")
    ] = 10,
    retrievers: Annotated[
        str, typer.Option(help="Comma-separated retrieval strategies to compare.")
    ] = "bm25,dense,hybrid",
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for report.md, report.json, per_question.jsonl, retrievers.png.")
    ] = Path("eval/reports/latest"),
    gates_file: Annotated[
        Path | None, typer.Option("--gates", help="TOML file of gates (see eval/gates.toml).")
    ] = None,
    answerers: Annotated[
        str,
        typer.Option(
            "--answerer",
            help="Comma-separated answerers: extractive (quoted) and/or llm (the language model set by "
            "CFSP_LLM_BASE_URL, every sentence checked; its runs are named like hybrid+llm).",
        ),
    ] = "extractive",
    gate_retriever: Annotated[
        str, typer.Option(help="Run the gates apply to: a retriever (its quoted answers) or e.g. hybrid+llm.")
    ] = "hybrid",
    rankers: Annotated[
        str,
        typer.Option(
            help="Comma-separated rankers to compare on the same index (reader, rules, learned); runs of a ranker "
            "other than CFSP_RANKER are named like hybrid/rules. Default: the configured one only."
        ),
    ] = "",
    min_recall_at_5: Annotated[float | None, typer.Option(help="Fail below this recall@5.")] = None,
    min_mrr: Annotated[float | None, typer.Option(help="Fail below this MRR@k.")] = None,
    min_citation_accuracy: Annotated[
        float | None, typer.Option(help="Fail below this first-citation accuracy.")
    ] = None,
    min_keyword_hit_rate: Annotated[float | None, typer.Option(help="Fail below this keyword hit rate.")] = None,
    min_abstention_accuracy: Annotated[float | None, typer.Option(help="Fail below this abstention accuracy.")] = None,
) -> None:
    """Evaluate retrieval, citations and abstention on question sets; exit 1 when a gate fails."""
    from .evaluation import gates as gating
    from .evaluation.report import fmt
    from .evaluation.runner import run_name
    from .evaluation.suite import check_gates_apply, load_questions
    from .evaluation.suite import evaluate as run_suite
    from .pipeline import Assistant

    modes = [m.strip() for m in retrievers.split(",") if m.strip()]
    answered_by = [a.strip() for a in answerers.split(",") if a.strip()]
    unknown = [a for a in answered_by if a not in ("extractive", "llm")]
    if unknown or not answered_by:
        raise AssistantError(f"unknown --answerer {', '.join(unknown) or '(none)'}; allowed: extractive, llm")
    settings = load_settings()
    if "llm" in answered_by and not settings.llm_base_url:
        raise AssistantError("--answerer llm needs a language model: set CFSP_LLM_BASE_URL (and CFSP_LLM_MODEL)")
    bounds: dict[str, float] = {}
    if gates_file is not None:
        gate_retriever, bounds = gating.load_gates(gates_file)
    flags = {
        "recall_at_5": min_recall_at_5,
        "mrr": min_mrr,
        "citation_accuracy_first": min_citation_accuracy,
        "keyword_hit_rate": min_keyword_hit_rate,
        "abstention_accuracy": min_abstention_accuracy,
    }
    bounds.update({name: value for name, value in flags.items() if value is not None})
    check_gates_apply(
        bounds,
        gate_retriever,
        [run_name(m, a) for a in answered_by for m in modes]
        + [
            run_name(m, "extractive", r.strip())
            for r in rankers.split(",")
            if r.strip() and r.strip() != settings.ranker
            for m in modes
        ],
    )
    from .answer.rank import RANKERS

    compared = [r.strip() for r in rankers.split(",") if r.strip()]
    unknown = [r for r in compared if r not in RANKERS]
    if unknown:
        raise AssistantError(f"unknown ranker {unknown[0]!r}; allowed: {', '.join(RANKERS)}")
    questions = load_questions(sets)  # validated before the model and index are loaded
    assistant = Assistant.from_settings(settings)
    others = {
        name: Assistant.from_settings(settings.model_copy(update={"ranker": name}), assistant.embedder)
        for name in dict.fromkeys(compared)
        if name != settings.ranker
    }
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        runs = len(modes) * (len(answered_by) + len(others))
        task = bar.add_task(f"{len(questions)} questions x {runs} runs", total=len(questions) * runs)
        outcome = run_suite(
            assistant,
            questions,
            out_dir,
            modes,
            k,
            bounds,
            gate_retriever,
            progress=lambda done, total: bar.update(task, completed=done),
            answerers=answered_by,
            others=others,
        )
    table = Table(
        "retriever", "R@1", "R@5", "R@10", f"MRR@{k}", "cite first", "keywords", "abst. acc.", "p95 ms", box=None
    )
    for mode, s in outcome.report.summary.items():
        table.add_row(
            mode,
            *(
                fmt(s.value(key))
                for key in (
                    "recall_at_1",
                    "recall_at_5",
                    "recall_at_10",
                    "mrr",
                    "citation_accuracy_first",
                    "keyword_hit_rate",
                    "abstention_accuracy",
                )
            ),
            fmt(s.latency_ms_p95, 1),
        )
    out.print(table)
    llm_runs = outcome.report.llm
    if llm_runs:
        llm_table = Table(
            "run", "model's words", "fallback", "written", "kept", "dropped by rule", "in language", "first p50 ms",
            "total p50 ms", box=None,
        )  # fmt: skip
        for name, details in llm_runs.items():
            s = outcome.report.summary[name]
            llm_table.add_row(
                name,
                fmt(s.llm_answer_rate),
                fmt(s.fallback_rate),
                str(int(s.sentences_drafted or 0)),
                str(int(s.sentences_kept or 0)),
                ", ".join(f"{rule} {n}" for rule, n in details.dropped_by_rule.items()) or "none",
                fmt(s.in_question_language),
                fmt(s.first_sentence_ms_p50, 0),
                fmt(s.latency_ms_p50, 0),
            )
        out.print(llm_table)
    out.print(f"{len(questions)} questions in {outcome.run.seconds:.1f} s; report in {out_dir / 'report.md'}")
    for g in outcome.gates:
        (out if g.passed else err).print(f"gate {g.describe()}", markup=False, highlight=False)
    if outcome.failed:
        err.print(f"quality gate failed: {', '.join(g.metric for g in outcome.failed)}", markup=False, highlight=False)
        raise typer.Exit(1)


@commands.command()
def benchmark(
    backends: Annotated[
        str,
        typer.Option(help="Embedding backends to measure side by side, comma-separated (torch, onnx, onnx-int8)."),
    ] = "",
    questions: Annotated[int, typer.Option(help="Warm questions to time (encode and answer).")] = 200,
    clients: Annotated[
        str, typer.Option(help="Load runs against the real server: client counts, comma-separated; '' for none.")
    ] = "1,16",
    seconds: Annotated[float, typer.Option(help="Seconds per load run.")] = 10.0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Measure each backend (default: CFSP_EMBEDDING_BACKEND) in a fresh data folder: cold ingest, unchanged
    re-ingest, question encode and answer latency, answers/s through the real server, start-up, memory; one table."""
    from .config import BACKENDS
    from .evaluation.benchmark import rows, run

    settings = load_settings()
    names = [b.strip() for b in backends.split(",") if b.strip()] or [settings.embedding_backend]
    unknown = [b for b in names if b not in BACKENDS]
    if unknown:
        raise AssistantError(f"unknown embedding backend {unknown[0]!r}; allowed: {', '.join(BACKENDS)}")
    try:
        counts = [int(c) for c in clients.split(",") if c.strip()]
    except ValueError:
        raise AssistantError(f"--clients takes client counts such as 1,16, not {clients!r}") from None
    if any(not 1 <= c <= 256 for c in counts) or not 1 <= seconds <= 600 or questions < 1:
        raise AssistantError("--clients must be 1-256, --seconds 1-600 and --questions at least 1")
    report = run(settings, names, questions=questions, clients=counts, seconds=seconds)
    if json_output:
        out.print_json(json.dumps(report))
        return
    table = Table("", *names, box=None)
    for label, cells in rows(report):
        table.add_row(label, *cells)
    out.print(table)


train = typer.Typer(no_args_is_help=True, help="Train the relevance models on questions written from the texts.")
commands.add_typer(train, name="train")
TRAINING_DATA = Path("models/training")
TRAIN_ALL_WORK = Path(".data/training")  # `train all`'s work folder: its dev index, which the other recipes reuse
DevWork = Annotated[
    Path,
    typer.Option(
        help="`train all`'s work folder: its dev index (an adapter trained on the training split only), made there "
        "when missing."
    ),
]


@train.command("list")
def train_list(
    out_path: Annotated[Path, typer.Option("--out", help="JSONL file to write, one provision per line.")],
) -> None:
    """Write every quotable provision with its stable id (what training questions are tied to)."""
    from .training.listing import list_provisions, write_listing

    entries = list_provisions(load_settings())
    write_listing(entries, out_path)
    err.print(f"{len(entries)} provisions written to {out_path}", markup=False, highlight=False)


@train.command("all")
def train_all(
    questions: Annotated[Path, typer.Option(help="Folder of training question files (*.jsonl).")] = TRAINING_DATA
    / "questions",
    evaluation: Annotated[
        str, typer.Option(help="Evaluation question folders, comma-separated (kept apart by similarity).")
    ] = "eval/questions",
    adapter_out: Annotated[Path, typer.Option(help="Where the embedding adapter goes.")] = Path("models/cfsp-minilm"),
    ranker_out: Annotated[Path, typer.Option(help="Where the ranker goes.")] = Path("models/ranker/ranker.json"),
    work: Annotated[Path, typer.Option(help="Work folder for the dev models and index.")] = TRAIN_ALL_WORK,
    seed: Annotated[int, typer.Option(help="Seed for the split, the sampling and the training.")] = 13,
    epochs: Annotated[int, typer.Option(help="Epochs of adapter training.")] = 2,
    curve: Annotated[str, typer.Option(help="Learning-curve sizes besides all, comma-separated.")] = "1000,2000",
) -> None:
    """The whole recipe with fixed seeds: learning curve on a dev split by document, the ranker chosen on dev, then
    the shipped adapter trained on all questions (see models/cfsp-minilm/MODEL_CARD.md)."""
    from .training.encoder import EncoderRecipe
    from .training.workflow import Plan
    from .training.workflow import train_all as run

    files = tuple(sorted(questions.glob("*.jsonl")))
    if not files:
        raise AssistantError(f"no training question files (*.jsonl) in {questions}")
    sizes = tuple(int(c) for c in curve.split(",") if c.strip())
    plan = Plan(
        files,
        tuple(Path(p.strip()) for p in evaluation.split(",") if p.strip()),
        adapter_out,
        ranker_out,
        work,
        seed=seed,
        recipe=EncoderRecipe(epochs=epochs, seed=seed),
        curve=sizes,
    )
    run(load_settings(), plan, lambda line: err.print(line, markup=False, highlight=False))


@train.command("reader")
def train_reader(
    questions: Annotated[Path, typer.Option(help="Folder of training question files (*.jsonl).")] = TRAINING_DATA
    / "questions",
    evaluation: Annotated[
        str, typer.Option(help="Evaluation question folders, comma-separated (kept apart by similarity).")
    ] = "eval/questions",
    out: Annotated[Path, typer.Option(help="Where the reader goes.")] = Path("models/reader"),
    work: Annotated[Path, typer.Option(help="Work folder for the dev readers.")] = Path(".data/training-reader"),
    dev_work: DevWork = TRAIN_ALL_WORK,
    seed: Annotated[int, typer.Option(help="Seed for the split, the sampling and the training.")] = 13,
    curve: Annotated[str, typer.Option(help="Learning-curve sizes besides all, comma-separated.")] = "1000,2000",
    layers: Annotated[
        int | None,
        typer.Option(help="How many of the packaged model's layers the reader keeps (default: the recipe's)."),
    ] = None,
    words: Annotated[
        int | None,
        typer.Option(
            help="Read a provision longer than this many words as its most relevant sentences; 0 reads it from its "
            "start (default: the recipe's)."
        ),
    ] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option(help="Tokens the reader reads of a question and provision together (default: the recipe's)."),
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Passes over the training groups (default: the recipe's).")] = None,
) -> None:
    """The reader's recipe with fixed seeds: dev readers on a split by document, trained and measured on the
    candidates of `train all`'s dev index (made in --dev-work when missing), the settings chosen on dev, then the
    shipped reader trained on all questions with the candidates of the index in CFSP_DATA_DIR (ingest first; see
    models/reader/MODEL_CARD.md)."""
    from .training.encoder import EncoderRecipe
    from .training.reader_fit import ReaderRecipe
    from .training.reader_workflow import ReaderPlan, train_reader_all

    files = tuple(sorted(questions.glob("*.jsonl")))
    if not files:
        raise AssistantError(f"no training question files (*.jsonl) in {questions}")
    plan = ReaderPlan(
        files,
        tuple(Path(p.strip()) for p in evaluation.split(",") if p.strip()),
        out,
        work,
        dev_work,
        seed=seed,
        adapter_recipe=EncoderRecipe(seed=seed),
        recipe=ReaderRecipe(
            layers=ReaderRecipe.layers if layers is None else layers,
            words=ReaderRecipe.words if words is None else words,
            max_tokens=ReaderRecipe.max_tokens if max_tokens is None else max_tokens,
            epochs=ReaderRecipe.epochs if epochs is None else epochs,
            seed=seed,
        ),
        curve=tuple(int(c) for c in curve.split(",") if c.strip()),
    )
    train_reader_all(load_settings(), plan, lambda line: err.print(line, markup=False, highlight=False))


@train.command("answerable")
def train_answerable(
    questions: Annotated[Path, typer.Option(help="Folder of training question files (*.jsonl).")] = TRAINING_DATA
    / "questions",
    evaluation: Annotated[
        str, typer.Option(help="Evaluation question folders, comma-separated (kept apart by similarity).")
    ] = "eval/questions",
    out: Annotated[Path, typer.Option(help="Where the model goes.")] = Path("models/answerable/answerable.json"),
    dev_work: DevWork = TRAIN_ALL_WORK,
    seed: Annotated[int, typer.Option(help="Seed for the split and the fit.")] = 13,
    curve: Annotated[str, typer.Option(help="Learning-curve sizes besides all, comma-separated.")] = "1000,2000",
) -> None:
    """The answerability model's recipe with fixed seeds, on the index in CFSP_DATA_DIR (ingest first): fitted on a
    split by document, its strength and threshold chosen on dev, the same fit also measured on `train all`'s dev
    index (see models/answerable/MODEL_CARD.md)."""
    from .training.answerable_workflow import AnswerablePlan
    from .training.answerable_workflow import train_answerable as run

    files = tuple(sorted(questions.glob("*.jsonl")))
    if not files:
        raise AssistantError(f"no training question files (*.jsonl) in {questions}")
    plan = AnswerablePlan(
        files,
        tuple(Path(p.strip()) for p in evaluation.split(",") if p.strip()),
        out,
        dev_work,
        seed=seed,
        curve=tuple(int(c) for c in curve.split(",") if c.strip()),
    )
    run(load_settings(), plan, lambda line: err.print(line, markup=False, highlight=False))


@commands.command("feedback-export")
def feedback_export(
    out_path: Annotated[str, typer.Option("--out", help="File to write, or - for standard output.")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl (one JSON object per line) or csv.")] = "jsonl",
) -> None:
    """Export the ratings and comments people gave on the chat page (question, answer, citations, rating, time)."""
    from .serve.feedback import FORMATS, FeedbackStore, feedback_path

    if fmt not in FORMATS:
        raise AssistantError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
    path = feedback_path(load_settings())
    if not path.is_file():
        raise AssistantError(f"no feedback recorded yet: {path} does not exist (the chat page creates it)")
    try:
        count = FeedbackStore(path).export(out_path, fmt)
    except OSError as exc:
        raise AssistantError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    err.print(f"exported {count} ratings to {out_path} ({fmt})", markup=False, highlight=False)


def main() -> None:
    """Console-script entry point: domain errors print one line and exit 1."""
    try:
        commands()
    except AssistantError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(1)
    except OSError as exc:  # an unwritable data folder, a path under a regular file ...: one line, not a traceback
        err.print(f"error: {os_error_message(exc)}", markup=False, highlight=False)
        sys.exit(1)
