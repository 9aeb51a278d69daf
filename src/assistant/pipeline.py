"""The composition root: wires settings, model, index, retriever and answerer into one `Assistant`."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace

from threadpoolctl import threadpool_limits

from .answering import Answerer
from .catalogue import load_glossary
from .config import Settings
from .conversation import Turn, resolve, validate_history
from .embeddings import Embedder, make_embedder
from .errors import IndexMissingError, QuestionError
from .index import Index, load_index
from .query import Expander, proper_names
from .retrieval import Retriever
from .types import Answer


def validate_question(question: str, max_chars: int) -> str:
    """The question stripped, or a QuestionError saying what is wrong with it."""
    from .validation import require_unicode

    if not isinstance(question, str) or not question.strip():
        raise QuestionError("the question is empty: type a question about EU foreign and security policy")
    question = require_unicode(question.strip(), "the question")
    if len(question) > max_chars:
        raise QuestionError(f"the question is {len(question)} characters long; the limit is {max_chars}. Please shorten it.")
    return question


class Assistant:
    """Answers questions from one loaded index; shared by the CLI, the chat page, the API and evaluation."""

    def __init__(self, settings: Settings, embedder: Embedder, index: Index):
        # numpy's BLAS threads and torch's threads fight over the same cores: a question's small matrix products
        # run on one BLAS thread so the model keeps its speed (measured: 57 ms -> 19 ms per question embedding)
        threadpool_limits(1, user_api="blas")
        self.settings = settings
        self.embedder = embedder
        self.index = index
        self.retriever = Retriever(index, embedder, Expander(load_glossary(settings.glossary_path)),
                                   settings.candidates, settings.rrf_k)
        self.answerer = Answerer(index.sentences_of, index.by_id, index.lexical.terms, settings.abstain_threshold,
                                 settings.answer_sentences, passages=settings.top_k,
                                 unknown_names=lambda text: index.lexical.unknown(proper_names(text)))

    @classmethod
    def from_settings(cls, settings: Settings, embedder: Embedder | None = None) -> "Assistant":
        """Load the index (once) and the model; raises IndexMissingError with the command to build it."""
        index = load_index(settings)
        embedder = embedder or make_embedder(settings)
        built_dim = index.manifest.get("dim")
        if built_dim is not None and built_dim != embedder.dim:
            raise IndexMissingError(
                f"the index holds {built_dim}-dimensional vectors from {index.manifest.get('model')!r}, but the configured "
                f"embedding model gives {embedder.dim}: re-run `cfsp-assistant ingest` to rebuild it")
        return cls(settings, embedder, index)

    def ask(self, question: str, top_k: int | None = None, mode: str = "hybrid",
            history: Iterable[Turn | Mapping] | None = None) -> Answer:
        """A cited answer (or an abstention) for one question, read in the context of the earlier turns.
        `top_k` is how many passages are retrieved (and returned in `hits`); the answer itself is always built
        from the best `settings.top_k` of them, so a larger `top_k` only adds evidence to inspect."""
        started = time.perf_counter()
        question = validate_question(question, self.settings.max_question_chars)
        turns = validate_history(history, self.settings.max_history_turns, self.settings.max_question_chars * 4)
        query = resolve(question, turns)
        retrieval = self.retriever.search(query, top_k or self.settings.top_k, mode)
        searched = time.perf_counter()
        answer = self.answerer.answer(retrieval)
        return replace(answer, question=question, search_query=query, retrieval_ms=(searched - started) * 1000,
                       latency_ms=(time.perf_counter() - started) * 1000)

    def sources(self) -> list[dict]:
        """What is indexed: one row per document with its chunk count."""
        counts = Counter((c.source_id, c.kind) for c in self.index.chunks)
        return [{**src, "chunks": counts[(src["source_id"], src["kind"])]} for src in self.index.manifest.get("sources", [])]
