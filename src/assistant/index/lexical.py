"""The BM25 lexical index (bm25s with an English stemmer), built at ingest and loaded from disk to serve."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer


class LexicalIndex:
    """BM25 over chunk texts; positions map to the chunk order it was built with."""

    def __init__(self, retriever: bm25s.BM25):
        self.retriever = retriever
        self.stemmer = Stemmer.Stemmer("english")
        self.size = int(retriever.scores["num_docs"]) if hasattr(retriever, "scores") else 0

    @classmethod
    def build(cls, texts: list[str]) -> "LexicalIndex":
        """Index the given texts."""
        stemmer = Stemmer.Stemmer("english")
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        """Persist next to the vector store."""
        self.retriever.save(str(folder))

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        """Load a saved index (memory-mapped)."""
        return cls(bm25s.BM25.load(str(folder), mmap=True))

    def terms(self, texts: list[str]) -> list[list[str]]:
        """Stemmed, stopword-free terms of each text, as the index sees them."""
        return bm25s.tokenize(texts, stopwords="en", stemmer=self.stemmer, return_ids=False, show_progress=False)

    def document_frequency(self, term: str) -> int:
        """How many indexed texts contain the (stemmed) term."""
        position = self.retriever.vocab_dict.get(term)
        indptr = self.retriever.scores["indptr"]
        if position is None or position + 1 >= len(indptr):
            return 0
        return int(indptr[position + 1] - indptr[position])

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for a query's text (zeros when no query term is indexed): for tools and tests; the
        pipeline scores the terms its question stage worked out (`scores_of`)."""
        return self.scores_of(self.terms([query])[0])

    def scores_of(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every text for a query's terms, as `terms` gives them (zeros when none is indexed)."""
        terms = list(terms)
        if not terms or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.retriever.get_scores(terms), dtype=np.float32)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(position, BM25 score) of the best k texts with a positive score for a query's text: for tools and tests."""
        terms = self.terms([query])[0]
        if not terms or self.size == 0:
            return []
        docs, scores = self.retriever.retrieve([terms], k=min(k, self.size), show_progress=False, n_threads=1)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
