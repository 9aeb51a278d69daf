"""The composition root: wires settings, model, index, retriever and answerer into one `Assistant`."""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace

from threadpoolctl import threadpool_limits

from .answer.answerer import Answerer
from .answer.compose import Composer
from .answer.decide import RESERVE_PASSAGES, Decider, other_language
from .answer.features import Features, idf_of
from .answer.rank import make_ranker
from .answer.reader import Reader
from .config import Settings
from .embedding.embedder import Embedder, make_embedder
from .errors import IndexDamagedError, IndexMismatchError, IndexMissingError, IndexUnusableError, QuestionError
from .index.generations import Index, IndexManifest, Lease, load_index, manifest_stamp, read_manifest
from .index.vocabulary import english_words
from .ingest.catalogue import load_glossary, load_qualifiers, load_words
from .llm.checking import Checker
from .llm.client import LLMError, make_language_model
from .llm.writer import Event, Writer, localized
from .question.conversation import Turn, is_follow_up, keeps_topic, validate_history
from .question.languages import LanguageDetector
from .question.query import Expander, Query, QueryAnalyser, Thesaurus
from .retrieval.retriever import Retrieval, Retriever
from .types import Answer

log = logging.getLogger(__name__)


def validate_question(question: str, max_chars: int) -> str:
    """The question stripped, or a QuestionError saying what is wrong with it."""
    from .question.validation import require_unicode

    if not isinstance(question, str) or not question.strip():
        raise QuestionError("the question is empty: type a question about EU foreign and security policy")
    question = require_unicode(question.strip(), "the question")
    if len(question) > max_chars:
        raise QuestionError(
            f"the question is {len(question)} characters long; the limit is {max_chars}. Please shorten it."
        )
    # Compatibility forms read as the letters they stand for: a question typed in full-width letters ("Ｗｈａｔ")
    # was taken for another language and declined. NFKC can lengthen a text (one ligature, many letters): the limit
    # holds after it too.
    question = unicodedata.normalize("NFKC", question)
    if len(question) > max_chars:
        raise QuestionError(f"the question is over {max_chars} characters long once its letters are spelt out")
    return question


ANSWERERS = ("auto", "extractive", "llm")
NO_LLM = "no language model is configured (set CFSP_LLM_BASE_URL), so answers can only be quoted: use mode extractive"


@dataclass(frozen=True)
class Engine:
    """One loaded generation with the analyser, retriever, answerer and (with a language model) writer built on it;
    swapped whole when the index changes."""

    index: Index
    analyser: QueryAnalyser
    retriever: Retriever
    answerer: Answerer
    writer: Writer | None = None


