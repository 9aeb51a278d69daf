"""Command line: `cfsp-assistant ingest | ask | sources | benchmark`. Thin: errors become one-line messages."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .config import Settings
from .errors import AssistantError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Cited answers about the EU's Common Foreign and Security Policy from the official texts.")
err = Console(stderr=True)
out = Console()


def _settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"CFSP_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise AssistantError(f"invalid settings: {problems}") from None


@app.command()
def ingest(json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False) -> None:
    """Build or update the index from the corpus folder (idempotent; the old index serves until the new one is ready)."""
    from .embeddings import make_embedder
    from .ingest import ingest as run_ingest

    settings = _settings()
    embedder = make_embedder(settings)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=json_output or not err.is_terminal) as bar:
        task = bar.add_task("reading corpus", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        report = run_ingest(settings, embedder, progress=progress)
    if json_output:
        out.print_json(json.dumps(report.to_dict()))
        return
    state = "unchanged: nothing to do" if report.unchanged else \
        f"{report.added} chunks added, {report.removed} removed, {report.embedded} embedded"
    out.print(f"[bold]Indexed {report.documents} documents, {report.chunks} chunks[/] ({state}) in {report.seconds:.1f} s")
    table = Table("source", "chunks", box=None)
    for source, n in report.per_source.items():
        table.add_row(source, str(n))
    out.print(table)
    for path, reason in report.skipped:
        out.print(f"[yellow]skipped[/] {path}: {reason}")


@app.command()
def ask(question: Annotated[str, typer.Argument(help="Your question, in quotes.")],
        json_output: Annotated[bool, typer.Option("--json", help="Print the Answer record as JSON.")] = False,
        top_k: Annotated[int, typer.Option(min=1, max=50, help="Passages to retrieve.")] = 5) -> None:
    """Answer one question with citations to the official texts."""
    from .pipeline import Assistant, validate_question

    settings = _settings()
    validate_question(question, settings.max_question_chars)
    answer = Assistant.from_settings(settings).ask(question, top_k=top_k)
    if json_output:
        out.print_json(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    out.print(answer.text, markup=False, highlight=False)
    if answer.citations:
        out.print()
        for c in answer.citations:
            out.print(f"[{c.n}] {c.label} — {c.url}", markup=False, highlight=False)


@app.command()
def sources(json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """List what is indexed: documents, kinds, dates, chunk counts and official links."""
    from .index import read_manifest
    from .errors import IndexMissingError

    settings = _settings()
    manifest = read_manifest(settings)
    if manifest is None:
        raise IndexMissingError(f"no index in {settings.data_dir}: build it with `cfsp-assistant ingest`")
    rows = manifest["sources"]
    if json_output:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table("source", "kind", "date", "citation", "link", box=None)
    for r in rows:
        table.add_row(r["source_id"], r["kind"], r["date"], r["citation"], r["url"])
    out.print(table)
    out.print(f"{manifest['documents']} documents, {manifest['chunks']} chunks, model {manifest['model']}, "
              f"built {manifest['built_at']}")


@app.command()
def benchmark(
    questions: Annotated[int, typer.Option(help="Warm queries to time.")] = 200,
    cold: Annotated[bool, typer.Option(help="Also time a cold full ingest into a fresh data folder.")] = True,
) -> None:
    """Measure ingest time, re-ingest time, query latency and serving memory; prints a JSON report."""
    from .benchmark import run

    out.print_json(json.dumps(run(_settings(), questions=questions, cold=cold)))


def main() -> None:
    """Console-script entry point: domain errors print one line and exit 1."""
    try:
        app()
    except AssistantError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(1)
