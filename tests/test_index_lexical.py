"""The BM25 lexical index over a handful of invented passages: stemmed, stopword-free terms, the passage holding a
rare word first, nothing for words no passage uses, and the same answers after saving and loading."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from assistant.index.lexical import LexicalIndex

PASSAGES = [
    "The Council adopts restrictive measures against persons responsible for the repression.",
    "The Council and the Commission ensure the consistency of the Union's external action.",
    "The mission shall monitor the ceasefire along the administrative boundary line in Georgia.",
    "The Council shall review the restrictive measures every twelve months.",
    "The High Representative chairs the Foreign Affairs Council.",
]


@pytest.fixture(scope="module")
def index() -> LexicalIndex:
    return LexicalIndex.build(PASSAGES)


def test_terms_are_stemmed_without_stopwords(index):
    assert index.size == 5
    assert index.terms(["The ceasefire is monitored by missions", "the of and"]) == [
        ["ceasefir", "monitor", "mission"],
        [],
    ]


def test_document_frequency_counts_the_passages_holding_a_term(index):
    assert index.document_frequency("council") == 4  # all but the mission passage
    assert index.terms(["measures"]) == [["measur"]]
    assert index.document_frequency("measur") == 2
    assert index.document_frequency("georgia") == 1
    assert index.document_frequency("unicorn") == 0  # no passage uses it
    assert index.document_frequency("ceasefire") == 0  # the unstemmed form is not a term of the index
    assert index.document_frequency("the") == 0  # a stopword is not indexed


def test_the_passage_holding_the_rare_word_ranks_first(index):
    found = index.search("ceasefire monitoring", 5)
    assert [position for position, _ in found] == [2]  # no other passage holds either word
    assert found[0][1] > 0
    # two words shared by passages 0 and 3: the one that also says "review" comes first
    ranked = index.search("review of restrictive measures", 5)
    assert [position for position, _ in ranked] == [3, 0]
    assert ranked[0][1] > ranked[1][1] > 0


def test_a_word_no_passage_uses_finds_nothing(index):
    assert index.search("unicorn", 5) == []
    assert index.search("the and of", 5) == []  # only stopwords
    assert index.scores("unicorn").tolist() == [0.0] * 5
    # an unknown word beside a known one changes nothing
    assert index.search("unicorn ceasefire", 5) == index.search("ceasefire", 5)


def test_scores_follow_the_order_the_passages_were_indexed_in(index):
    scores = index.scores("Georgia")
    assert scores.shape == (5,) and scores.dtype == np.float32
    assert scores[2] > 0
    assert np.count_nonzero(scores) == 1


def test_search_returns_at_most_k_and_never_a_passage_without_the_word(index):
    everything = index.search("Council", 10)
    assert sorted(position for position, _ in everything) == [0, 1, 3, 4]  # not the mission passage
    best_two = index.search("Council", 2)
    assert best_two == everything[:2]
    assert best_two[0][1] >= best_two[1][1] > 0


def test_a_saved_index_loads_with_the_same_answers(index, tmp_path):
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert loaded.size == 5
    assert loaded.document_frequency("council") == 4
    before, after = (
        index.search("review of restrictive measures", 5),
        loaded.search("review of restrictive measures", 5),
    )
    assert [position for position, _ in after] == [position for position, _ in before] == [3, 0]
    assert [score for _, score in after] == pytest.approx([score for _, score in before])


def test_an_index_with_nothing_in_it_finds_nothing():
    empty = LexicalIndex(bm25s.BM25())
    assert empty.size == 0
    assert empty.search("Council", 3) == []
    assert empty.scores("Council").shape == (0,)