class Assistant:
    """Answers questions from the served index; shared by the CLI, the chat page, the API and evaluation.

    A long-running server calls `watch()`: the assistant then renews its lease on the generation it serves and
    moves to a newer generation by itself when an ingest switches the manifest, without a restart. Requests in
    flight finish on the generation they started with."""

    def __init__(self, settings: Settings, embedder: Embedder, index: Index):
        # numpy's BLAS threads and torch's threads fight over the same cores: a question's small matrix products
        # run on one BLAS thread so the model keeps its speed (measured: 57 ms -> 19 ms per question embedding)
        threadpool_limits(1, user_api="blas")
        self.settings = settings
        self.embedder = embedder
        self.expander = Expander(load_glossary(settings.glossary_path))
        self.words = load_words(settings.glossary_path)
        self.llm = make_language_model(settings)
        self.languages = LanguageDetector()
        self.english = english_words()
        self.ranker = make_ranker(settings.ranker)
        self.reader = Reader(settings.data_dir, threads=settings.embedding_threads) if self.ranker.reads else None
        self.qualifiers = load_qualifiers(settings.glossary_path)
        self._engine = self._build(index)
        self._lease: Lease | None = Lease(settings, index.generation)
        self._stamp = manifest_stamp(settings)
        self._swap = threading.Lock()
        # generations switched away from, with their leases, kept until their last request has finished
        self._retired: list[tuple[Engine, Lease | None]] = []
        self._users: dict[int, int] = {}  # requests in flight per engine (by id)
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.problem: str | None = None  # why the served index cannot answer, while it cannot

    def _build(self, index: Index) -> Engine:
        retriever = Retriever(index, self.embedder, self.settings.candidates, self.settings.rrf_k)
        thesaurus = Thesaurus(self.words, index.lexical.terms)
        analyser = QueryAnalyser(self.expander, thesaurus, index.vocabulary, retriever.treaty_articles, self.english)
        idf = idf_of(index.lexical.document_frequency, len(index.chunks))
        features = Features(
            index.sentences_of,
            index.by_id,
            index.lexical.terms,
            idf,
            passages=self.settings.top_k,
            siblings=index.unit_of,
        )
        decider = Decider(
            self.ranker,
            index.lexical.terms,
            self.settings.abstain_threshold,
            passages=self.settings.top_k,
            answers_at_all=self.settings.answers_at_all,
            rare=index.vocabulary.rare,
            unused=lambda term: index.lexical.document_frequency(term) == 0,
        )
        composer = Composer(self.ranker, index.lexical.terms, idf, index.by_id, qualifiers=self.qualifiers)
        answerer = Answerer(features, self.ranker, decider, composer, reader=self.reader)
        writer = None
        if self.llm is not None:
            writer = Writer(self.llm, Checker(), self.settings.llm_passages)
        return Engine(index, analyser, retriever, answerer, writer)

    def understand(self, question: str, history: Iterable[Turn | Mapping] | None = None) -> Query:
        """The `Query` record for a question in its conversation (what is searched, what the answer must hold)."""
        question = validate_question(question, self.settings.max_question_chars)
        turns = validate_history(history, self.settings.max_history_turns, self.settings.max_question_chars * 4)
        return self._engine.analyser.analyse(question, turns)

    @classmethod
    def from_settings(cls, settings: Settings, embedder: Embedder | None = None) -> "Assistant":
        """Load the index (once) and the model; raises an IndexUnusableError saying how to build or repair it."""
        embedder = embedder or make_embedder(settings)
        return cls(settings, embedder, cls._load(settings, embedder))

    @staticmethod
    def _load(settings: Settings, embedder: Embedder, manifest: IndexManifest | None = None) -> Index:
        index = load_index(settings, manifest, getattr(embedder, "backend", None))
        if index.manifest.dim != embedder.dim:
            index.close()
            raise IndexMismatchError(
                f"the index holds {index.manifest.dim}-dimensional vectors from {index.manifest.model!r}, but the "
                f"configured embedding model gives {embedder.dim}",
                "re-run `cfsp-assistant ingest` to rebuild it",
            )
        return index

    @property
    def index(self) -> Index:
        """The generation answering questions now."""
        return self._engine.index

    def candidates(
        self, question: str, history: Iterable[Turn | Mapping] | None = None, mode: str = "hybrid"
    ) -> tuple[Query, Retrieval, list]:
        """The question understood, its retrieval and the scored candidate provisions the answer would choose from
        (what the ranker is trained and inspected on)."""
        engine = self._acquire()
        try:
            query = self.understand(question, history)
            retrieval = engine.retriever.search(query, RESERVE_PASSAGES, mode)
            return query, retrieval, engine.answerer.candidates(query, retrieval)
        finally:
            self._release(engine)

    def search(
        self, question: str, k: int = 5, mode: str = "hybrid", history: Iterable[Turn | Mapping] | None = None
    ) -> Retrieval:
        """The k best passages for a question (what the answer is composed from), without composing it."""
        engine = self._acquire()
        try:
            return engine.retriever.search(self.understand(question, history), k, mode)
        finally:
            self._release(engine)

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
        engine = self._acquire()
        try:
            yield from self._ask_stream(engine, question, top_k, mode, history, answerer)
        finally:
            self._release(engine)

    def _acquire(self) -> Engine:
        with self._swap:
            engine = self._engine
            self._users[id(engine)] = self._users.get(id(engine), 0) + 1
            return engine

    def _release(self, engine: Engine) -> None:
        with self._swap:
            left = self._users[id(engine)] - 1
            if left:
                self._users[id(engine)] = left
            else:
                del self._users[id(engine)]
                self._close_idle()

    def _close_idle(self) -> None:
        """Close the retired generations no request holds any more and give up their leases (under `_swap`)."""
        keep = []
        for engine, lease in self._retired:
            if id(engine) in self._users:
                keep.append((engine, lease))
                continue
            engine.index.close()
            if lease is not None:
                lease.release()
        self._retired = keep

    def _ask_stream(
        self,
        engine: Engine,
        question: str,
        top_k: int | None,
        mode: str,
        history: Iterable[Turn | Mapping] | None,
        answerer: str,
    ) -> Iterator[Event]:
        started = time.perf_counter()
        question = validate_question(question, self.settings.max_question_chars)
        turns = validate_history(history, self.settings.max_history_turns, self.settings.max_question_chars * 4)
        if answerer not in ANSWERERS:
            raise QuestionError(f"unknown answer mode {answerer!r}; allowed: {', '.join(ANSWERERS)}")
        writer = engine.writer if answerer in ("auto", "llm") else None
        if answerer == "llm" and writer is None:
            raise QuestionError(NO_LLM)
        language = self.languages.detect(question)
        english = None
        if not language.english:
            if writer is None:  # the texts are English and only a model could bridge the languages
                yield Event("answer", answer=other_language(question, language, started))
                return
            try:
                english = writer.translate(question)
            except LLMError as exc:
                yield Event(
                    "answer",
                    answer=replace(
                        other_language(question, language, started), fallback_reason=str(exc), model=writer.model.name
                    ),
                )
                return
        rewritten = None
        if writer is not None and turns and is_follow_up(english or question):
            base = english or question
            try:  # the model's standalone wording is searched beside the built-in resolver's, never instead of it
                rewritten = writer.rewrite(base, [(t.role, t.content) for t in turns])
                if not keeps_topic(rewritten, base, turns):  # it lost the topic the conversation carries: unused
                    log.info("follow-up rewrite %r dropped the conversation's topic: not used", rewritten)
                    rewritten = None
            except LLMError as exc:
                log.info("follow-up not rewritten (%s): carrying the conversation's words instead", exc)
        query = engine.analyser.analyse(question, turns, english, rewritten)
        k = top_k or self.settings.top_k
        try:  # the answerer may look past the passages shown for a specific thing asked for: retrieve enough
            retrieval = engine.retriever.search(query, max(k, RESERVE_PASSAGES), mode)
        except (ValueError, QuestionError):
            raise
        except Exception as exc:  # the vector store failed under us: say so (503), and look for a usable index
            problem = engine.index.problem()
            if problem is None:
                raise
            self.problem = problem
            raise IndexDamagedError(f"the index being served is unusable: {problem}") from exc
        searched = time.perf_counter()
        quoted = engine.answerer.answer(query, retrieval)
        quoted = replace(
            quoted,
            question=question,
            hits=quoted.evidence(k),
            search_query=query.searched,
            also_searched=query.rewrite,
            corrections=query.corrections,
            language=language.code,
            citations=localized(quoted.citations, language.code),
            retrieval_ms=(searched - started) * 1000,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        if writer is None or quoted.abstained:
            yield Event("answer", answer=quoted)
            return
        # as deep as the quoted answer may have looked, so the provisions it quotes are among those given
        candidates = engine.answerer.candidates(query, retrieval, RESERVE_PASSAGES)
        passages = writer.given(candidates, quoted.citations)
        for event in writer.write(
            rewritten or (query.searched if english else question), language, passages, quoted, started
        ):
            if event.answer is not None:
                written = event.answer
                event = replace(
                    event,
                    answer=replace(
                        written, hits=written.evidence(k), latency_ms=(time.perf_counter() - started) * 1000
                    ),
                )
            yield event

    def sources(self) -> list[dict]:
        """What is indexed: one row per document with its chunk count."""
        index = self.index
        counts = Counter((c.source_id, c.kind) for c in index.chunks)
        return [{**asdict(src), "chunks": counts[(src.source_id, src.kind)]} for src in index.manifest.sources]

    # ------------------------------------------------------------ following the index while serving

    def refresh(self) -> bool:
        """Move to the generation the manifest names if it is not the one served; True when it switched.
        A new generation that cannot be loaded is not switched to (the old one keeps serving, if it can)."""
        with self._swap:
            self._close_idle()
            stamp = manifest_stamp(self.settings)
            if stamp == self._stamp and self.problem is None:
                return False
            self._stamp = stamp
            retiring = self._engine
            served = retiring.index
            try:
                manifest = read_manifest(self.settings)
                if manifest is None:
                    raise IndexMissingError(f"the index manifest in {self.settings.data_dir} has been removed")
                if manifest.generation == served.generation:
                    self.problem = served.problem()
                    return False
                index = self._load(self.settings, self.embedder, manifest)
            except IndexUnusableError as exc:
                self.problem = served.problem()
                log.warning("not switching to the new index: %s", exc)
                return False
            lease = Lease(self.settings, index.generation)
            self._engine = self._build(index)
            self.problem = None
            # the old generation (and its lease, so no ingest removes it) stays until its requests have finished
            self._retired.append((retiring, self._lease))
            self._lease = lease
            self._close_idle()
            log.info("now serving index generation %s (was %s)", index.generation, served.generation)
            return True

    def check(self) -> str | None:
        """Why the served index cannot answer now (its folder or vector store is gone), or None when it can."""
        self.problem = self.index.problem()
        return self.problem

    def watch(self, interval: float | None = None) -> None:
        """Follow the index in a background thread: renew the lease and switch to new generations."""
        if self._watcher is not None:
            return
        interval = interval or self.settings.index_poll_seconds
        stop = self._stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self._renew()
                    self.refresh()
                except Exception:  # never let the watcher die: the next round tries again
                    log.exception("checking for a new index failed")

        self._watcher = threading.Thread(target=loop, name="index-watcher", daemon=True)
        self._watcher.start()

    def _renew(self) -> None:
        """Keep the leases of the served generation and of the retired ones still answering requests alive."""
        with self._swap:
            for lease in [self._lease, *(held for _, held in self._retired)]:
                if lease is not None:
                    lease.renew()

    def __enter__(self) -> "Assistant":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def unwatch(self) -> None:
        """Stop following the index (the lease stays until `close`)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(5)
            self._watcher = None

    def close(self) -> None:
        """Stop watching and give up the lease (the generation may then be cleaned up by the next ingest)."""
        self.unwatch()
        with self._swap:
            for _, lease in self._retired:
                if lease is not None:
                    lease.release()
            if self._lease is not None:
                self._lease.release()
                self._lease = None
