"""The `Assistant`: the parts built once, the engine on the served generation, and the questions asked of it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict
from functools import partial

import numpy as np

from ..answer.decide import RESERVE_PASSAGES
from ..config import Settings
from ..embedding.embedder import Embedder, make_embedder
from ..events import Event
from ..index.generations import Index, require_manifest
from ..llm.client import LanguageModel
from ..question.conversation import Turn
from ..question.languages import LanguageDetector
from ..question.query import Query
from ..retrieval.retriever import Retrieval
from ..types import Answer
from .ask import answer_stream
from .engine import Engine, Parts, build_engine, open_index
from .watcher import IndexWatcher


class Assistant:
    """Answers questions from the served index; shared by the CLI, the chat page, the API and evaluation.

    A long-running server calls `watch()`: the assistant then renews its lease on the generation it serves and
    moves to a newer generation by itself when an ingest switches the manifest, without a restart. Requests in
    flight finish on the generation they started with."""

    def __init__(self, settings: Settings, embedder: Embedder, index: Index):
        self.parts = parts = Parts.from_settings(settings, embedder)
        self.watcher = IndexWatcher(
            settings,
            build_engine(parts, index),
            build=partial(build_engine, parts),
            load=partial(open_index, settings, embedder),
        )

    @classmethod
    def from_settings(cls, settings: Settings, embedder: Embedder | None = None) -> Assistant:
        """Load the index (once) and the model; raises an IndexUnusableError saying how to build or repair it.
        Without an index that error comes before the model is loaded (seconds, or a minute at its first export)."""
        manifest = require_manifest(settings)
        embedder = embedder or make_embedder(settings)
        return cls(settings, embedder, open_index(settings, embedder, manifest))

    @property
    def settings(self) -> Settings:
        """The settings it was built with."""
        return self.parts.settings

    @property
    def embedder(self) -> Embedder:
        """The embedding model."""
        return self.parts.embedder

    @property
    def llm(self) -> LanguageModel | None:
        """The language model, when one is configured."""
        return self.parts.llm

    @property
    def languages(self) -> LanguageDetector:
        """The question-language detector."""
        return self.parts.languages

    @property
    def engine(self) -> Engine:
        """The stages answering new questions now."""
        return self.watcher.engine

    @property
    def index(self) -> Index:
        """The generation answering questions now."""
        return self.watcher.engine.index

    @property
    def problem(self) -> str | None:
        """Why the served index cannot answer, while it cannot."""
        return self.watcher.problem

    def understand(self, question: str, history: Iterable[Turn | Mapping] | None = None) -> Query:
        """The `Query` record for a question in its conversation (what is searched, what the answer must hold)."""
        return self.engine.question.analyse(question, history)

    def candidates(
        self, question: str, history: Iterable[Turn | Mapping] | None = None, mode: str = "hybrid"
    ) -> tuple[Query, Retrieval, list]:
        """The question understood, its retrieval and the scored candidate provisions the answer would choose from
        (what the ranker is trained and inspected on)."""
        with self.watcher.using() as engine:
            query = engine.question.analyse(question, history)
            retrieval = engine.retriever.search(query, RESERVE_PASSAGES, mode)
            return query, retrieval, engine.answerer.candidates(query, retrieval)

    def answerability_row(self, question: str, history: Iterable[Turn | Mapping] | None = None) -> np.ndarray:
        """What the answerability model reads of a question (its vector and its evidence; what it is trained on)."""
        with self.watcher.using() as engine:
            query = engine.question.analyse(question, history)
            retrieval = engine.retriever.search(query, RESERVE_PASSAGES, "hybrid")
            return engine.answerer.decider.row(query, retrieval, engine.answerer.candidates(query, retrieval))

    def search(
        self, question: str, k: int = 5, mode: str = "hybrid", history: Iterable[Turn | Mapping] | None = None
    ) -> Retrieval:
        """The k best passages for a question (what the answer is composed from), without composing it."""
        with self.watcher.using() as engine:
            return engine.retriever.search(engine.question.analyse(question, history), k, mode)

    def ask(
        self,
        question: str,
        top_k: int | None = None,
        mode: str = "hybrid",
        history: Iterable[Turn | Mapping] | None = None,
        answerer: str = "auto",
    ) -> Answer:
        """A cited answer (or an abstention) for one question, read in the context of the earlier turns.
        `top_k` is how many passages are retrieved (and returned in `hits`); the answer itself is always built
        from the best `settings.top_k` of them, so a larger `top_k` only adds evidence to inspect. `answerer`:
        extractive (quoted), llm (worded by the language model, checked) or auto (llm when one is configured)."""
        answer: Answer | None = None
        for event in self.ask_stream(question, top_k, mode, history, answerer):
            answer = event.answer or answer
        assert answer is not None  # the stream always ends with the answer
        return answer

    def ask_stream(
        self,
        question: str,
        top_k: int | None = None,
        mode: str = "hybrid",
        history: Iterable[Turn | Mapping] | None = None,
        answerer: str = "auto",
    ) -> Iterator[Event]:
        """The answer as it is made: checked sentences as a language model's answer passes them, then the answer.
        A quoted answer comes in one piece. The request holds the generation it started on until it ends, model
        calls included: a generation switched away from meanwhile is closed only after its last request."""

        def unusable(problem: str) -> None:
            self.watcher.problem = problem

        with self.watcher.using() as engine:
            yield from answer_stream(engine, question, top_k, mode, history, answerer, unusable)

    def sources(self) -> list[dict]:
        """What is indexed: one row per document with its chunk count."""
        index = self.index
        counts = Counter((c.source_id, c.kind) for c in index.chunks)
        return [{**asdict(src), "chunks": counts[(src.source_id, src.kind)]} for src in index.manifest.sources]

    # following the index while serving: see watcher.py

    def refresh(self) -> bool:
        """Move to the generation the manifest names if it is not the one served; True when it switched."""
        return self.watcher.refresh()

    def check(self) -> str | None:
        """Why the served index cannot answer now (its folder or vector store is gone), or None when it can."""
        return self.watcher.check()

    def watch(self, interval: float | None = None) -> None:
        """Follow the index in a background thread: renew the lease and switch to new generations."""
        self.watcher.watch(interval)

    def unwatch(self) -> None:
        """Stop following the index (the lease stays until `close`)."""
        self.watcher.unwatch()

    def close(self) -> None:
        """Stop watching and give up the lease (the generation may then be cleaned up by the next ingest)."""
        self.watcher.close()

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
