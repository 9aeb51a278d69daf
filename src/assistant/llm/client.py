"""An OpenAI-compatible chat model (a hosted API, Ollama, vLLM, llama.cpp) through LangChain's `ChatOpenAI`, used to
word answers, rewrite follow-ups and translate questions — never trusted: what it writes is checked before it is
shown (see checking.py), and any failure falls back to the quoted answer.

A circuit breaker stops calling an endpoint that keeps failing, for a while, so people do not wait on it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any, cast

from ..config import Settings
from ..errors import ConfigError, LLMError

log = logging.getLogger(__name__)

OUTPUTS = ("auto", "json_schema", "json_object", "text")  # how structured answers are asked for
_TAGGED = re.compile(
    r"^\s*(?:SENTENCE:)?\s*(?P<text>.+?)\s*\|\s*MARKERS:\s*(?P<markers>[\d,\s\[\]]+)\s*\|\s*"
    r"EVIDENCE:\s*\"?(?P<evidence>.+?)\"?\s*(?:\|\s*ENGLISH:\s*(?P<english>.+?))?\s*$",
    re.I,
)
_FORMAT_REFUSED = re.compile(r"response_format|json_schema|json_object|literal_error|grammar", re.I)


# The wall-clock deadline of the model call the current thread is making (time.monotonic()), read by the transport
_call = threading.local()


def _deadline_client(timeout: float) -> Any:
    """An httpx client whose requests made under a deadline (`_call.deadline`) have each read bounded by the time
    left and their body cut at the first bytes after it."""
    import httpx

    class DeadlineStream(httpx.SyncByteStream):
        """A response body that stops at the first bytes arriving after the call's deadline: keep-alive comments
        (": ping" lines of an SSE stream, which the client never shows as text) do not extend it."""

        def __init__(self, inner: httpx.SyncByteStream, deadline: float, request: httpx.Request):
            self.inner, self.deadline, self.request = inner, deadline, request

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self.inner:
                if time.monotonic() > self.deadline:
                    raise httpx.ReadTimeout("the call's deadline passed", request=self.request)
                yield chunk

        def close(self) -> None:
            self.inner.close()

    class DeadlineTransport(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            deadline = getattr(_call, "deadline", None)
            if deadline is None:
                return super().handle_request(request)
            left = max(0.05, deadline - time.monotonic())
            request.extensions["timeout"] = {"connect": left, "read": left, "write": left, "pool": left}
            response = super().handle_request(request)
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=DeadlineStream(cast(httpx.SyncByteStream, response.stream), deadline, request),
                extensions=response.extensions,
                request=request,
            )

    return httpx.Client(transport=DeadlineTransport(), timeout=timeout)


class Circuit:
    """After `failures` failures in a row, calls are refused for `seconds`; then one call may try again."""

    def __init__(self, failures: int, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.failures, self.seconds, self.clock = failures, seconds, clock
        self._count = 0
        self._open_until = 0.0
        self._lock = threading.Lock()

    def allows(self) -> bool:
        """May the endpoint be called now?"""
        with self._lock:
            return self.clock() >= self._open_until

    def record(self, ok: bool) -> None:
        """Count a call's outcome: a success closes the circuit, the n-th failure in a row opens it."""
        with self._lock:
            if ok:
                self._count, self._open_until = 0, 0.0
                return
            self._count += 1
            if self._count >= self.failures:
                self._open_until = self.clock() + self.seconds
                self._count = 0
                log.warning(
                    "language model endpoint failed %d times in a row: not called for %.0f s",
                    self.failures,
                    self.seconds,
                )


@dataclass(frozen=True)
class Chat:
    """One request: a system instruction, the user's part (data), an output limit, for structured answers the
    JSON schema the reply must follow, and the characters read at most (0: the configured `llm_max_reply_chars`)."""

    system: str
    user: str
    max_tokens: int
    schema: dict[str, Any] | None = None
    max_chars: int = 0
    # False for a translation: a wrong or overlong one is the model's failing at the task, not the endpoint's, and
    # must not take the model away from English questions
    trips_circuit: bool = True


