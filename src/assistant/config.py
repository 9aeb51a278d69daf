"""The one settings object, read from CFSP_* environment variables or a .env file at the edge."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGED_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Every knob of the assistant; built once by the CLI, app or test fixture and passed down."""

    model_config = SettingsConfigDict(env_prefix="CFSP_", env_file=".env", extra="ignore", frozen=True)

    corpus_dir: Path = Field(PROJECT_ROOT.parent / "shared" / "corpus", description="Folder of official texts (read-only).")
    catalogue_path: Path = Field(PROJECT_ROOT / "corpus" / "catalogue.toml")
    glossary_path: Path = Field(PROJECT_ROOT / "corpus" / "glossary.toml")
    data_dir: Path = Field(PROJECT_ROOT / ".data", description="Index, caches and extracted model (git-ignored).")
    embedding_cache: Path | None = Field(None, description="SQLite cache of vectors; default DATA_DIR/embeddings.sqlite.")
    verify_checksums: bool = True

    embedding_provider: str = Field("local", description="local (packaged model) or openai-compatible (an HTTP endpoint).")
    embedding_model: str = PACKAGED_MODEL
    embedding_base_url: str | None = Field(None, description="openai-compatible: base URL, e.g. http://127.0.0.1:7860/v1.")
    embedding_api_key: SecretStr | None = Field(None, description="openai-compatible: bearer key, if the endpoint needs one.")
    embedding_timeout: float = Field(30.0, gt=0, le=600, description="openai-compatible: seconds per request.")
    embedding_retries: int = Field(3, ge=0, le=10, description="openai-compatible: retries with back-off on failures.")
    embedding_batch_size: int = Field(16, ge=1, le=1024)
    embedding_threads: int = Field(0, ge=0, description="torch threads; 0 keeps the library default.")

    chroma_host: str | None = None
    chroma_port: int | None = Field(None, ge=1, le=65535)
    collection_prefix: str = "cfsp"

    chunk_tokens: int = Field(230, ge=32, le=512)
    chunk_overlap: int = Field(30, ge=0, le=128)

    top_k: int = Field(5, ge=1, le=50)
    candidates: int = Field(30, ge=5, le=200, description="Hits each retriever contributes before fusion.")
    rrf_k: int = Field(60, ge=1)
    max_question_chars: int = Field(2000, ge=10)
    max_history_turns: int = Field(20, ge=0, le=200, description="Earlier messages a follow-up may carry.")
    answer_sentences: int = Field(3, ge=1, le=10)
    abstain_threshold: float = Field(0.38, ge=-1.0, le=1.0, description="Minimum cosine similarity of the best passage.")

    host: str = Field("127.0.0.1", description="Address the chat page binds to; 0.0.0.0 exposes it to the network.")
    port: int = Field(7860, ge=1, le=65535, description="Port of the chat page.")
    share: bool = Field(False, description="Ask Gradio for a public share link (needs internet; off by default).")
    concurrency_limit: int = Field(4, ge=1, le=64, description="Questions the chat page answers at the same time.")

    @field_validator("embedding_provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        allowed = ("local", "openai-compatible")
        if value not in allowed:
            raise ValueError(f"unknown embedding provider {value!r}; allowed: {', '.join(allowed)}")
        return value

    @field_validator("host")
    @classmethod
    def _bind_address(cls, value: str) -> str:
        value = value.strip()
        if not value or "://" in value or "/" in value or " " in value:
            raise ValueError("host must be a host name or IP address such as 127.0.0.1 (no scheme, path or spaces)")
        return value

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
                raise ValueError("the openai-compatible embedding provider needs CFSP_EMBEDDING_BASE_URL, "
                                 "an http(s) URL such as http://127.0.0.1:7860/v1")
        return self

    @property
    def server_mode(self) -> bool:
        """True when a Chroma server is configured instead of the embedded store."""
        return self.chroma_host is not None
