"""Settings as an operator meets them: the defaults the README's tables list, paths anchored on the project whatever
the working folder, lists given as comma-separated variables, and a wrong value stopped with one line naming the
variable. The environment is set per test (conftest drops the developer's CFSP_* variables and .env files)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from assistant.config import PROJECT_ROOT, Settings, load_settings
from assistant.errors import ConfigError

KEY_1, KEY_2 = "newsroom-key-0123456789", "operator-key-0123456789"


def test_the_defaults_are_those_the_readme_lists(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings()
    # "## Settings"
    assert (s.embedding_provider, s.embedding_model, s.ranker, s.embedding_backend) == (
        "local",
        "cfsp-minilm",
        "reader",
        "onnx",
    )
    assert (s.embedding_batch_size, s.embedding_timeout, s.embedding_retries, s.embedding_threads) == (16, 30.0, 3, 0)
    assert (s.chroma_host, s.chroma_port, s.server_mode) == (None, None, False)
    assert (s.chunk_tokens, s.chunk_overlap, s.top_k, s.candidates, s.rrf_k) == (230, 30, 5, 30, 20)
    assert (s.abstain_threshold, s.answers_at_all, s.verify_checksums, s.max_file_bytes) == (
        0.38,
        0.5,
        True,
        25_000_000,
    )
    assert s.embedding_cache is None  # meaning DATA_DIR/embeddings.sqlite, where the ingest puts it
    # the chat page, the API and the language model
    assert (s.host, s.port, s.concurrency_limit, s.queue_max_size, s.workers) == ("127.0.0.1", 7860, 4, 32, 1)
    assert (s.api_keys, s.api_keys_file, s.operator_keys, s.protect_chat) == ((), None, (), False)
    assert (s.rate_limit, s.rate_limit_storage, s.trusted_proxies, s.allowed_origins) == ("60/minute", None, (), ())
    assert (s.max_body_bytes, s.max_top_k, s.max_embedding_inputs, s.max_embedding_chars) == (1_048_576, 20, 128, 8000)
    assert (s.max_embedding_total_chars, s.embedding_concurrency) == (100_000, 1)
    assert (s.max_question_chars, s.max_history_turns, s.index_poll_seconds) == (2000, 20, 2.0)
    assert (s.llm_base_url, s.llm_model, s.llm_api_key, s.llm_timeout, s.llm_max_tokens) == (
        None,
        "default",
        None,
        30.0,
        400,
    )
    assert (s.llm_temperature, s.llm_max_reply_chars, s.llm_output, s.llm_passages) == (0.0, 8000, "auto", 5)
    assert (s.llm_circuit_failures, s.llm_circuit_seconds) == (3, 60.0)


def test_default_paths_are_the_projects_whatever_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.corpus_dir == PROJECT_ROOT.parent / "shared" / "corpus"  # README: ../shared/corpus
    assert s.data_dir == PROJECT_ROOT / ".data"  # README: .data
    assert s.embedding_adapter == PROJECT_ROOT / "models" / "cfsp-minilm"  # README: models/cfsp-minilm
    assert s.data_dir.is_absolute() and s.corpus_dir.is_absolute()
    assert s.catalogue_path.is_file() and s.glossary_path.is_file() and s.article_titles_path.is_file()
    assert s.embedding_adapter.is_dir()

    # a folder given in the environment is a path, as given
    monkeypatch.setenv("CFSP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CFSP_API_KEYS_FILE", str(tmp_path / "keys.txt"))
    loaded = load_settings()
    assert (loaded.data_dir, loaded.api_keys_file) == (tmp_path / "data", tmp_path / "keys.txt")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CFSP_TOP_K", "0", "CFSP_TOP_K: Input should be greater than or equal to 1"),
        ("CFSP_PORT", "seventy", "CFSP_PORT: Input should be a valid integer"),
        ("CFSP_RANKER", "magic", "CFSP_RANKER: Value error, unknown ranker 'magic'; allowed: learned, reader, rules"),
        ("CFSP_EMBEDDING_BACKEND", "cuda", "CFSP_EMBEDDING_BACKEND: Value error, unknown embedding backend 'cuda'"),
        ("CFSP_LLM_BASE_URL", "localhost:8080/v1", "CFSP_LLM_BASE_URL: Value error, llm_base_url must be an http(s)"),
        ("CFSP_HOST", "http://0.0.0.0", "CFSP_HOST: Value error, host must be a host name or IP address"),
        ("CFSP_API_KEYS", f"{KEY_1},short", "CFSP_API_KEYS: Value error, API key 2 has fewer than 16 characters"),
        ("CFSP_RATE_LIMIT", "lots", "CFSP_RATE_LIMIT: Value error, rate_limit 'lots' is not a rate such as"),
        ("CFSP_RATE_LIMIT_STORAGE", "mysql://db/0", "CFSP_RATE_LIMIT_STORAGE: Value error, unknown scheme mysql://"),
        ("CFSP_ALLOWED_ORIGINS", "https://news.example.org/page", "must be scheme://host[:port]"),
        ("CFSP_TRUSTED_PROXIES", "proxy.local", "CFSP_TRUSTED_PROXIES: Value error, trusted proxy 'proxy.local'"),
        ("CFSP_COLLECTION_PREFIX", "x", "CFSP_COLLECTION_PREFIX: Value error, collection_prefix needs at least 3"),
    ],
)
def test_a_wrong_value_stops_with_one_line_naming_the_variable(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert text.startswith(f"invalid settings: {variable}: ")
    assert message in text
    assert "\n" not in text


def test_every_wrong_variable_is_named_at_once(monkeypatch):
    monkeypatch.setenv("CFSP_TOP_K", "100")
    monkeypatch.setenv("CFSP_WORKERS", "17")
    monkeypatch.setenv("CFSP_RANKER", "reader")  # a right one is not named
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        "invalid settings: CFSP_TOP_K: Input should be less than or equal to 50; "
        "CFSP_WORKERS: Input should be less than or equal to 16"
    )


def test_a_provider_without_its_url_is_named_as_a_real_variable(monkeypatch):
    monkeypatch.setenv("CFSP_EMBEDDING_PROVIDER", "openai-compatible")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert "CFSP_EMBEDDING_BASE_URL" in text  # holds today, in the message's own words
    assert "CFSP_:" not in text


def test_lists_and_switches_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("CFSP_API_KEYS", f" {KEY_1} , {KEY_2},")
    monkeypatch.setenv("CFSP_ALLOWED_ORIGINS", "https://news.example.org/, http://127.0.0.1:8000")
    monkeypatch.setenv("CFSP_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    monkeypatch.setenv("CFSP_RATE_LIMIT", "off")
    monkeypatch.setenv("CFSP_RATE_LIMIT_STORAGE", " redis://127.0.0.1:6379/0 ")
    monkeypatch.setenv("CFSP_LLM_BASE_URL", " http://127.0.0.1:8080/v1/ ")
    s = load_settings()
    assert [k.get_secret_value() for k in s.api_keys] == [KEY_1, KEY_2]
    assert all(isinstance(k, SecretStr) for k in s.api_keys) and KEY_1 not in repr(s)  # keys never printed
    assert s.allowed_origins == ("https://news.example.org", "http://127.0.0.1:8000")
    assert s.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")
    assert s.rate_limit is None  # off
    assert s.rate_limit_storage == "redis://127.0.0.1:6379/0"
    assert s.llm_base_url == "http://127.0.0.1:8080/v1"
    # blank values mean unset
    assert Settings(llm_base_url="   ", rate_limit_storage=" ", rate_limit="").llm_base_url is None
    assert Settings(rate_limit=" 3 per 2 seconds ").rate_limit == "3 per 2 seconds"
