"""Who may call, how often and how much, each piece on its own: the keys file, bearer tokens, the in-memory rate
limit, the chat's refusal message, and the Guard and BodyLimit middlewares called directly as ASGI apps (no
server is started)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

from assistant.config import Settings
from assistant.serve.api.security import (
    REALM,
    BodyLimit,
    Guard,
    KeyRing,
    RateLimit,
    caller_of,
    enqueues_question,
    is_api,
    is_public,
    parse_keys,
    question_refusal,
    redacted,
    token_of,
)

KEY = "settings-key-0123456789"
OPERATOR = "operator-key-0123456789"
FILE_KEY = "file-key-abcdefghijklmn"
CLIENT = "203.0.113.7"


class Inner:
    """The app behind a middleware: answers 200 and remembers each request and the body it read."""

    def __init__(self):
        self.calls: list[tuple[str, bytes]] = []

    async def __call__(self, scope, receive, send):
        body, more = b"", True
        while more and scope["method"] in ("POST", "PUT", "PATCH"):
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.calls.append((scope["path"], body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def call(app, method: str, path: str, headers: dict[str, str] | None = None, body: list[bytes] | None = None):
    """One request through an ASGI app: (status, headers, JSON or text of the response)."""
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": (CLIENT, 50000),
        "server": ("testserver", 80),
    }
    parts = body or [b""]
    incoming = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]
    sent: list[dict] = []

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    # in a thread of its own: a test before this one may leave an event loop running in the main thread
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    start = sent[0]
    raw = b"".join(m.get("body", b"") for m in sent[1:])
    text = raw.decode()
    return (
        start["status"],
        {k.decode().lower(): v.decode() for k, v in start["headers"]},
        json.loads(text) if text.startswith("{") else text,
    )


# ---------------------------------------------------------------- keys


def test_the_keys_file_keeps_its_keys_and_names_each_unusable_line(tmp_path):
    path = tmp_path / "keys.txt"
    text = (
        "# newsroom keys\n"
        f"{FILE_KEY}   # Le Monde\n"
        "\n"
        "too-short\n"
        f"{'k' * 20}\ufffd\n"  # what a byte that is not UTF-8 becomes when the file is decoded
        f"  {OPERATOR}  \n"
    )
    keys, problems = parse_keys(text, path)
    assert keys == {FILE_KEY, OPERATOR}
    assert problems == [
        f"{path}, line 4: an API key needs at least 16 characters",
        f"{path}, line 5: not UTF-8 text",
    ]

    # the settings' keys, the operators' keys and the file's good lines are all accepted; nothing else is
    path.write_text(f"{FILE_KEY}\n", encoding="utf-8")
    ring = KeyRing.from_settings(Settings(api_keys=KEY, operator_keys=OPERATOR, api_keys_file=path))
    assert ring.enabled
    assert [ring.valid(k) for k in (KEY, OPERATOR, FILE_KEY, KEY + "x", "", None)] == [True] * 3 + [False] * 3
    open_api = KeyRing.from_settings(Settings())
    assert not open_api.enabled and not open_api.valid(KEY)


def test_only_a_bearer_token_is_a_key_and_a_valid_key_has_its_own_allowance():
    assert token_of(f"Bearer {KEY}") == KEY
    assert token_of(f"bearer   {KEY}  ") == KEY  # the scheme is case-insensitive; spaces around the token go
    assert [token_of(v) for v in (f"Basic {KEY}", "Bearer", "Bearer  ", "", None)] == [None] * 5

    # a valid key draws on its own allowance, named by a digest (never the key itself); anything else on the address
    digest = hashlib.sha256(KEY.encode()).hexdigest()[:24]
    assert caller_of(KEY, True, CLIENT) == f"key:{digest}"
    assert caller_of(KEY, False, CLIENT) == f"addr:{CLIENT}"
    assert caller_of(None, False, None) == "addr:?"

    # a storage URL in the logs shows no password
    assert redacted("redis://user:s3cret@10.0.0.5:6379/0") == "redis://user:***@10.0.0.5:6379/0"
    assert redacted("rediss://:s3cret@cache:6380/1") == "rediss://:***@cache:6380/1"
    assert redacted("redis://cache:6379/0") == "redis://cache:6379/0"


def test_a_password_with_an_at_sign_is_hidden_whole():
    assert redacted("redis://user:p@ss@cache:6379/0") == "redis://user:***@cache:6379/0"


def test_which_requests_are_guarded_and_which_count_as_a_chat_question():
    assert [is_api(p) for p in ("/api/v1/ask", "/api", "/v1/embeddings", "/v1", "/apidocs", "/v1beta", "/")] == [
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    assert [is_public(p) for p in ("/docs", "/docs/oauth2-redirect", "/widget.js", "/docsx", "/api/v1/ask")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    # a question put in the chat's queue counts; the page's other requests do not
    assert enqueues_question("POST", "/gradio_api/queue/join", ("",))
    assert enqueues_question("POST", "/chat/gradio_api/call/answer", ("/chat",))
    assert not enqueues_question("GET", "/gradio_api/queue/join", ("",))
    assert not enqueues_question("POST", "/gradio_api/queue/data", ("",))
    assert not enqueues_question("POST", "/other/gradio_api/queue/join", ("/chat",))


# ---------------------------------------------------------------- rate limit


def test_the_memory_rate_limit_counts_each_caller_alone_and_looking_counts_nothing():
    rate = RateLimit("2/minute")
    assert not rate.shared
    me, other = f"addr:{CLIENT}", "addr:198.51.100.1"
    assert [rate.peek(me) for _ in range(5)] == [0] * 5  # looking uses nothing up
    assert [rate.hit(me), rate.hit(me)] == [0, 0]
    wait = rate.hit(me)
    assert 1 <= wait <= 60
    assert rate.peek(me) >= 1 and rate.hit(other) == 0
    assert rate.too_many_questions(wait) == f"too many questions: the limit is 2 per 1 minute; try again in {wait} s"

    # the chat page's refusal: judged like the API's (per valid key, else per address), counting nothing
    keys = KeyRing([KEY])
    refusal_rate = RateLimit("1/minute")
    refusal = question_refusal(keys, refusal_rate)
    assert [refusal(f"Bearer {KEY}", CLIENT) for _ in range(3)] == [None] * 3
    refusal_rate.hit(caller_of(KEY, True, CLIENT))  # the key's one question of the minute
    message = refusal(f"Bearer {KEY}", CLIENT)
    assert message is not None and message.startswith("too many questions: the limit is 1 per 1 minute; try again in")
    assert refusal(None, CLIENT) is None  # the address's own allowance is untouched
    assert refusal("Bearer not-a-valid-key-at-all", CLIENT) is None  # an unknown key counts on the address
    assert question_refusal(keys, None)(None, CLIENT) is None  # no rate limit: never refused


# ---------------------------------------------------------------- the middlewares


def test_the_guard_asks_for_a_key_on_the_api_only():
    inner = Inner()
    guard = Guard(inner, KeyRing([KEY]), rate=None, protect_chat=False)

    status, headers, body = call(guard, "GET", "/api/v1/sources")
    assert (status, body) == (401, {"error": "an API key is required: send Authorization: Bearer <key>"})
    assert headers["www-authenticate"] == REALM
    status, headers, body = call(guard, "GET", "/api/v1/sources", {"Authorization": "Bearer wrong-key-0123456789"})
    assert (status, body) == (401, {"error": "invalid API key"})
    assert headers["www-authenticate"] == 'Bearer realm="cfsp-assistant", error="invalid_token"'
    assert inner.calls == []

    assert call(guard, "GET", "/api/v1/sources", {"Authorization": f"Bearer {KEY}"})[0] == 200
    assert call(guard, "OPTIONS", "/api/v1/sources")[0] == 200  # a browser's CORS preflight carries no key
    assert call(guard, "GET", "/docs")[0] == 200
    assert call(guard, "GET", "/")[0] == 200  # the chat page is open unless protected
    assert [path for path, _ in inner.calls] == ["/api/v1/sources", "/api/v1/sources", "/docs", "/"]

    protected = Guard(Inner(), KeyRing([KEY]), rate=None, protect_chat=True)
    assert call(protected, "GET", "/")[0] == 401
    assert call(protected, "GET", "/", {"Authorization": f"Bearer {KEY}"})[0] == 200
    assert call(protected, "GET", "/widget.js")[0] == 200  # the embed script is always public


def test_the_guard_turns_away_a_caller_over_the_rate_limit_with_the_wait():
    inner = Inner()
    guard = Guard(inner, KeyRing(), rate=RateLimit("2/minute"), protect_chat=False)
    assert [call(guard, "GET", "/api/v1/sources")[0] for _ in range(2)] == [200, 200]
    status, headers, body = call(guard, "GET", "/api/v1/sources")
    wait = int(headers["retry-after"])
    assert status == 429 and 1 <= wait <= 60
    assert body == {"error": f"too many requests: the limit is 2 per 1 minute; retry in {wait} s"}
    # the chat page is not counted, but a question put in its queue is, against the same allowance
    assert call(guard, "GET", "/")[0] == 200
    status, _, body = call(guard, "POST", "/gradio_api/queue/join", body=[b"{}"])
    assert status == 429 and body["error"].startswith("too many questions: the limit is 2 per 1 minute")
    assert [path for path, _ in inner.calls] == ["/api/v1/sources", "/api/v1/sources", "/"]


def test_a_body_over_the_limit_is_refused_before_the_app_reads_it():
    inner = Inner()
    limit = BodyLimit(inner, 1024)

    status, _, body = call(limit, "POST", "/api/v1/ask", {"Content-Length": "2000"}, [b"x" * 2000])
    assert (status, body) == (413, {"error": "the request body is larger than 1024 bytes"})
    assert call(limit, "POST", "/api/v1/ask", {"Content-Length": "12abc"})[2] == {
        "error": "invalid Content-Length header"
    }
    # chunked (no length): refused as soon as the parts pass the limit
    assert call(limit, "POST", "/api/v1/ask", body=[b"a" * 400, b"b" * 400, b"c" * 400])[0] == 413
    assert inner.calls == []

    # under the limit the app reads the whole body, as sent
    assert call(limit, "POST", "/api/v1/ask", body=[b"a" * 400, b"b" * 400])[0] == 200
    assert call(limit, "POST", "/api/v1/ask", {"Content-Length": "1024"}, [b"c" * 1024])[0] == 200
    assert inner.calls == [("/api/v1/ask", b"a" * 400 + b"b" * 400), ("/api/v1/ask", b"c" * 1024)]