class LanguageModel:
    """The configured chat model. Thread-safe; one instance is shared by every request of a server."""

    def __init__(self, settings: Settings):
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:  # the `llm` extra: `bash scripts/run.sh` adds it when CFSP_LLM_BASE_URL is set
            raise ConfigError(
                "CFSP_LLM_BASE_URL is set but the language-model extra is not installed: "
                "run `.venv/bin/pip install -e '.[llm]'` (or `bash scripts/run.sh`, which adds it)"
            ) from None

        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
        self.name = settings.llm_model
        self.timeout = settings.llm_timeout
        self.max_tokens = settings.llm_max_tokens
        self.max_reply_chars = settings.llm_max_reply_chars
        # max_retries=0: a slow or failing endpoint costs one attempt, then the quoted answer is shown instead
        self.client = ChatOpenAI(
            base_url=settings.llm_base_url,
            api_key=key,
            model=settings.llm_model,
            temperature=settings.llm_temperature,
            timeout=settings.llm_timeout,
            max_retries=0,
            http_client=_deadline_client(settings.llm_timeout),
        )
        self.output = settings.llm_output
        self.circuit = Circuit(settings.llm_circuit_failures, settings.llm_circuit_seconds)

    def _messages(self, chat: Chat) -> list[tuple[str, str]]:
        return [("system", chat.system), ("human", chat.user)]

    def _extra(self, chat: Chat, output: str) -> dict[str, Any]:
        # max_tokens goes in the body: ChatOpenAI's own parameter is sent as max_completion_tokens, which llama.cpp,
        # Ollama and older servers ignore
        body: dict[str, Any] = {"max_tokens": chat.max_tokens}
        if chat.schema is not None and output == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": chat.schema, "strict": False},
            }
        elif chat.schema is not None and output == "json_object":  # llama-cpp-python's grammar-constrained form
            body["response_format"] = {"type": "json_object", "schema": chat.schema}
        return body

    def stream(self, chat: Chat) -> Generator[str, None, None]:
        """The reply's text as it arrives; LLMError (with the reason) on any failure, after `llm_timeout` in all, or
        while the circuit is open. For a structured request the output form is found once, then remembered."""
        if not self.circuit.allows():
            raise LLMError("the language model endpoint failed repeatedly and is paused")
        outputs = (
            [self.output] if self.output != "auto" or chat.schema is None else ["json_schema", "json_object", "text"]
        )
        for attempt, output in enumerate(outputs):
            try:
                yield from self._stream_once(chat, output)
                self._worked(chat, output)
                return
            except GeneratorExit:  # the reader had what it needed (three sentences) and stopped reading
                self._worked(chat, output)
                raise
            except LLMError:
                if chat.trips_circuit:
                    self.circuit.record(False)
                raise
            except Exception as exc:  # the OpenAI client raises many types; each is a reason to fall back
                refused = bool(_FORMAT_REFUSED.search(str(exc))) and attempt + 1 < len(outputs)
                if refused:
                    log.info("endpoint refused %s output (%s): trying the next form", output, _first_line(exc))
                    continue
                if chat.trips_circuit:
                    self.circuit.record(False)
                raise LLMError(_reason(exc)) from exc

    def _worked(self, chat: Chat, output: str) -> None:
        self.circuit.record(True)
        if self.output == "auto" and chat.schema is not None:
            self.output = output  # this endpoint's way: asked that way from now on

    def _stream_once(self, chat: Chat, output: str) -> Generator[str, None, None]:
        system = chat.system if output != "text" or chat.schema is None else chat.system + TAGGED_INSTRUCTION
        started = time.monotonic()
        client = self.client.bind(extra_body=self._extra(chat, output))
        finished = False
        # Bounded whatever the endpoint does with max_tokens: past these, the stream is closed and the rest never
        # read (a 500,000-character "translation" was once read, then searched, for 8 s). Every piece of a stream
        # carries at least one token, so more pieces than tokens asked for is a reply ignoring its limit.
        max_chars, read, pieces = chat.max_chars or self.max_reply_chars, 0, 0
        messages = self._messages(Chat(system, chat.user, chat.max_tokens, chat.schema))
        late = LLMError(f"the language model did not answer in time ({self.timeout:g} s)")
        chunks = self._within(client.stream(messages), started + self.timeout, late)
        with closing(chunks):  # closing it closes the HTTP stream
            for chunk in chunks:
                text = chunk.content if isinstance(chunk.content, str) else ""
                finish = (chunk.response_metadata or {}).get("finish_reason")
                finished = finished or finish is not None
                if finish == "length":
                    raise LLMError("the language model's reply was cut off at its length limit")
                if not text:
                    continue
                read, pieces = read + len(text), pieces + 1
                if read > max_chars:
                    raise LLMError(f"the language model's reply ran past {max_chars:,} characters: not read further")
                if pieces > chat.max_tokens:
                    raise LLMError(
                        f"the language model's reply ran past its {chat.max_tokens} tokens: not read further"
                    )
                yield text
        if not finished:
            raise LLMError("the language model's reply ended without finishing")

    @staticmethod
    def _within(chunks: Any, deadline: float, late: LLMError) -> Generator[Any, None, None]:
        """The client's pieces, each read under the call's wall-clock deadline (connect, first token and the
        whole reply: see `_deadline_client`); past it, `late`."""
        stream = cast(Generator[Any, None, None], chunks)
        with closing(stream):
            while True:
                _call.deadline = deadline  # set for each read: another call may have run on this thread between
                try:
                    chunk = next(stream)
                except StopIteration:
                    return
                except Exception:
                    if time.monotonic() >= deadline:
                        raise late from None
                    raise
                finally:
                    _call.deadline = None
                if time.monotonic() > deadline:
                    raise late
                yield chunk

    def complete(self, chat: Chat) -> str:
        """The whole reply (for short requests: rewriting a follow-up, translating a question)."""
        return "".join(self.stream(chat)).strip()


