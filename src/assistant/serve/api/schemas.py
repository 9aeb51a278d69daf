"""Request and response bodies of the HTTP API (pydantic models: they validate input and document /docs).

Limits that come from the settings (question length, history turns, top_k range) are checked by the routes, so
the messages can name the configured limit; the models check only what never changes.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ...types import Answer

Role = Literal["user", "assistant"]


class HistoryTurn(BaseModel):
    """One earlier message of the conversation."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    content: str


class AskRequest(BaseModel):
    """A question, the conversation so far (for follow-ups) and how many passages to retrieve."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"question": "Does the EU have a mutual defence clause?", "history": [], "top_k": 5}]
        },
    )

    question: str = Field(
        description="The question. In English, or, with a language model configured, in any official EU language."
    )
    history: list[HistoryTurn] = Field(
        default_factory=list,
        description="Earlier turns, oldest first (questions and "
        "answer texts), so a follow-up such as 'Who can join it?' is understood.",
    )
    top_k: int | None = Field(None, description="Passages to retrieve; default the server's top_k.")
    mode: Literal["auto", "extractive", "llm"] = Field(
        "auto",
        description="How the answer is made: extractive (quoted from the official texts), llm (worded by the "
        "configured language model, every sentence checked against its source; the quoted answer when the model "
        "fails or its sentences fail the checks) or auto (llm when a language model is configured).",
    )


class CitationOut(BaseModel):
    """A numbered source of the answer: the official citation, its link and the quoted passage."""

    n: int
    label: str = Field(description='The legal citation, e.g. "Art. 42(7) TEU".')
    url: str = Field(description="Link to the official text (ELI or EUR-Lex).")
    source_id: str
    article: str
    paragraph: str
    kind: str = Field(description="treaty, decision, regulation, official summary, agreement, web page …")
    kind_label: str = Field(
        description='The kind as people read it: "Treaty", "Council decision", "Web page — not '
        'an official legal text" …'
    )
    tier: int = Field(
        description="1 treaty, 2 legal act, 3 official summary, 4 web page or other document (not official law)."
    )
    date: str = Field(description="ISO date of the text; empty when unknown.")
    date_label: str = Field(description='The date as people read it: "7 June 2016", or "date unknown".')
    quote: str = Field(description="The sentence(s) of the official text the answer quotes.")
    context: str = Field("", description="The whole article, summary section or page the quote comes from.")
    highlights: list[tuple[int, int]] = Field(
        default_factory=list, description="Where the quoted sentences are in `context`: [start, end) character offsets."
    )
    local_url: str = Field(
        "", description="The official text on EUR-Lex in the question's language, when the question is not in English."
    )


class AskResponse(BaseModel):
    """A cited answer, or an abstention when the official texts do not answer the question."""

    answer: str = Field(description="Answer text with [n] markers pointing at `citations`.")
    citations: list[CitationOut]
    abstained: bool
    latency_ms: float
    search_query: str = Field(
        description="The question as searched (with the conversation's topic for follow-ups and typos corrected)."
    )
    also_searched: str = Field(
        "",
        description="A language model's standalone wording of a follow-up, searched beside `search_query`: it only "
        "adds passages that search missed, which keeps its own in their order; empty when no model reworded it.",
    )
    corrections: list[tuple[str, str]] = Field(
        default_factory=list, description="[as typed, as searched] for each word corrected before searching."
    )
    mode: Literal["extractive", "llm"] = Field(
        "extractive",
        description="extractive: quoted from the official texts; llm: written by `model`, every sentence checked "
        "against the quoted official wording it cites.",
    )
    model: str = Field("", description="The language model that wrote the answer, or whose answer was not shown.")
    fallback_reason: str = Field(
        "", description="Why the language model's answer was not shown and the quoted answer is shown instead."
    )
    language: str = Field("en", description="The question's language (ISO 639-1), as detected.")

    @classmethod
    def of(cls, answer: Answer) -> "AskResponse":
        """The API form of the pipeline's Answer record."""
        fields = CitationOut.model_fields
        return cls(
            answer=answer.text,
            abstained=answer.abstained,
            latency_ms=round(answer.latency_ms, 2),
            search_query=answer.search_query or answer.question,
            also_searched=answer.also_searched,
            corrections=list(answer.corrections),
            mode="llm" if answer.mode == "llm" else "extractive",
            model=answer.model,
            fallback_reason=answer.fallback_reason,
            language=answer.language,
            citations=[
                CitationOut(
                    **{k: v for k, v in asdict(c).items() if k in fields},
                    kind_label=c.kind_label,
                    date_label=c.date_label,
                )
                for c in answer.citations
            ],
        )


class Source(BaseModel):
    """One indexed document."""

    source_id: str
    kind: str
    title: str = ""
    citation: str = ""
    date: str = ""
    url: str = Field("", description="The official page of the document.")
    tier: int = Field(4, description="1 treaty, 2 legal act, 3 official EUR-Lex summary, 4 web page.")
    chunks: int = 0


class SourcesResponse(BaseModel):
    """What is indexed."""

    documents: int
    chunks: int
    sources: list[Source]


class HealthResponse(BaseModel):
    """Liveness and index readiness."""

    status: Literal["ok", "unavailable"]
    ready: bool
    problem: str | None = Field(None, description="Why the index cannot answer, when `ready` is false.")
    generation: str = Field(description="The index generation being served (changes after each ingest).")
    documents: int
    chunks: int
    embedding_model: str
    embedding_provider: str
    dimension: int
    vector_store: Literal["embedded", "server"]
    built_at: str | None
    worker_pid: int | None = Field(
        None, description="The server process that answered (CFSP_WORKERS); for operators only (CFSP_OPERATOR_KEYS)."
    )


class EmbeddingRequest(BaseModel):
    """OpenAI-compatible embeddings request."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"input": ["mutual defence clause", "Article 42(7) TEU"], "model": "all-MiniLM-L6-v2"}]
        }
    )

    input: str | list[str] = Field(description="A text or a list of texts.")
    model: str | None = Field(None, description="Must be the served model when given.")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, description="Must be the model's dimension when given.")
    user: str | None = None


class Embedding(BaseModel):
    """One vector, in the order of the inputs."""

    object: Literal["embedding"] = "embedding"
    embedding: list[float] | str = Field(description="Unit-length vector (base64 of little-endian float32 when asked).")
    index: int


class Usage(BaseModel):
    """Model tokens read (no special tokens)."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(BaseModel):
    """OpenAI-compatible embeddings response."""

    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage


class ErrorResponse(BaseModel):
    """Every error: one line for people, never a traceback."""

    error: str
