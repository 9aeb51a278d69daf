"""The language-model writer's pure parts: the reply schema, the passages given to the model (which, in what order,
numbered how, labelled how), links in the question's language, and the one-line restatements of a question.
No endpoint, no index, no embedding model: chunks and candidates are made by hand."""

from __future__ import annotations

from dataclasses import replace

import jsonschema
import pytest

from assistant.answer.records import Candidate
from assistant.ingest.provisions import Provision

# LLMError as the writer knows it (it has moved from llm.client to errors)
from assistant.llm.writer import MAX_SENTENCES, LLMError, Writer, localized, restatement_chars, schema
from assistant.types import Chunk, Citation, Hit, Sentence

LEGAL = "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:12016M042"
ELI = "http://data.europa.eu/eli/dec/2019/797/oj"


def chunk(chunk_id: str, text: str, label: str = "", label_base: str = "", paragraph: str = "") -> Chunk:
    """A one-sentence passage of an act."""
    return Chunk(
        id=chunk_id,
        source_id="TEU",
        kind="treaty",
        tier=1,
        title="Treaty on European Union",
        label=label or f"label of {chunk_id}",
        url=LEGAL,
        date="2016-06-07",
        article="42",
        paragraph=paragraph,
        headings="",
        text=text,
        sentences=(Sentence(0, len(text), paragraph),),
        label_base=label_base,
    )


def candidate(c: Chunk, paragraph: str = "", operative: bool = True, rank: int = 0) -> Candidate:
    provision = Provision(c, "paragraph", paragraph, (0,), operative=operative)
    return Candidate(provision, Hit(c, 0.5), rank, (0.5,), frozenset(), None, {})


def citation(c: Chunk, n: int, url: str = LEGAL) -> Citation:
    """Citation `n` quoting the whole chunk, with the given official link."""
    return replace(Citation.of(c, n, c.label, "", c.text), url=url)


# ---------------------------------------------------------------- the reply schema


def reply(*markers: list[int], english: bool = False) -> dict:
    sentences = []
    for m in markers:
        s = {"text": "The Union has a common security policy.", "markers": m, "evidence": "a common security policy"}
        if english:
            s["english"] = "The Union has a common security policy."
        sentences.append(s)
    return {"sentences": sentences}


def test_the_schema_accepts_a_reply_citing_given_passages_and_refuses_any_other():
    two = schema(2, english=False)
    jsonschema.validate(reply([1], [1, 2]), two)
    jsonschema.validate({"sentences": []}, two)  # "the passages do not answer": no sentence at all
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(reply([3]), two)  # passage 3 was never given
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(reply([0]), two)  # numbering starts at 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(reply([]), two)  # every sentence rests on a passage
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(reply([1], [1], [2], [2]), two)  # a fourth sentence
    long = {"sentences": [{"text": "x" * 401, "markers": [1], "evidence": "five words copied from it"}]}
    with pytest.raises(jsonschema.ValidationError, match="is too long"):
        jsonschema.validate(long, two)  # a sentence of 401 characters
    assert MAX_SENTENCES == 3


def test_the_schema_asks_for_an_english_version_only_of_answers_in_another_language():
    french = schema(1, english=True)
    with pytest.raises(jsonschema.ValidationError, match="'english' is a required property"):
        jsonschema.validate(reply([1]), french)
    jsonschema.validate(reply([1], english=True), french)
    with pytest.raises(jsonschema.ValidationError, match="Additional properties"):
        jsonschema.validate(reply([1], english=True), schema(1, english=False))
    # each call builds its own schema: asking for English once does not leak into the next English one
    assert schema(1, english=False)["properties"]["sentences"]["items"]["required"] == ["text", "markers", "evidence"]


# ---------------------------------------------------------------- the passages given


def test_the_quoted_answers_provisions_come_first_in_its_order_then_the_rest_by_rank():
    a, b, c, d = (chunk(x, f"Text of {x}.") for x in "abcd")
    ranked = [candidate(a), candidate(b), candidate(c), candidate(d)]
    quoted = (citation(c, 1), citation(a, 2))
    given = Writer(None, None, passages=5).given(ranked, quoted)
    assert [(p.n, p.candidate.hit.chunk.id) for p in given] == [(1, "c"), (2, "a"), (3, "b"), (4, "d")]
    assert [p.text for p in given] == ["Text of c.", "Text of a.", "Text of b.", "Text of d."]
    # without a quoted answer the ranking stands
    assert [p.candidate.hit.chunk.id for p in Writer(None, None).given(ranked)] == ["a", "b", "c", "d"]


