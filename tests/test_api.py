"""The HTTP API, widget and mounted chat for real: uvicorn on free loopback ports, httpx, gradio_client, Chromium."""

from __future__ import annotations

import base64
import http.server
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from assistant.config import PROJECT_ROOT, Settings
from assistant.embedding.adapter import adapter_identity
from assistant.errors import ConfigError
from assistant.serve.api import create_app
from assistant.serve.api.security import Guard, KeyRing, RateLimit
from assistant.serve.api.surface import frame_ancestors
from assistant.serve.feedback import FeedbackStore
from assistant.serve.streaming import answer_pieces

from .servers import Served, free_port

MUTUAL_DEFENCE = "Does the EU have a mutual defence clause like NATO?"
KEY = "test-key-0123456789abcdef"
FILE_KEY = "file-key-fedcba9876543210"
NEWSROOM = "https://news.example.org"
EXAMPLE_PAGE = PROJECT_ROOT / "docs" / "widget-example.html"
ANSWER_FIELDS = {
    "answer",
    "citations",
    "abstained",
    "latency_ms",
    "search_query",
    "also_searched",
    "corrections",
    "mode",
    "model",
    "fallback_reason",
    "language",
}
CITATION_FIELDS = {
    "n",
    "label",
    "url",
    "source_id",
    "article",
    "paragraph",
    "kind",
    "kind_label",
    "tier",
    "date",
    "date_label",
    "quote",
    "context",
    "highlights",
    "local_url",
}


# ---------------------------------------------------------------- no server


def test_answer_pieces_join_back_to_the_text():
    text = "If a Member State is the victim of armed aggression on its territory, [1] the others shall help."
    pieces = answer_pieces(text, words=3)
    assert "".join(pieces) == text and len(pieces) == 6 and pieces[0] == "If a Member "
    assert answer_pieces("") == [] and answer_pieces("One.") == ["One."]


def test_frame_ancestors_policy():
    assert frame_ancestors(()) == "frame-ancestors 'self'"
    assert frame_ancestors((NEWSROOM,)) == f"frame-ancestors 'self' {NEWSROOM}"
    assert frame_ancestors(("*",)) == "frame-ancestors *"


