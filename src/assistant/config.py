"""The one settings object, read from CFSP_* environment variables or a .env file at the edge."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGED_MODEL = "all-MiniLM-L6-v2"
TUNED_MODEL = "cfsp-minilm"  # the packaged model with the LoRA adapter trained here (models/cfsp-minilm): the default
MIN_KEY_CHARS = 16
PROVIDERS = ("local", "openai-compatible")  # embedding providers `make_embedder` knows
# How the local model runs, and the family of vectors each gives: backends of one family give the same vectors
# (within 1e-6, tested), so an index built by one serves the other; int8 vectors need an index of their own.
BACKEND_FAMILIES = {"torch": "fp32", "onnx": "fp32", "onnx-int8": "int8"}
BACKENDS = tuple(BACKEND_FAMILIES)
RATE_LIMIT_STORAGES = ("memory", "redis", "rediss")  # schemes of CFSP_RATE_LIMIT_STORAGE


class Settings(BaseSettings):
    """Every knob of the assistant; built once by the CLI, app or test fixture and passed down."""

    model_config = SettingsConfigDict(env_prefix="CFSP_", env_file=".env", extra="ignore", frozen=True)

    corpus_dir: Path = Field(
        PROJECT_ROOT.parent / "shared" / "corpus", description="Folder of official texts (read-only)."
    )
    catalogue_path: Path = Field(PROJECT_ROOT / "corpus" / "catalogue.toml")
    glossary_path: Path = Field(PROJECT_ROOT / "corpus" / "glossary.toml")
    article_titles_path: Path = Field(
        PROJECT_ROOT / "corpus" / "article_titles.toml",
        description="Descriptive titles of treaty articles, indexed with their text.",
    )
    data_dir: Path = Field(PROJECT_ROOT / ".data", description="Index, caches and extracted model (git-ignored).")
    embedding_cache: Path | None = Field(
        None, description="SQLite cache of vectors; default DATA_DIR/embeddings.sqlite."
    )
    model_cache: Path | None = Field(
        None,
        description="Where the models are extracted, merged and exported to ONNX at first use, each checked by "
        "sha256; default DATA_DIR/models. Any number of data folders and clones can share one.",
    )
    verify_checksums: bool = True
    max_file_bytes: int = Field(
        25_000_000,
        ge=1024,
        description="Largest corpus file ingested; larger files are "
        "skipped with a reason (the biggest official text here is 1.7 MB).",
    )

    embedding_provider: str = Field(
        "local", description="local (packaged model) or openai-compatible (an HTTP endpoint)."
    )
    embedding_model: str = Field(
        TUNED_MODEL,
        description="cfsp-minilm (the packaged model fine-tuned here), all-MiniLM-L6-v2 (as packaged), a local "
        "sentence-transformers folder, or an endpoint's model name.",
    )
    embedding_adapter: Path = Field(
        PROJECT_ROOT / "models" / "cfsp-minilm",
        description="The fine-tuned model's LoRA adapter (for CFSP_EMBEDDING_MODEL=cfsp-minilm).",
    )
    embedding_base_url: str | None = Field(
        None, description="openai-compatible: base URL, e.g. http://127.0.0.1:7860/v1."
    )
    embedding_api_key: SecretStr | None = Field(
        None, description="openai-compatible: bearer key, if the endpoint needs one."
    )
    embedding_timeout: float = Field(30.0, gt=0, le=600, description="openai-compatible: seconds per request.")
    embedding_retries: int = Field(3, ge=0, le=10, description="openai-compatible: retries with back-off on failures.")
    # onnx by measurement: PyTorch's vectors and evaluation metrics, faster (README, "ONNX Runtime backends");
    # int8 moved metrics by more than 0.005 on 10 of the 11 committed sets
    embedding_backend: str = Field(
        "onnx",
        description="How the local model runs: onnx (ONNX Runtime), torch (PyTorch, the same vectors) or "
        "onnx-int8 (ONNX Runtime with int8 weights: faster, slightly different vectors, needs its own index).",
    )
    embedding_batch_size: int = Field(16, ge=1, le=1024)
    embedding_threads: int = Field(
        0,
        ge=0,
        description="Threads per model call (torch or ONNX Runtime); 0: the library default "
        "(all cores) for ingest and 1 when serving, where calls run side by side.",
    )

    chroma_host: str | None = None
    chroma_port: int | None = Field(None, ge=1, le=65535)
    collection_prefix: str = "cfsp"

    chunk_tokens: int = Field(230, ge=32, le=512)
    chunk_overlap: int = Field(30, ge=0, le=128)

    top_k: int = Field(5, ge=1, le=50)
    candidates: int = Field(30, ge=5, le=200, description="Hits each retriever contributes before fusion.")
    rrf_k: int = Field(
        20,
        ge=1,
        description="Reciprocal rank fusion's k: lower lets a passage one ranking puts first outrank one that every "
        "ranking puts in the middle.",
    )
    max_question_chars: int = Field(2000, ge=10)
    max_history_turns: int = Field(20, ge=0, le=200, description="Earlier messages a follow-up may carry.")
    answer_sentences: int = Field(3, ge=1, le=10)
    abstain_threshold: float = Field(
        0.38, ge=-1.0, le=1.0, description="Minimum cosine similarity of the best passage."
    )
    ranker: str = Field(
        "reader",
        description="How candidate provisions are scored: reader (the hand-weighted sum with the probability of the "
        "reader, the cross-encoder in models/reader, for its best candidates), rules (the sum alone) or learned (the "
        "logistic regression in models/ranker, which also decides whether anything answers).",
    )
    answers_at_all: float = Field(
        0.5,
        ge=0.0,
        le=2.0,
        description="Minimum of a provision's best-sentence similarity plus its share of the question's non-name "
        "terms, for the best provisions to count as answering at all.",
    )
    answerable_model: Path | None = Field(
        PROJECT_ROOT / "models" / "answerable" / "answerable.json",
        description="The model that says whether the texts answer a question at all (trained by `cfsp-assistant "
        "train answerable`); 'off': the decide step's rules judge, as they do for an index built with another "
        "embedding model.",
    )

    # An optional language model (any OpenAI-compatible chat endpoint) to word answers; everything it writes is checked
    llm_base_url: str | None = Field(
        None,
        description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1; "
        "unset: answers are quoted from the official texts.",
    )
    llm_model: str = Field("default", description="The endpoint's model name (shown in the answer's badge).")
    llm_api_key: SecretStr | None = Field(None, description="Bearer key for the endpoint, if it needs one.")
    llm_timeout: float = Field(
        30.0, gt=0, le=600, description="Seconds a reply may take in all before the quoted answer is shown instead."
    )
    llm_max_tokens: int = Field(
        400, ge=32, le=8192, description="Longest reply, in the model's tokens (asked for, and no more pieces read)."
    )
    llm_max_reply_chars: int = Field(
        8000,
        ge=500,
        le=1_000_000,
        description="Characters of one reply read at most; the rest is not read and the quoted answer is shown.",
    )
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0)
    llm_output: str = Field(
        "auto",
        description="How structured replies are asked for: auto (found once per "
        "endpoint), json_schema, json_object (llama-cpp-python's schema form) or text.",
    )
    llm_passages: int = Field(5, ge=1, le=10, description="Provisions the model is given to answer from.")
    llm_circuit_failures: int = Field(3, ge=1, le=100, description="Failures in a row that pause the endpoint.")
    llm_circuit_seconds: float = Field(60.0, ge=0, le=3600, description="How long a failing endpoint is paused.")

    host: str = Field("127.0.0.1", description="Address the chat page binds to; 0.0.0.0 exposes it to the network.")
    port: int = Field(7860, ge=1, le=65535, description="Port of the chat page.")
    concurrency_limit: int = Field(4, ge=1, le=64, description="Questions the chat page answers at the same time.")
    queue_max_size: int = Field(
        32,
        ge=1,
        le=10_000,
        description="Questions that may wait in the chat's queue; beyond it a person is told the service is busy.",
    )
    index_poll_seconds: float = Field(
        2.0,
        gt=0,
        le=3600,
        description="How often a running server looks for a newer "
        "index generation (and renews its claim on the one it serves).",
    )
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto headers are believed "
        "(comma-separated); none: the client address is the connection's.",
    )

    # HTTP API and widget (served beside the chat page by assistant.api)
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (), description="Keys accepted as `Authorization: Bearer KEY` on /api and /v1 (comma-separated); none: open."
    )
    api_keys_file: Path | None = Field(None, description="File with more API keys, one a line ('#' starts a comment).")
    operator_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (),
        description="Keys of operators (comma-separated): API keys that also see the server process and file paths "
        "in /api/v1/health (hidden from everyone else). Setting one turns API keys on.",
    )
    protect_chat: bool = Field(False, description="Also require an API key for the chat page and the widget.")
    rate_limit: str | None = Field(
        "60/minute",
        description="Requests per API key or client address, e.g. '60/minute' or '3 per 2 seconds'; 'off' disables it.",
    )
    rate_limit_storage: str | None = Field(
        None,
        description="Where rate-limit counts live: unset or memory:// (each server process counts alone), or "
        "redis://host:port/db / rediss://... (shared by every worker and server using that Redis).",
    )
    workers: int = Field(
        1, ge=1, le=16, description="Server processes answering on the same port (each loads the model and index)."
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body accepted (413 above).")
    max_top_k: int = Field(20, ge=1, le=200, description="Largest top_k an API client may ask for.")
    max_embedding_inputs: int = Field(128, ge=1, le=4096, description="Texts per /v1/embeddings request.")
    max_embedding_chars: int = Field(8000, ge=1, description="Characters per text sent to /v1/embeddings.")
    max_embedding_total_chars: int = Field(
        100_000, ge=1, description="Characters of all texts of one /v1/embeddings request together."
    )
    embedding_concurrency: int = Field(
        1,
        ge=1,
        le=64,
        description="/v1/embeddings requests computed at the same "
        "time (apart from the questions' own limit, so embeddings never starve them).",
    )
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Sites (scheme://host[:port], comma-separated) that may call the API from a browser (CORS) "
        "and embed the widget (frame-ancestors); none: only this server itself.",
    )

    @field_validator("embedding_provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value not in PROVIDERS:
            raise ValueError(f"unknown embedding provider {value!r}; allowed: {', '.join(PROVIDERS)}")
        return value

    @field_validator("ranker")
    @classmethod
    def _known_ranker(cls, value: str) -> str:
        allowed = ("learned", "reader", "rules")
        if value not in allowed:
            raise ValueError(f"unknown ranker {value!r}; allowed: {', '.join(allowed)}")
        return value

    @field_validator("embedding_backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in BACKENDS:
            raise ValueError(f"unknown embedding backend {value!r}; allowed: {', '.join(BACKENDS)}")
        return value

    @field_validator("llm_output")
    @classmethod
    def _llm_output(cls, value: str) -> str:
        allowed = ("auto", "json_schema", "json_object", "text")
        if value not in allowed:
            raise ValueError(f"unknown llm_output {value!r}; allowed: {', '.join(allowed)}")
        return value

    @field_validator("llm_base_url")
    @classmethod
    def _llm_url(cls, value: str | None) -> str | None:
        if value is not None and value.strip() and not value.strip().startswith(("http://", "https://")):
            raise ValueError("llm_base_url must be an http(s) URL such as http://127.0.0.1:8080/v1")
        return value.strip().rstrip("/") or None if value else None

    @field_validator("host")
    @classmethod
    def _bind_address(cls, value: str) -> str:
        value = value.strip()
        if not value or "://" in value or "/" in value or " " in value:
            raise ValueError("host must be a host name or IP address such as 127.0.0.1 (no scheme, path or spaces)")
        return value

    @field_validator("api_keys", "operator_keys", mode="before")
    @classmethod
    def _split_keys(cls, value):
        if isinstance(value, str):
            value = value.split(",")
        keys = tuple(str(k.get_secret_value() if isinstance(k, SecretStr) else k).strip() for k in value or ())
        short = [i + 1 for i, k in enumerate(keys) if k and len(k) < MIN_KEY_CHARS]
        if short:
            raise ValueError(
                f"API key {short[0]} has fewer than {MIN_KEY_CHARS} characters; make one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return tuple(k for k in keys if k)

    @field_validator("answerable_model", mode="before")
    @classmethod
    def _answerable_model(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "off", "none")):
            return None
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() in ("", "off", "none", "0"):
            return None
        from limits import parse  # the rate limiter's own grammar: what validates here is what runs

        try:
            parse(value)
        except ValueError:
            raise ValueError(
                f"rate_limit {value!r} is not a rate such as '60/minute', '1000 per hour' or "
                "'3 per 2 seconds' ('off' disables it)"
            ) from None
        return value.strip()

    @field_validator("rate_limit_storage")
    @classmethod
    def _rate_limit_storage(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        scheme = value.partition("://")[0].lower() if "://" in value else ""
        if scheme not in RATE_LIMIT_STORAGES:
            given = f"unknown scheme {scheme}://" if scheme else "no scheme"
            raise ValueError(
                f"{given}: use memory:// (each process counts alone) or a Redis URL such as "
                "redis://127.0.0.1:6379/0 or rediss://host:6380/0"
            )
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value):
        if isinstance(value, str):
            value = value.split(",")
        origins = tuple(str(o).strip().rstrip("/") for o in value or () if str(o).strip())
        for origin in origins:
            if origin != "*" and not re.fullmatch(r"https?://[A-Za-z0-9.\-]+(:\d{1,5})?", origin):
                raise ValueError(
                    f"allowed origin {origin!r} must be scheme://host[:port] such as "
                    "https://news.example.org (no path), or *"
                )
        return origins

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value):
        if isinstance(value, str):
            value = value.split(",")
        proxies = tuple(str(p).strip() for p in value or () if str(p).strip())
        import ipaddress

        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted proxy {proxy!r} must be an IP address or network such as 127.0.0.1 or 10.0.0.0/8"
                ) from None
        return proxies

    @field_validator("collection_prefix")
    @classmethod
    def _collection_name(cls, value: str) -> str:
        if len(value) < 3 or not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError("collection_prefix needs at least 3 letters, digits, '-' or '_'")
        return value

    @model_validator(mode="after")
    def _provider_needs(self) -> "Settings":
        if self.embedding_provider == "openai-compatible":
            url = self.embedding_base_url or ""
            if not url.startswith(("http://", "https://")):
                raise ValueError(
                    "the openai-compatible embedding provider needs CFSP_EMBEDDING_BASE_URL, "
                    "an http(s) URL such as http://127.0.0.1:7860/v1"
                )
        return self

    @property
    def models_dir(self) -> Path:
        """The folder of models extracted, merged and exported at first use."""
        return self.model_cache or self.data_dir / "models"

    @property
    def server_mode(self) -> bool:
        """True when a Chroma server is configured instead of the embedded store."""
        return self.chroma_host is not None


def load_settings() -> Settings:
    """The settings from CFSP_* variables and .env, or a ConfigError naming every variable that is wrong."""
    from pydantic import ValidationError

    from .errors import ConfigError

    try:
        return Settings()
    except ValidationError as exc:
        # a problem of one setting names its variable; one found across settings says which in its own words
        problems = "; ".join(
            f"CFSP_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" if e["loc"] else e["msg"] for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