def test_the_quoted_paragraph_comes_first_not_its_neighbour_in_the_same_passage():
    text = "Members shall assist. The Union shall act."
    both = replace(
        chunk("art", text, label_base="Art. 42{p} TEU"), sentences=(Sentence(0, 21, "6"), Sentence(22, 42, "7"))
    )
    six = Candidate(Provision(both, "paragraph", "6", (0,)), Hit(both, 0.9), 0, (0.9,), frozenset(), None, {})
    seven = Candidate(Provision(both, "paragraph", "7", (1,)), Hit(both, 0.9), 0, (0.9,), frozenset(), None, {})
    quoted = (replace(citation(both, 1), paragraph="7"),)
    given = Writer(None, None).given([six, seven], quoted)
    assert [(p.n, p.label, p.text) for p in given] == [
        (1, "Art. 42(7) TEU", "The Union shall act."),
        (2, "Art. 42(6) TEU", "Members shall assist."),
    ]


def test_repeated_and_non_operative_provisions_are_not_given_numbering_has_no_gap_and_is_capped():
    a, recital, b = chunk("a", "Text of a."), chunk("r", "Whereas the Council agreed."), chunk("b", "Text of b.")
    ranked = [candidate(a), candidate(a), candidate(recital, operative=False), candidate(b)]
    given = Writer(None, None, passages=5).given(ranked)
    assert [(p.n, p.candidate.hit.chunk.id) for p in given] == [(1, "a"), (2, "b")]
    # and no more than the configured number
    chunks = [chunk(str(i), f"Text {i}.") for i in range(8)]
    given = Writer(None, None, passages=3).given([candidate(c) for c in chunks])
    assert [(p.n, p.text) for p in given] == [(1, "Text 0."), (2, "Text 1."), (3, "Text 2.")]


def test_a_passage_is_labelled_with_its_own_paragraph():
    whole = chunk("w", "Paragraph seven. Paragraph eight.", label_base="Art. 42{p} TEU", paragraph="")
    fixed = chunk("f", "A web page sentence.", label="CFSP overview page")
    given = Writer(None, None).given([candidate(whole, paragraph="7"), candidate(fixed)])
    assert [p.label for p in given] == ["Art. 42(7) TEU", "CFSP overview page"]
    unnumbered = Writer(None, None).given([candidate(whole, paragraph="")])
    assert [p.label for p in unnumbered] == ["Art. 42 TEU"]


# ---------------------------------------------------------------- links in the question's language


def test_citations_link_to_the_official_text_in_the_questions_language():
    c = chunk("a", "Text of a.")
    citations = (citation(c, 1), citation(c, 2, ELI), citation(c, 3, "https://example.org/page"))
    assert localized(citations, "en") is citations  # English: the links are already the English texts
    french = localized(citations, "fr")
    assert [x.local_url for x in french] == [
        "https://eur-lex.europa.eu/legal-content/FR/TXT/?uri=CELEX:12016M042",
        "http://data.europa.eu/eli/dec/2019/797/oj/fra",
        "",  # not an EUR-Lex link: no translated version to offer
    ]
    assert [(x.n, x.url, x.quote) for x in french] == [(x.n, x.url, x.quote) for x in citations]


# ---------------------------------------------------------------- restating a question


class Scripted:
    """A stand-in model: returns a fixed reply and remembers what it was asked."""

    def __init__(self, text: str):
        self.text, self.asked = text, []

    def complete(self, chat):
        self.asked.append(chat)
        return self.text


def test_a_translation_is_one_line_and_its_reading_is_bounded_by_the_questions_length():
    model = Scripted('  "Who leads the\n  common   foreign policy?"  \n')
    question = "Qui dirige la politique étrangère commune ?"
    assert Writer(model, None).translate(question) == "Who leads the common foreign policy?"
    chat = model.asked[0]
    assert chat.max_chars == restatement_chars(question) == 4 * 43 + 200
    assert chat.trips_circuit is False  # a poor translation must not pause the model for English questions
    with pytest.raises(LLMError, match="returned nothing"):
        Writer(Scripted(' " " \n'), None).rewrite("And its budget?", [("user", "What is PESCO?")])