def test_key_settings_are_checked(tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# operators\n{FILE_KEY}  # newsroom\n\nshort\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"keys.txt, line 4: an API key needs at least 16 characters"):
        KeyRing(path=keys)
    keys.write_text(f"# operators\n{FILE_KEY}  # newsroom\n", encoding="utf-8")
    ring = KeyRing([KEY], keys)
    assert ring.valid(KEY) and ring.valid(FILE_KEY) and not ring.valid("x" * 20) and not ring.valid(None)
    with pytest.raises(ConfigError, match="cannot read the API keys file"):
        KeyRing(path=tmp_path / "missing.txt")
    with pytest.raises(ConfigError, match="protect_chat needs API keys"):
        KeyRing.from_settings(Settings(protect_chat=True))
    for bad, message in (
        (dict(api_keys="short"), "fewer than 16 characters"),
        (dict(rate_limit="lots"), "is not a rate such as '60/minute'"),
        (dict(allowed_origins="https://news.example.org/page"), "no path"),
    ):
        with pytest.raises(ValueError, match=message):
            Settings(**bad)
    assert Settings(rate_limit="off").rate_limit is None
    assert Settings(allowed_origins=f"{NEWSROOM}/, http://127.0.0.1:8000").allowed_origins == (
        NEWSROOM,
        "http://127.0.0.1:8000",
    )


def test_keys_file_revocation_fails_closed(tmp_path, caplog):
    keys, new_key = tmp_path / "keys.txt", "rotated-key-aaaaaaaaaaaa"
    keys.write_text(f"{FILE_KEY}\n", encoding="utf-8")
    ring = KeyRing([KEY], keys)
    assert ring.valid(FILE_KEY)

    # deleted: its keys stop working at once, the settings' keys still work, and the log says so once
    keys.unlink()
    with caplog.at_level("INFO", logger="assistant.serve.api.security"):
        assert [ring.valid(FILE_KEY) for _ in range(5)] == [False] * 5
        assert ring.valid(KEY) and ring.enabled
        assert caplog.text.count("cannot be read") == 1, caplog.text

        # back with an invalid line and a new key: the invalid line is skipped and named, the valid one applies
        keys.write_text(f"short\n{new_key}\n", encoding="utf-8")
        assert ring.valid(new_key) and not ring.valid(FILE_KEY)
        assert "keys.txt, line 1" in caplog.text and caplog.text.count("line 1") == 1

        # rewritten with only an invalid line: no key from the file is valid any more
        keys.write_text("short\n", encoding="utf-8")
        assert not ring.valid(new_key) and ring.valid(KEY)

        # replaced by a file of the same size and modification time: noticed by its content within a second
        keys.write_text(f"{FILE_KEY}\n", encoding="utf-8")
        assert ring.valid(FILE_KEY)
        stamp = keys.stat()
        other = "other-key-0123456789abcde"
        assert len(other) == len(FILE_KEY)
        keys.write_text(f"{other}\n", encoding="utf-8")
        os.utime(keys, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        time.sleep(1.1)
        assert ring.valid(other) and not ring.valid(FILE_KEY)

        # unreadable (here: a folder in its place): fails closed as well
        keys.unlink()
        keys.mkdir()
        assert not ring.valid(other) and ring.valid(KEY)


def test_forwarded_for_is_believed_only_from_trusted_proxies():
    """A local process must not get a fresh rate-limit bucket by sending X-Forwarded-For (uvicorn's default trusts
    127.0.0.1); behind a configured proxy each forwarded client has its own bucket."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from assistant.serve.api import uvicorn_options

    async def whoami(request):
        return PlainTextResponse(request.client.host)

    def served(settings: Settings) -> Served:
        app = Guard(
            Starlette(routes=[Route("/api/v1/whoami", whoami)]),
            keys=KeyRing(),
            rate=RateLimit("2/minute"),
            protect_chat=False,
        )
        options = uvicorn_options(settings)
        assert (options["host"], options["port"], options["timeout_graceful_shutdown"]) == (settings.host, 7860, 5)
        return Served(app, **{k: v for k, v in options.items() if k not in ("host", "port")})

    def calls(url: str) -> list[tuple[int, str]]:
        return [
            (r.status_code, r.text)
            for r in (
                httpx.get(f"{url}/api/v1/whoami", headers={"X-Forwarded-For": ip})
                for ip in ("203.0.113.1", "203.0.113.2", "203.0.113.3")
            )
        ]

    default = served(Settings())
    try:
        assert [status for status, _ in calls(default.url)] == [200, 200, 429]  # one bucket: the real address
        assert httpx.get(f"{default.url}/api/v1/whoami", headers={"X-Forwarded-For": "198.51.100.9"}).status_code == 429
    finally:
        default.stop()
    behind_proxy = served(Settings(trusted_proxies="127.0.0.1, 10.0.0.1/8"))
    try:
        assert calls(behind_proxy.url) == [(200, "203.0.113.1"), (200, "203.0.113.2"), (200, "203.0.113.3")]
    finally:
        behind_proxy.stop()
    assert uvicorn_options(Settings(trusted_proxies="10.0.0.1/8"))["forwarded_allow_ips"] == "10.0.0.0/8"


# ---------------------------------------------------------------- servers


def settings_with(base: Settings, **changes) -> Settings:
    """The session's full-index settings with API settings changed (validated like any Settings)."""
    return Settings(**{**base.model_dump(), **changes})


class HostSite:
    """A second origin serving the example page, its script pointed at the test assistant."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.page = b""
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server protocol
                body, status = (site.page, 200) if self.path in ("/", "/index.html") else (b"not found", 404)
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def show(self, assistant_url: str) -> None:
        """Serve the committed example page with its assistant address replaced by the test server's."""
        self.page = EXAMPLE_PAGE.read_text(encoding="utf-8").replace("http://127.0.0.1:7860", assistant_url).encode()

    def stop(self) -> None:
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def host_site() -> Iterator[HostSite]:
    site = HostSite()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def open_api(assistant, full_settings, host_site, tmp_path_factory) -> Iterator[str]:
    """No keys, no rate limit; the newsroom and the example host site may embed the widget."""
    settings = settings_with(full_settings, rate_limit="off", allowed_origins=(NEWSROOM, host_site.url))
    store = FeedbackStore(tmp_path_factory.mktemp("open") / "feedback.sqlite")
    served = Served(create_app(assistant, settings, store, stream_delay=0))
    host_site.show(served.url)
    yield served.url
    served.stop()


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "keys.txt"
    path.write_text(f"# test keys\n{FILE_KEY}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def keyed_api(assistant, full_settings, keys_file, tmp_path_factory) -> Iterator[str]:
    """Keys from the settings and a file, a protected chat page, 3 requests per 2 seconds per caller."""
    settings = settings_with(
        full_settings, api_keys=(KEY,), api_keys_file=keys_file, protect_chat=True, rate_limit="3/2 seconds"
    )
    store = FeedbackStore(tmp_path_factory.mktemp("keyed") / "feedback.sqlite")
    served = Served(create_app(assistant, settings, store, stream_delay=0))
    yield served.url
    served.stop()


def ask(url: str, body, **kwargs) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/ask", json=body, timeout=60, **kwargs)


def assert_error(response: httpx.Response, status: int, *phrases: str) -> str:
    """An error is JSON with one `error` line (never a traceback) and the expected status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"] and "Traceback" not in body["error"]
    for phrase in phrases:
        assert phrase in body["error"], body["error"]
    return body["error"]


# ---------------------------------------------------------------- endpoints


@pytest.mark.slow
def test_ask_answers_with_citations_of_the_treaty(open_api):
    response = ask(open_api, {"question": MUTUAL_DEFENCE})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == ANSWER_FIELDS and not body["abstained"] and "[1]" in body["answer"]
    assert body["search_query"] == MUTUAL_DEFENCE and body["latency_ms"] > 0
    # no language model configured: quoted, in English, and nothing to explain
    assert (body["mode"], body["model"], body["fallback_reason"], body["language"]) == ("extractive", "", "", "en")
    assert all(set(c) == CITATION_FIELDS for c in body["citations"])
    assert [c["n"] for c in body["citations"]] == list(range(1, len(body["citations"]) + 1))
    teu = [c for c in body["citations"] if c["source_id"] == "TEU" and c["article"] == "42"]
    assert teu and teu[0]["label"].startswith("Art. 42") and teu[0]["url"].startswith("http://data.europa.eu/eli/")
    assert all(c["quote"] and c["quote"][:40] in body["answer"] for c in body["citations"])


@pytest.mark.slow
def test_follow_up_is_read_with_its_history(open_api):
    first = ask(open_api, {"question": MUTUAL_DEFENCE}).json()
    history = [{"role": "user", "content": MUTUAL_DEFENCE}, {"role": "assistant", "content": first["answer"]}]
    body = ask(open_api, {"question": "Does it apply to neutral countries?", "history": history, "top_k": 8}).json()
    assert body["search_query"] != "Does it apply to neutral countries?"  # the topic was carried into the search
    assert any(c["source_id"] == "TEU" and c["article"] == "42" for c in body["citations"])


@pytest.mark.slow
def test_out_of_scope_question_abstains(open_api):
    body = ask(open_api, {"question": "What is the best recipe for apple pie?"}).json()
    assert body["abstained"] and body["citations"] == []


@pytest.mark.slow
def test_sources_and_health(open_api, assistant):
    sources = httpx.get(f"{open_api}/api/v1/sources").json()
    assert sources["documents"] == len(sources["sources"]) == len(assistant.index.manifest.sources)
    assert sources["chunks"] == len(assistant.index.chunks)
    teu = next(s for s in sources["sources"] if s["source_id"] == "TEU")
    assert teu["kind"] == "treaty" and teu["tier"] == 1 and teu["chunks"] > 100 and teu["url"].startswith("https://")
    assert sum(s["chunks"] for s in sources["sources"]) == sources["chunks"]

    health = httpx.get(f"{open_api}/api/v1/health").json()
    assert health == {
        "status": "ok",
        "ready": True,
        "problem": None,
        "generation": assistant.index.generation,
        "documents": assistant.index.manifest.documents,
        "chunks": len(assistant.index.chunks),
        "embedding_model": adapter_identity(),  # the fine-tuned model, named by its adapter
        "embedding_provider": "local",
        "dimension": 384,
        "vector_store": "embedded",
        "built_at": assistant.index.manifest.built_at,
    }  # no worker_pid: that is for operators (tests/test_adversarial.py)


def read_events(response: httpx.Response) -> list[tuple[str, dict]]:
    """(event, data) pairs of a text/event-stream body."""
    events, name, data = [], None, []
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif not line and data:
            events.append((name, json.loads("\n".join(data))))
            name, data = None, []
    return events


@pytest.mark.slow
def test_stream_sends_pieces_then_the_same_answer_as_json(open_api):
    question = {"question": "What is PESCO?"}
    with httpx.stream("POST", f"{open_api}/api/v1/ask/stream", json=question, timeout=60) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
    names = [name for name, _ in events]
    assert names[-1] == "answer" and set(names[:-1]) == {"delta"} and len(names) > 5
    final = events[-1][1]
    assert "".join(data["text"] for _, data in events[:-1]) == final["answer"]
    plain = ask(open_api, question).json()
    assert {k: v for k, v in final.items() if k != "latency_ms"} == {
        k: v for k, v in plain.items() if k != "latency_ms"
    }
    # bad input is a plain JSON error before any stream opens
    assert_error(httpx.post(f"{open_api}/api/v1/ask/stream", json={"question": " "}), 422, "the question is empty")


@pytest.mark.slow
def test_embeddings_are_the_local_models(open_api, embedder):
    texts = ["Article 42(7) TEU: the mutual assistance clause.", "permanent structured cooperation", "sanctions"]
    response = httpx.post(f"{open_api}/v1/embeddings", json={"input": texts, "model": "cfsp-minilm"}, timeout=60)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list" and body["model"] == adapter_identity()
    assert [row["index"] for row in body["data"]] == [0, 1, 2] and all(r["object"] == "embedding" for r in body["data"])
    served = np.array([row["embedding"] for row in body["data"]], dtype=np.float32)
    assert served.shape == (3, 384)
    assert np.abs(served - embedder.embed_texts(texts)).max() < 1e-5
    tokens = sum(embedder.count_tokens(t) for t in texts)
    assert body["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}

    one = httpx.post(f"{open_api}/v1/embeddings", json={"input": "What is PESCO?"}).json()
    assert len(one["data"]) == 1
    assert np.abs(np.array(one["data"][0]["embedding"]) - embedder.embed_query("What is PESCO?")).max() < 1e-5

    packed = httpx.post(f"{open_api}/v1/embeddings", json={"input": texts, "encoding_format": "base64"}).json()
    unpacked = np.array([np.frombuffer(base64.b64decode(r["embedding"]), dtype="<f4") for r in packed["data"]])
    assert np.abs(unpacked - served).max() < 1e-6


@pytest.mark.slow
def test_embeddings_limits(open_api, full_settings):
    post = lambda body: httpx.post(f"{open_api}/v1/embeddings", json=body, timeout=60)  # noqa: E731
    limit = full_settings.max_embedding_inputs
    assert_error(post({"input": ["x"] * (limit + 1)}), 422, f"the limit is {limit} per request")
    assert_error(
        post({"input": ["ok", "y" * (full_settings.max_embedding_chars + 1)]}), 422, "input 1 is", "the limit is"
    )
    assert_error(post({"input": []}), 422, "input is empty")
    assert_error(post({"input": ["fine", "  "]}), 422, "input 1 is empty")
    assert_error(post({"input": "x", "model": "text-embedding-3-small"}), 404, "cfsp-minilm@")
    assert_error(post({"input": "x", "dimensions": 1536}), 422, "dimensions must be 384")
    assert_error(post({"input": [[101, 2054]]}), 422, "input")


# ---------------------------------------------------------------- bad input and errors


@pytest.mark.slow
def test_request_limits_are_422_with_clear_messages(open_api, full_settings):
    limit = full_settings.max_question_chars
    assert_error(ask(open_api, {"question": "x" * (limit + 1)}), 422, f"the limit is {limit}")
    assert_error(ask(open_api, {"question": "   "}), 422, "the question is empty")
    turns = full_settings.max_history_turns
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": "PESCO"} for i in range(turns + 1)]
    assert_error(ask(open_api, {"question": "And then?", "history": history}), 422, f"the limit is {turns}")
    top = full_settings.max_top_k
    for top_k in (0, -1, top + 1):
        assert_error(ask(open_api, {"question": "What is PESCO?", "top_k": top_k}), 422, f"between 1 and {top}")
    assert_error(ask(open_api, {"question": "What is PESCO?", "top_k": "many"}), 422, "top_k")
    assert_error(
        ask(open_api, {"question": "Why?", "history": [{"role": "system", "content": "x"}]}), 422, "history.0.role"
    )
    assert_error(ask(open_api, {"question": "Why?", "extra": 1}), 422, "extra")
    assert ask(open_api, {"question": "What is PESCO?", "top_k": top}).status_code == 200


@pytest.mark.slow
def test_malformed_requests_are_json_errors_never_500(open_api):
    url = f"{open_api}/api/v1/ask"
    headers = {"Content-Type": "application/json"}
    assert_error(httpx.post(url, content=b'{"question": ', headers=headers), 400, "not valid JSON")
    assert_error(httpx.post(url, content=b"\xff\xfe garbage", headers=headers), 400, "not valid JSON")
    assert_error(httpx.post(url, content=b"[1, 2]", headers=headers), 422)
    assert_error(httpx.post(url, content=b'"just a string"', headers=headers), 422)
    assert_error(httpx.post(url), 422, "needs a JSON body")
    assert_error(httpx.post(url, content=b"question=hi", headers={"Content-Type": "text/plain"}), 422)
    assert_error(httpx.get(url), 405, "use POST")
    assert_error(httpx.get(f"{open_api}/api/v1/nothing-here"), 404, "no such API endpoint")
    assert_error(httpx.post(f"{open_api}/v1/chat/completions", json={}), 404, "no such API endpoint")


@pytest.mark.slow
def test_oversized_body_is_413_before_it_is_read(open_api, full_settings):
    limit = full_settings.max_body_bytes
    big = json.dumps({"question": "x" * (limit + 10)}).encode()
    assert_error(
        httpx.post(f"{open_api}/api/v1/ask", content=big, headers={"Content-Type": "application/json"}),
        413,
        f"larger than {limit} bytes",
    )

    def chunked():  # no Content-Length: counted as it arrives
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    assert_error(
        httpx.post(f"{open_api}/v1/embeddings", content=chunked(), headers={"Content-Type": "application/json"}),
        413,
        "larger than",
    )


@pytest.mark.slow
def test_unexpected_failure_is_a_bare_500(open_api, assistant, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("index file /srv/secret/chunks.jsonl is corrupt")

    monkeypatch.setattr(assistant, "ask", broken)
    with caplog.at_level("ERROR"):
        response = ask(open_api, {"question": "What is PESCO?"})
    assert_error(response, 500)
    assert response.json() == {"error": "internal error"} and "secret" not in response.text
    assert "corrupt" in caplog.text  # the details go to the server log


# ---------------------------------------------------------------- keys, rate limits, CORS, frames


@pytest.mark.slow
def test_api_keys(keyed_api, keys_file):
    health = f"{keyed_api}/api/v1/health"
    missing = httpx.get(health)
    assert_error(missing, 401, "an API key is required", "Authorization: Bearer")
    assert missing.headers["www-authenticate"] == 'Bearer realm="cfsp-assistant"'
    wrong = httpx.get(health, headers={"Authorization": "Bearer not-a-key-0000000000"})
    assert_error(wrong, 401, "invalid API key")
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert_error(httpx.post(f"{keyed_api}/v1/embeddings", json={"input": "x"}), 401)  # (3 keyless calls: the limit)
    assert httpx.get(health, headers={"Authorization": f"Bearer {KEY}"}).json()["ready"]
    assert httpx.get(health, headers={"Authorization": f"Bearer {FILE_KEY}"}).status_code == 200

    # the chat page is protected too in this configuration; the documentation and embed script stay public
    assert httpx.get(f"{keyed_api}/").status_code == 401
    assert httpx.get(f"{keyed_api}/widget/").status_code == 401
    assert httpx.get(f"{keyed_api}/", headers={"Authorization": KEY}).status_code == 401  # no "Bearer" scheme
    assert httpx.get(f"{keyed_api}/", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert httpx.get(f"{keyed_api}/docs").status_code == 200 and httpx.get(f"{keyed_api}/widget.js").status_code == 200

    # keys added to or removed from the file apply without a restart
    new_key = "rotated-key-aaaaaaaaaaaa"
    original = keys_file.read_text(encoding="utf-8")
    keys_file.write_text(original + new_key + "\n", encoding="utf-8")
    os.utime(keys_file, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    try:
        assert httpx.get(health, headers={"Authorization": f"Bearer {new_key}"}).status_code == 200
    finally:
        keys_file.write_text(original, encoding="utf-8")
        os.utime(keys_file, ns=(time.time_ns(), time.time_ns() + 2_000_000))
    time.sleep(2.1)  # the key's requests leave the rate-limit window before the next test
    assert httpx.get(health, headers={"Authorization": f"Bearer {new_key}"}).status_code == 401


@pytest.mark.slow
def test_rate_limit_per_key_and_recovery(keyed_api):
    health = f"{keyed_api}/api/v1/health"
    by_file_key = {"Authorization": f"Bearer {FILE_KEY}"}
    time.sleep(2.1)  # a fresh window for this test's callers
    assert [httpx.get(health, headers=by_file_key).status_code for _ in range(3)] == [200, 200, 200]
    limited = httpx.get(health, headers=by_file_key)
    assert_error(limited, 429, "too many requests", "3 per 2 second")
    wait = int(limited.headers["retry-after"])
    assert 1 <= wait <= 2
    # another key has its own allowance
    assert httpx.get(health, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    # callers without a valid key are counted by address, so guessing keys is slowed down as well
    guesses = [httpx.get(health, headers={"Authorization": f"Bearer guess-{i:016d}"}).status_code for i in range(4)]
    assert guesses == [401, 401, 401, 429]
    time.sleep(wait + 0.1)
    assert httpx.get(health, headers=by_file_key).status_code == 200  # the window has moved on


@pytest.mark.slow
def test_gradio_client_with_a_key_on_the_protected_chat(keyed_api):
    from gradio_client import Client

    client = Client(f"{keyed_api}/", verbose=False, headers={"Authorization": f"Bearer {KEY}"})
    messages = client.predict("What is PESCO?", api_name="/ask")
    assert len(messages) == 2 and "[1]" in str(messages[-1]["content"])


@pytest.mark.slow
def test_cors_only_for_allowed_origins(open_api):
    health = f"{open_api}/api/v1/health"
    allowed = httpx.get(health, headers={"Origin": NEWSROOM})
    assert allowed.headers["access-control-allow-origin"] == NEWSROOM
    other = httpx.get(health, headers={"Origin": "https://elsewhere.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    ok = httpx.options(f"{open_api}/api/v1/ask", headers={"Origin": NEWSROOM, **preflight})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == NEWSROOM
    assert "POST" in ok.headers["access-control-allow-methods"]
    refused = httpx.options(f"{open_api}/api/v1/ask", headers={"Origin": "https://elsewhere.example", **preflight})
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    # the chat page's own routes follow the same policy (Gradio's localhost rules are not added)
    config = httpx.get(f"{open_api}/config", headers={"Origin": "http://localhost:9999"})
    assert "access-control-allow-origin" not in config.headers


@pytest.mark.slow
def test_widget_page_script_and_frame_policy(open_api, host_site):
    widget = httpx.get(f"{open_api}/widget/")
    assert widget.status_code == 200 and "text/html" in widget.headers["content-type"]
    assert widget.headers["content-security-policy"].endswith(f"; frame-ancestors 'self' {NEWSROOM} {host_site.url}")
    assert httpx.get(f"{open_api}/").headers["content-security-policy"].endswith("; frame-ancestors 'self'")
    assert "content-security-policy" not in httpx.get(f"{open_api}/api/v1/health").headers
    redirect = httpx.get(f"{open_api}/widget")
    assert redirect.status_code == 307 and redirect.headers["location"] == "widget/"
    script = httpx.get(f"{open_api}/widget.js")
    assert script.headers["content-type"].startswith("text/javascript") and 'new URL("widget/", base)' in script.text
    docs = httpx.get(f"{open_api}/docs")
    assert docs.status_code == 200 and "/docs/static/swagger-ui-bundle.js" in docs.text  # served here, no CDN
    paths = httpx.get(f"{open_api}/openapi.json").json()["paths"]
    assert set(paths) == {"/api/v1/ask", "/api/v1/ask/stream", "/api/v1/sources", "/api/v1/health", "/v1/embeddings"}


@pytest.mark.slow
def test_gradio_client_on_the_mounted_chat_and_widget(open_api):
    from gradio_client import Client

    for url in (f"{open_api}/", f"{open_api}/widget/"):
        messages = Client(url, verbose=False).predict(MUTUAL_DEFENCE, api_name="/ask")
        answer = str(messages[-1]["content"])
        assert len(messages) == 2 and "[1]" in answer and "TEU" in answer, url


# ---------------------------------------------------------------- the example page in a browser


@pytest.mark.slow
def test_example_page_embeds_a_working_chat(open_api, host_site, browser, tmp_path):
    page = browser.new_page(viewport={"width": 900, "height": 1000})
    page.goto(host_site.url)
    frame = page.frame_locator("#cfsp-assistant iframe")
    frame.locator("#cfsp-chat").wait_for(timeout=30_000)
    assert frame.get_by_text("What is PESCO?", exact=True).is_visible()
    box = frame.locator("#cfsp-question textarea")
    box.fill(MUTUAL_DEFENCE)
    box.press("Enter")
    frame.locator("#cfsp-chat .cfsp-sources").wait_for(timeout=30_000)
    sources = frame.locator("#cfsp-chat .cfsp-sources").last.inner_text()
    assert "TEU" in sources
    page.screenshot(path=tmp_path / "widget-example.png")
    page.close()


@pytest.mark.slow
def test_docs_page_renders_offline(open_api, browser):
    page = browser.new_page()
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(open_api) else None)
    page.goto(f"{open_api}/docs")
    page.get_by_text("/api/v1/ask/stream", exact=True).wait_for(timeout=30_000)
    assert page.locator(".opblock").count() == 5 and outside == []
    page.close()


@pytest.mark.slow
def test_widget_refuses_sites_that_are_not_allowed(open_api, browser):
    other = HostSite()  # another origin, not in allowed_origins
    other.show(open_api)
    try:
        page = browser.new_page()
        page.goto(other.url)
        page.wait_for_selector("#cfsp-assistant iframe")
        page.wait_for_timeout(3000)
        frame = page.frames[-1]
        assert frame.url.startswith(open_api) or frame.url.startswith("chrome-error")
        assert frame.locator("#cfsp-chat").count() == 0  # the browser blocked the frame (frame-ancestors)
        page.close()
    finally:
        other.stop()


@pytest.mark.slow
def test_lone_surrogates_are_422_not_500(open_api):
    def post(path: str, body: dict) -> httpx.Response:
        # json.dumps escapes the lone surrogate as \ud800, as a hostile or buggy client would send it
        return client.post(path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})

    with httpx.Client(base_url=open_api, timeout=60) as client:
        bad = "What is \ud800 PESCO?"
        for path in ("/api/v1/ask", "/api/v1/ask/stream"):
            assert_error(post(path, {"question": bad}), 422, "the question", "invalid character", "position 9")
        history = [{"role": "user", "content": "What is PESCO?"}, {"role": "assistant", "content": "It is \udfff."}]
        assert_error(
            post("/api/v1/ask", {"question": "Who can join it?", "history": history}),
            422,
            "history turn 2",
            "invalid character",
        )
        assert_error(post("/v1/embeddings", {"input": bad}), 422, "input 0", "invalid character")
        assert_error(post("/v1/embeddings", {"input": ["fine", "\udc80"]}), 422, "input 1", "invalid character")
        assert_error(post("/api/v1/ask", {"question": "Why?", "\ud800": 1}), 422)  # echoed in the message: still JSON
        assert (
            post("/api/v1/ask", {"question": "What is PESCO? 🇪🇺"}).status_code == 200
        )  # real astral characters are fine


@pytest.mark.slow
def test_other_methods_are_405_with_allow(open_api):
    for path, allowed in (
        ("/api/v1/ask", "POST"),
        ("/api/v1/ask/stream", "POST"),
        ("/v1/embeddings", "POST"),
        ("/api/v1/health", "GET"),
        ("/api/v1/sources", "GET"),
    ):
        for method in ("PUT", "DELETE", "PATCH", "OPTIONS") + (("HEAD",) if allowed == "POST" else ()):
            response = httpx.request(method, f"{open_api}{path}")
            assert response.status_code == 405, (method, path, response.text)
            assert response.headers["allow"] == allowed, (method, path)
            if method != "HEAD":  # a HEAD answer has no body
                assert_error(response, 405, f"use {allowed} for {path}")
    assert httpx.head(f"{open_api}/api/v1/health").status_code == 200  # HEAD is part of GET
    assert_error(httpx.put(f"{open_api}/api/v1/nothing-here"), 404, "no such API endpoint")
    assert_error(httpx.delete(f"{open_api}/v1/models"), 404, "no such API endpoint")
    # a CORS preflight from an allowed site is still answered by the CORS layer
    preflight = {"Origin": NEWSROOM, "Access-Control-Request-Method": "POST"}
    ok = httpx.options(f"{open_api}/api/v1/ask", headers=preflight)
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == NEWSROOM


@pytest.mark.slow
def test_embeddings_total_characters_are_capped(open_api, full_settings):
    cap, each = full_settings.max_embedding_total_chars, full_settings.max_embedding_chars
    texts = ["x" * each] * (cap // each + 1)
    response = httpx.post(f"{open_api}/v1/embeddings", json={"input": texts}, timeout=60)
    assert_error(response, 422, f"input has {len(texts) * each:,} characters in all; the limit is {cap:,} per request")


@pytest.mark.slow
def test_questions_keep_their_latency_while_embeddings_run(assistant, full_settings, tmp_path):
    """Large embeddings requests once took every model slot and a 30 ms question waited seconds behind them."""
    settings = settings_with(full_settings, rate_limit="off", concurrency_limit=1, embedding_concurrency=1)
    served = Served(create_app(assistant, settings, FeedbackStore(tmp_path / "feedback.sqlite"), stream_delay=0))
    texts = ["the council shall adopt decisions on the union's approach " * 140] * 12  # ≈ 96,000 characters
    texts = [t[: settings.max_embedding_chars] for t in texts]
    finished: list[float] = []

    def embed() -> None:
        assert httpx.post(f"{served.url}/v1/embeddings", json={"input": texts}, timeout=120).status_code == 200
        finished.append(time.monotonic())

    try:
        ask(served.url, {"question": "What is PESCO?"})  # warm
        load = [threading.Thread(target=embed) for _ in range(4)]
        for thread in load:
            thread.start()
        time.sleep(0.5)  # every embeddings request has arrived: one computing, three waiting
        latencies = []
        for question in ("What is PESCO?", MUTUAL_DEFENCE, "Who can join PESCO?"):
            started = time.monotonic()
            assert ask(served.url, {"question": question}).status_code == 200
            latencies.append(time.monotonic() - started)
        answered = time.monotonic()
        for thread in load:
            thread.join()
    finally:
        served.stop()
    assert max(latencies) < 1.0, latencies  # measured ≈ 0.03 s; behind the embeddings it was 2-4 s
    assert assistant.embedder.threads == 1  # serving: one thread per model call (torch: question p95 88 -> 33 ms)
    assert len(finished) == 4 and answered < max(finished)  # the embeddings were still running meanwhile


# ---------------------------------------------------------------- the chat's questions share the rate limit


@pytest.fixture
def limited_chat(assistant, full_settings, tmp_path) -> Iterator[str]:
    """Keys, a protected chat page and a small limit that the API, the page and the widget share."""
    settings = settings_with(
        full_settings, api_keys=(KEY, "second-key-0123456789ab"), protect_chat=True, rate_limit="4/minute"
    )
    served = Served(create_app(assistant, settings, FeedbackStore(tmp_path / "feedback.sqlite"), stream_delay=0))
    yield served.url
    served.stop()


@pytest.mark.slow
def test_chat_questions_count_against_the_same_rate_limit(limited_chat):
    from gradio_client import Client

    auth = {"Authorization": f"Bearer {KEY}"}
    assert ask(limited_chat, {"question": "What is PESCO?"}, headers=auth).status_code == 200
    page = Client(f"{limited_chat}/", verbose=False, headers=auth)
    widget = Client(f"{limited_chat}/widget/", verbose=False, headers=auth)
    assert len(page.predict("What is PESCO?", api_name="/ask")) == 2
    assert len(widget.predict("What is PESCO?", api_name="/ask")) == 2
    assert (
        httpx.post(
            f"{limited_chat}/gradio_api/call/ask", json={"data": ["Who can join PESCO?"]}, headers=auth
        ).status_code
        == 200
    )  # the fourth question of this key, by Gradio's REST form

    # the fifth is refused whichever door it takes, with the wait in words
    assert_error(ask(limited_chat, {"question": "What is PESCO?"}, headers=auth), 429, "too many requests")
    for path in ("/gradio_api/call/ask", "/widget/gradio_api/call/ask"):
        refused = httpx.post(f"{limited_chat}{path}", json={"data": ["What is PESCO?"]}, headers=auth)
        assert_error(refused, 429, "too many questions: the limit is 4 per 1 minute; try again in")
        assert int(refused.headers["retry-after"]) >= 1
    with pytest.raises(httpx.HTTPStatusError, match="429"):
        page.predict("Who can join it?", api_name="/ask")
    # another key has its own allowance; the queue cannot be skipped through Gradio's direct REST route
    other = {"Authorization": "Bearer second-key-0123456789ab"}
    assert len(Client(f"{limited_chat}/", verbose=False, headers=other).predict("What is PESCO?", api_name="/ask")) == 2
    direct = httpx.post(f"{limited_chat}/gradio_api/run/ask", json={"data": ["What is PESCO?", []]}, headers=other)
    assert direct.status_code == 404 and "[1]" not in direct.text


@pytest.fixture
def limited_open_chat(assistant, full_settings, tmp_path) -> Iterator[str]:
    """An open chat page (no keys) with 3 questions per minute per address."""
    settings = settings_with(full_settings, rate_limit="3/minute")
    served = Served(create_app(assistant, settings, FeedbackStore(tmp_path / "feedback.sqlite"), stream_delay=0))
    yield served.url
    served.stop()


@pytest.mark.slow
def test_browser_question_over_the_limit_is_told_and_kept(limited_open_chat, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(f"{limited_open_chat}/")
    page.wait_for_selector("#cfsp-chat")
    for question in ("What is PESCO?", "Who can join PESCO?", MUTUAL_DEFENCE):  # one question counts once
        page.fill("#cfsp-question textarea", question)
        page.press("#cfsp-question textarea", "Enter")
        page.wait_for_function(
            """n => document.querySelectorAll('#cfsp-chat .cfsp-sources').length === n
                                     && document.querySelector('#cfsp-send')?.offsetParent != null""",
            arg=page.locator("#cfsp-chat .cfsp-sources").count() + 1,
            timeout=30_000,
        )
    page.fill("#cfsp-question textarea", "What is the solidarity clause?")
    page.press("#cfsp-question textarea", "Enter")
    notice = page.get_by_text(re.compile(r"too many questions: the limit is 3 per 1 minute; try again in \d+ s", re.I))
    notice.first.wait_for(timeout=15_000)
    page.wait_for_timeout(1000)  # nothing else is going to happen
    assert page.input_value("#cfsp-question textarea") == "What is the solidarity clause?"  # nothing lost
    assert not page.locator("#cfsp-question textarea").is_disabled() and page.locator("#cfsp-send").is_visible()
    assert (
        page.locator("#cfsp-chat .cfsp-sources").count() == 3 and page.locator("#cfsp-chat .bot-row").last.is_visible()
    )
    page.screenshot(path=tmp_path / "rate-limited.png")
    page.close()
