"""Wiring: the parts built once from the settings, and the engine built from them on one index generation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from threadpoolctl import threadpool_limits

from ..answer.answerable import AnswerabilityModel, load_answerable
from ..answer.answerer import Answerer
from ..answer.compose import Composer
from ..answer.decide import Decider
from ..answer.features import Features, idf_of
from ..answer.rank import Ranker, make_ranker
from ..answer.reader import Reader
from ..config import Settings
from ..embedding.embedder import Embedder
from ..errors import IndexMismatchError
from ..index.generations import Index, IndexManifest, load_index
from ..index.vocabulary import english_words
from ..ingest.catalogue import load_glossary, load_qualifiers, load_words
from ..llm.checking import Checker
from ..llm.client import LanguageModel, make_language_model
from ..llm.writer import Writer
from ..question.languages import LanguageDetector
from ..question.query import Expander, QueryAnalyser, Thesaurus
from ..question.stage import QuestionStage
from ..retrieval.retriever import Retriever
from ..words import word_lists

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parts:
    """What every generation's engine shares: the settings, the models and the glossary, built once."""

    settings: Settings
    embedder: Embedder
    expander: Expander
    words: dict[str, tuple[str, ...]]
    llm: LanguageModel | None
    languages: LanguageDetector
    english: Callable[[str], bool]
    ranker: Ranker
    reader: Reader | None
    qualifiers: tuple[str, ...]
    answerable: AnswerabilityModel | None

    @classmethod
    def from_settings(cls, settings: Settings, embedder: Embedder) -> Parts:
        """The parts the settings ask for (the language model, the ranker and, if it reads, the reader) and the
        answerability model."""
        # numpy's BLAS threads and torch's threads fight over the same cores: a question's small matrix products
        # run on one BLAS thread so the model keeps its speed (measured: 57 ms -> 19 ms per question embedding)
        threadpool_limits(1, user_api="blas")
        word_lists()  # read at start-up: a broken corpus/words.toml stops it with one line, not the first question
        ranker = make_ranker(settings.ranker)
        return cls(
            settings=settings,
            embedder=embedder,
            expander=Expander(load_glossary(settings.glossary_path)),
            words=load_words(settings.glossary_path),
            llm=make_language_model(settings),
            languages=LanguageDetector(),
            english=english_words(),
            ranker=ranker,
            reader=Reader(settings.models_dir, threads=settings.embedding_threads) if ranker.reads else None,
            qualifiers=load_qualifiers(settings.glossary_path),
            answerable=load_answerable(settings.answerable_model) if settings.answerable_model else None,
        )

    def answerable_for(self, index: Index) -> AnswerabilityModel | None:
        """The answerability model when one is set and was trained on the question vectors of the index's embedding
        model; otherwise None (the decide step's rules judge), said in the log when the models differ."""
        if self.answerable is None or self.answerable.embedding == index.manifest.model:
            return self.answerable
        log.warning(
            "the answerability model was trained with the embedding model %s, the index uses %s: whether anything "
            "answers is judged by the rules (retrain it with `cfsp-assistant train answerable`)",
            self.answerable.embedding,
            index.manifest.model,
        )
        return None


@dataclass(frozen=True)
class Engine:
    """One loaded generation with the question stage, retriever, answerer and (with a language model) writer built
    on it; swapped whole when the index changes."""

    index: Index
    question: QuestionStage
    retriever: Retriever
    answerer: Answerer
    top_k: int  # passages answered from, when a request does not say
    writer: Writer | None = None


def build_engine(parts: Parts, index: Index) -> Engine:
    """The stages that answer from one generation, wired in order."""
    settings = parts.settings
    retriever = Retriever(index, parts.embedder, settings.candidates, settings.rrf_k)
    thesaurus = Thesaurus(parts.words, index.lexical.terms)
    analyser = QueryAnalyser(
        parts.expander, thesaurus, index.vocabulary, retriever.treaty_articles, parts.english, index.lexical.terms
    )
    question = QuestionStage(analyser, parts.languages, settings.max_question_chars, settings.max_history_turns)
    idf = idf_of(index.lexical.document_frequency, len(index.chunks))
    features = Features(
        index.sentences_of,
        index.by_id,
        index.lexical.terms,
        idf,
        passages=settings.top_k,
        siblings=index.unit_of,
    )
    decider = Decider(
        parts.ranker,
        settings.abstain_threshold,
        passages=settings.top_k,
        answers_at_all=settings.answers_at_all,
        rare=index.vocabulary.rare,
        unused=lambda term: index.lexical.document_frequency(term) == 0,
        answerable=parts.answerable_for(index),
    )
    composer = Composer(parts.ranker, idf, index.by_id, qualifiers=parts.qualifiers)
    answerer = Answerer(features, parts.ranker, decider, composer, reader=parts.reader)
    writer = Writer(parts.llm, Checker(), settings.llm_passages) if parts.llm is not None else None
    return Engine(index, question, retriever, answerer, settings.top_k, writer)


def open_index(settings: Settings, embedder: Embedder, manifest: IndexManifest | None = None) -> Index:
    """The generation the manifest names, checked against the embedding model; an IndexUnusableError says how to
    build or repair it."""
    index = load_index(settings, manifest, getattr(embedder, "backend", None))
    if index.manifest.dim != embedder.dim:
        index.close()
        raise IndexMismatchError(
            f"the index holds {index.manifest.dim}-dimensional vectors from {index.manifest.model!r}, but the "
            f"configured embedding model gives {embedder.dim}",
            "re-run `cfsp-assistant ingest` to rebuild it",
        )
    return index