TAGGED_INSTRUCTION = (
    "\n\nReply with one line per sentence and nothing else, in this form:\n"
    'SENTENCE: <your sentence> | MARKERS: <passage numbers> | EVIDENCE: "<words copied exactly from the passage>"\n'
    "(add | ENGLISH: <the sentence in English> when you write in another language)."
)


def parse_sentences(text: str) -> list[dict[str, Any]]:
    """The sentences of a reply, from JSON ({"sentences": [...]}) or the tagged lines; ValueError if neither."""
    stripped = text.strip()
    if stripped.startswith("{"):
        data = json.loads(stripped)
        sentences = data.get("sentences") if isinstance(data, dict) else None
        if not isinstance(sentences, list):
            raise ValueError("the reply has no list of sentences")
        return [s for s in sentences if isinstance(s, dict)]
    found = [s for s in (_tagged(line) for line in stripped.splitlines()) if s is not None]
    if stripped and not found:
        raise ValueError("the reply is neither JSON nor tagged sentences")
    return found


def _tagged(line: str) -> dict[str, Any] | None:
    """One tagged line as a sentence, or None when it is not one."""
    m = _TAGGED.match(line)
    if m is None:
        return None
    markers = [int(n) for n in re.findall(r"\d+", m.group("markers"))]
    return {
        "text": m.group("text"),
        "markers": markers,
        "evidence": m.group("evidence"),
        "english": m.group("english") or "",
    }


class SentenceReader:
    """The sentences of a reply as it streams, each piece scanned once: a JSON reply's sentence objects as each
    closes, a tagged reply's lines as each ends. (Parsing the whole reply again on every piece kept a core busy for
    as long as a long reply streamed.)"""

    def __init__(self) -> None:
        self.form = ""  # "json" or "text", from the reply's first character
        self._start = ""  # what came before that character (spaces)
        self._line: list[str] = []  # text form: the line being written
        # JSON form: nesting depth, string state, the last key at the top level, whether the list being read is
        # "sentences", and the characters of the sentence object being read
        self._depth, self._in_string, self._escape = 0, False, False
        self._key: list[str] = []
        self._last_key, self._in_sentences = "", False
        self._object: list[str] | None = None

    def feed(self, piece: str) -> list[dict[str, Any]]:
        """The sentences this piece completes."""
        if not self.form:
            self._start += piece
            first = self._start.lstrip()[:1]
            if not first:
                return []
            self.form, piece, self._start = ("json" if first == "{" else "text"), self._start, ""
        return self._json(piece) if self.form == "json" else self._text(piece)

    def _text(self, piece: str) -> list[dict[str, Any]]:
        if "\n" not in piece:
            self._line.append(piece)
            return []
        *ended, rest = ("".join(self._line) + piece).split("\n")
        self._line = [rest]
        return [s for s in (_tagged(line) for line in ended) if s is not None]

    def _json(self, piece: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for ch in piece:
            if self._object is not None:
                self._object.append(ch)
            if self._in_string:
                if self._escape:
                    self._escape = False
                elif ch == "\\":
                    self._escape = True
                elif ch == '"':
                    self._in_string = False
                    if self._depth == 1:
                        self._last_key = "".join(self._key)
                elif self._depth == 1:
                    self._key.append(ch)
            elif ch == '"':
                self._in_string, self._key = True, []
            elif ch in "{[":
                self._depth += 1
                if self._depth == 2:
                    self._in_sentences = ch == "[" and self._last_key == "sentences"
                elif self._depth == 3 and ch == "{" and self._in_sentences:
                    self._object = ["{"]
            elif ch in "}]":
                self._depth -= 1
                if ch == "]" and self._depth == 1 and self._in_sentences and found:
                    # the list ends in the piece that closed its last sentence: that one waits for the reply to
                    # finish (a reply that then fails shows nothing of it)
                    found.pop()
                if self._depth == 2 and self._object is not None:
                    try:
                        sentence = json.loads("".join(self._object))
                    except ValueError:
                        sentence = None
                    if isinstance(sentence, dict):
                        found.append(sentence)
                    self._object = None
        return found


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]


def _reason(exc: BaseException) -> str:
    """A failure as a short reason people and operators can read."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "the language model did not answer in time"
    if isinstance(exc, openai.APIConnectionError):
        return "the language model endpoint cannot be reached or dropped the connection"
    if isinstance(exc, openai.AuthenticationError):
        return "the language model endpoint refused the key"
    if isinstance(exc, openai.RateLimitError):
        return "the language model endpoint is rate-limiting"
    if isinstance(exc, openai.APIStatusError):
        return f"the language model endpoint answered HTTP {exc.status_code}"
    return f"the language model failed ({exc.__class__.__name__}: {_first_line(exc)})"


def make_language_model(settings: Settings) -> LanguageModel | None:
    """The configured chat model, or None when no endpoint is configured (answers are then quoted)."""
    return LanguageModel(settings) if settings.llm_base_url else None
