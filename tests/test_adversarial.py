"""Issue 23's attacks replayed on real servers on loopback: each test failed on the code before its fix."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.config import Settings
from assistant.ingest.build import ingest
from assistant.pipeline import Assistant
from assistant.serve.api import create_app
from assistant.serve.feedback import FeedbackStore

from .conftest import copy_small_corpus, small_corpus_settings
from .servers import Served


@pytest.fixture(scope="module")
def small_index(tmp_path_factory, cache_dir, embedder) -> Settings:
    """The small corpus ingested once for this module."""
    folder = tmp_path_factory.mktemp("adversarial")
    settings = small_corpus_settings(copy_small_corpus(folder), folder, cache_dir, rate_limit="off")
    ingest(settings, embedder)
    return settings


@pytest.fixture(scope="module")
def served(small_index, embedder, tmp_path_factory) -> Iterator[str]:
    """The whole server (API, docs, widget, chat page) over the small index, on a free loopback port."""
    upload_dir = tmp_path_factory.mktemp("gradio-uploads")
    patch = pytest.MonkeyPatch()
    patch.setenv("GRADIO_TEMP_DIR", str(upload_dir))  # where Gradio would keep uploads: watched by the test
    assistant = Assistant.from_settings(small_index, embedder)
    store = FeedbackStore(tmp_path_factory.mktemp("feedback") / "feedback.sqlite")
    server = Served(create_app(assistant, small_index, store, stream_delay=0))
    server.upload_dir = upload_dir  # type: ignore[attr-defined]
    yield server.url
    server.stop()
    assistant.close()
    patch.undo()


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


# ---------------------------------------------------------------- N4: no upload surface


@pytest.mark.parametrize("mount", ["", "/widget"])
def test_gradio_uploads_are_refused_and_nothing_is_written(served, mount):
    upload_dir = Path(os.environ["GRADIO_TEMP_DIR"])
    before = files_under(upload_dir)
    payload = b"x" * 200_000
    response = httpx.post(
        f"{served}{mount}/gradio_api/upload", files={"files": ("big.bin", payload, "application/octet-stream")}
    )
    assert response.status_code == 404, response.text
    assert response.json() == {"error": "this assistant takes no file uploads"}
    progress = httpx.get(f"{served}{mount}/gradio_api/upload_progress", params={"upload_id": "x"})
    assert progress.status_code == 404
    assert files_under(upload_dir) == before
    # the page itself still loads
    assert httpx.get(f"{served}{mount}/").status_code == 200


# ---------------------------------------------------------------- N6: ingest survives any file


def nested_xhtml(levels: int) -> bytes:
    """A well-formed XHTML page whose one paragraph sits inside `levels` nested spans."""
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body>'
        b'<p class="oj-ti-art">Article 1</p><p class="oj-normal">'
        + b"<span>" * levels
        + b"The Council shall act unanimously."
        + b"</span>" * levels
        + b"</p></body></html>"
    )


def test_deeply_nested_xhtml_and_html_are_skipped_and_named(small_settings, small_corpus, embedder):
    corpus, _ = small_corpus
    (corpus / "acts-xhtml/32021D0796.xhtml").write_bytes(nested_xhtml(1_500))  # a catalogued act, checksums off
    (corpus / "dropped-in.html").write_bytes(  # a page dropped into the folder (not in MANIFEST.tsv)
        b"<html><body><h1>Deep</h1>"
        + b"<div>" * 1_500
        + b"<p>The Council shall act.</p>"
        + b"</div>" * 1_500
        + b"</body></html>"
    )
    report = ingest(small_settings.model_copy(update={"verify_checksums": False}), embedder)
    reasons = dict(report.skipped)
    deep = "nested too deeply: more than 256 elements inside one another"
    assert reasons["acts-xhtml/32021D0796.xhtml"] == deep and reasons["dropped-in.html"] == deep, reasons
    assert {"32019D0797", "32017D2315", "cfsp-overview"} <= set(report.per_source)


# ---------------------------------------------------------------- N9: small leaks

KEY = "client-key-0123456789abcdef"
OPERATOR = "operator-key-0123456789abcdef"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_health_and_503_name_no_server_paths_or_pids_except_to_an_operator(small_settings, embedder, tmp_path, caplog):
    from assistant.index.generations import chroma_dir, generation_dir
    from assistant.index.store import make_client

    first = ingest(small_settings, embedder)
    settings = Settings(**{**small_settings.model_dump(), "api_keys": (KEY,), "operator_keys": (OPERATOR,)})
    server_path = str(tmp_path)
    with Assistant.from_settings(settings, embedder) as assistant:
        served = Served(create_app(assistant, settings, FeedbackStore(tmp_path / "feedback.sqlite")))
        try:
            public = httpx.get(f"{served.url}/api/v1/health", headers=bearer(KEY))
            assert public.status_code == 200 and "worker_pid" not in public.json(), public.text
            operator = httpx.get(f"{served.url}/api/v1/health", headers=bearer(OPERATOR))
            assert operator.json()["worker_pid"] == os.getpid()

            # the generation's vector store deleted, then its folder moved away: the index cannot answer
            make_client(settings, chroma_dir(settings, first.generation)).delete_collection(
                assistant.index.manifest.collection
            )
            folder = generation_dir(settings, first.generation)
            folder.rename(folder.with_name("moved-away"))
            with caplog.at_level("WARNING"):
                asked = httpx.post(
                    f"{served.url}/api/v1/ask", json={"question": "What is PESCO?"}, headers=bearer(KEY), timeout=60
                )
            assert asked.status_code == 503, asked.text
            assert server_path not in asked.text and "has been removed" in asked.json()["error"], asked.text
            assert server_path in caplog.text  # the operator finds the path in the log
            public = httpx.get(f"{served.url}/api/v1/health", headers=bearer(KEY))
            assert public.status_code == 503 and server_path not in public.text and "worker_pid" not in public.json()
            operator = httpx.get(f"{served.url}/api/v1/health", headers=bearer(OPERATOR)).json()
            assert server_path in operator["problem"] and operator["worker_pid"] == os.getpid()
        finally:
            served.stop()


def test_data_files_are_private_and_an_open_keys_file_is_warned_about(small_settings, embedder, tmp_path, caplog):
    from assistant.embedding.cache import EmbeddingCache
    from assistant.serve.api.security import KeyRing

    old = os.umask(0o022)  # the usual umask: files 0644 unless created otherwise
    try:
        ingest(small_settings, embedder)
        FeedbackStore(small_settings.data_dir / "feedback.sqlite")
        cache = EmbeddingCache(tmp_path / "cache" / "embeddings.sqlite", 384)
        cache.close()
        keys = tmp_path / "keys.txt"
        keys.write_text(f"{KEY}\n", encoding="utf-8")
    finally:
        os.umask(old)
    assert oct((small_settings.data_dir / "feedback.sqlite").stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "cache" / "embeddings.sqlite").stat().st_mode & 0o777) == "0o600"
    assert oct(small_settings.data_dir.stat().st_mode & 0o777) == "0o700"
    assert oct((small_settings.data_dir / "index").stat().st_mode & 0o777) == "0o700"

    with caplog.at_level("WARNING", logger="assistant.serve.api.security"):
        KeyRing(path=keys)
        assert "keys.txt can be read by other users" in caplog.text
        caplog.clear()
        keys.chmod(0o600)
        KeyRing(path=keys)
        assert "other users" not in caplog.text


# ---------------------------------------------------------------- N10: rough edges

CYBER = "What are the restrictive measures against cyber-attacks?"


def full_width(text: str) -> str:
    """ASCII letters, digits and punctuation as their full-width forms (U+FF01-FF5E), spaces as ideographic spaces."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)


def test_full_width_letters_are_read_as_plain_letters(served):
    plain = httpx.post(f"{served}/api/v1/ask", json={"question": CYBER}, timeout=60).json()
    wide = httpx.post(f"{served}/api/v1/ask", json={"question": full_width(CYBER)}, timeout=60).json()
    assert not plain["abstained"] and plain["citations"][0]["source_id"] == "32019D0797"
    assert not wide["abstained"], wide["answer"]
    assert [c["label"] for c in wide["citations"]] == [c["label"] for c in plain["citations"]]


def like_handler(url: str) -> int:
    """The chat page's like/dislike handler, as the page's own configuration names it."""
    config = httpx.get(f"{url}/config").json()
    return next(d["id"] for d in config["dependencies"] if any(t[1] == "like" for t in d["targets"]))


@pytest.mark.parametrize(
    "event_data",
    [{}, {"index": "first", "value": "x", "liked": True}, {"index": [], "liked": True}, {"index": 0, "liked": "up"}],
)
def test_a_malformed_rating_event_is_a_clear_4xx(served, event_data, capfd):
    fn = like_handler(served)
    response = httpx.post(
        f"{served}/gradio_api/run/predict",
        json={"fn_index": fn, "data": [[], {}], "event_data": event_data, "session_hash": "adversary"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert "malformed rating" in response.json()["error"], response.text
    assert "Traceback" not in capfd.readouterr().err


def test_a_redis_url_with_an_unknown_parameter_is_one_line():
    from assistant.errors import ConfigError
    from assistant.serve.api.security import RateLimit

    with pytest.raises(ConfigError) as refused:
        RateLimit("5/minute", "redis://127.0.0.1:1/0?no_such_option=1")
    message = str(refused.value)
    assert "\n" not in message and "no_such_option" in message and "CFSP_RATE_LIMIT_STORAGE" in message, message


def test_content_security_policy_covers_the_pages_and_the_docs(served, browser):
    for path in ("/", "/widget/", "/docs"):
        policy = httpx.get(f"{served}{path}").headers.get("content-security-policy", "")
        assert "frame-ancestors 'self'" in policy, (path, policy)
        assert "default-src 'self'" in policy and "object-src 'none'" in policy, (path, policy)
        assert "base-uri 'self'" in policy, (path, policy)
        assert ("'unsafe-eval'" in policy) is (path != "/docs"), (path, policy)  # only Gradio evaluates strings

    # the page still works under its policy: it loads, answers, and no policy violation is reported; and a question
    # with $$...$$ is shown as typed, not typeset as mathematics
    page = browser.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(served)
    page.wait_for_selector("#cfsp-chat")
    question = "Are $$x^2$$ measures against cyber-attacks possible?"
    page.fill("#cfsp-question textarea", question)
    page.press("#cfsp-question textarea", "Enter")
    page.wait_for_selector("#cfsp-chat .cfsp-sources", timeout=60_000)
    assert "$$x^2$$" in page.locator("#cfsp-chat .user-row").last.inner_text()
    assert page.locator("#cfsp-chat .katex").count() == 0
    docs = browser.new_page()
    docs.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    docs.goto(f"{served}/docs")
    docs.get_by_text("/api/v1/ask/stream", exact=True).wait_for(timeout=30_000)
    assert violations == []
    page.close()
    docs.close()


def test_health_is_503_only_when_ask_cannot_answer(small_settings, embedder, tmp_path):
    import shutil

    from assistant.index.generations import generation_dir

    first = ingest(small_settings, embedder)
    with Assistant.from_settings(small_settings, embedder) as assistant:
        served = Served(create_app(assistant, small_settings, FeedbackStore(tmp_path / "feedback.sqlite")))
        try:
            shutil.rmtree(generation_dir(small_settings, first.generation))  # its files stay open in this process
            asked = [httpx.post(f"{served.url}/api/v1/ask", json={"question": CYBER}, timeout=60) for _ in range(3)]
            health = httpx.get(f"{served.url}/api/v1/health")
            assert [a.status_code for a in asked] == [200] * 3 and health.status_code == 200, health.text
        finally:
            served.stop()


def test_a_hung_redis_holds_a_request_up_one_timeout_at_most(tmp_path):
    import signal
    import time

    from assistant.serve.api.security import RateLimit

    from .test_workers import Redis

    redis = Redis(tmp_path)
    try:
        rate = RateLimit("100/minute", redis.url)
        assert rate.hit("addr:203.0.113.7") == 0
        redis.proc.send_signal(signal.SIGSTOP)  # hung: the connection stays open, nothing answers
        try:
            started = time.monotonic()
            assert rate.hit("addr:203.0.113.7") == 0  # counted in this process's memory instead
            waited = time.monotonic() - started
        finally:
            redis.proc.send_signal(signal.SIGCONT)
        assert waited < RateLimit.TIMEOUT_SECONDS + 0.2, f"a request waited {waited:.2f} s on a hung Redis"
    finally:
        redis.stop()


# ---------------------------------------------------------------- N5: bounded model output


@pytest.fixture
def small_llm(small_index, embedder, scripted_server) -> Iterator[tuple[Assistant, object]]:
    """The small index answered through the scripted language model endpoint (10 s per call), with a ScriptedLLM."""
    from .llm_servers import MODEL, ScriptedLLM

    settings = Settings(
        **{
            **small_index.model_dump(),
            "llm_base_url": scripted_server.url_for("/v1"),
            "llm_model": MODEL,
            "llm_timeout": 10,
        }
    )
    scripted = ScriptedLLM(scripted_server)
    scripted.install()
    with Assistant.from_settings(settings, embedder) as assistant:
        yield assistant, scripted
    scripted_server.clear()


def faithful_sentences(count: int):
    """A structured reply of `count` sentences, each resting on words of the first passage given."""
    from .llm_servers import reply, sentence, words

    def script(given) -> str:
        passage = given.passages[0]
        evidence = words(passage["text"], 0, 12)
        return reply(*[sentence(evidence + ".", [passage["n"]], evidence) for _ in range(count)])

    return script


def test_a_request_keeps_its_generation_through_an_index_switch(small_llm, small_index, embedder):
    """N2: a question whose translation is still running when an ingest switches generations (and the server's
    watcher moves over, twice) is answered from the generation it started on; that generation stays on disk while
    the request holds it and is closed after. It was a 503 saying "re-run ingest" before."""
    import threading

    from assistant.index.generations import generation_dir

    from .llm_servers import Script

    assistant, scripted = small_llm
    scripted.translation = Script(CYBER, delay=3)
    scripted.answer = Script(status=500)  # the quoted answer, shown when the model fails, is enough here
    started_on = assistant.index.generation
    results: list = []

    def ask() -> None:
        try:
            results.append(assistant.ask("Quelles sont les mesures restrictives contre les cyberattaques ?"))
        except Exception as exc:  # what the API would have turned into a 503
            results.append(exc)

    asking = threading.Thread(target=ask)
    asking.start()
    time.sleep(0.5)  # the question is in its translation
    assert ingest(small_index, embedder, rebuild=True).generation != started_on
    assert assistant.refresh() and assistant.index.generation != started_on
    ingest(small_index, embedder, rebuild=True)  # a second ingest would remove a generation nobody holds
    assistant.refresh()
    assert generation_dir(small_index, started_on).is_dir()  # still held by the request
    asking.join(30)
    assert len(results) == 1 and not isinstance(results[0], Exception), results
    answer = results[0]
    assert not answer.abstained and answer.citations and answer.language == "fr"
    assistant.refresh()
    assert started_on not in {
        engine.index.generation for engine, _ in assistant.watcher.retired
    }  # closed once it ended


def test_no_question_fails_over_http_across_ingests_with_a_slow_model(small_llm, small_index, embedder, tmp_path):
    """N2 through the real API on loopback: questions whose translation takes 2 s, asked while three ingests switch
    generations and the server follows them every 0.2 s, all get a 200 with an answer."""
    from concurrent.futures import ThreadPoolExecutor

    from .llm_servers import Script

    assistant, scripted = small_llm
    scripted.translation = Script(CYBER, delay=2)
    scripted.answer = Script(faithful_sentences(2))
    assistant.watch(0.2)
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    server = Served(create_app(assistant, small_index, store, stream_delay=0))
    generations = {assistant.index.generation}

    def ask(_: int) -> tuple[int, str]:
        response = httpx.post(
            f"{server.url}/api/v1/ask",
            json={"question": "Quelles sont les mesures restrictives contre les cyberattaques ?"},
            timeout=60,
        )
        return response.status_code, response.text

    try:
        with ThreadPoolExecutor(4) as pool:
            asked = pool.map(ask, range(12))
            for _ in range(3):
                generations.add(ingest(small_index, embedder, rebuild=True).generation)
                time.sleep(0.5)
            results = list(asked)
    finally:
        server.stop()
        assistant.unwatch()
    assert len(generations) == 4
    failed = [(status, text[:200]) for status, text in results if status != 200]
    assert not failed, failed
    answers = [json.loads(text) for _, text in results]
    assert all(a["citations"] and not a["abstained"] for a in answers), [a.get("fallback_reason") for a in answers]


def test_keep_alive_comments_do_not_stretch_the_model_deadline(small_llm):
    """N3: an endpoint that keeps its stream alive with SSE comments and never answers is cut at the deadline
    (CFSP_LLM_TIMEOUT, 10 s here), and the quoted answer is shown; it held the request for 30 s before."""
    import time

    from .llm_servers import Script

    assistant, scripted = small_llm
    scripted.answer = Script(faithful_sentences(2), keepalive=30)
    started = time.monotonic()
    answer = assistant.ask(CYBER)
    elapsed = time.monotonic() - started
    assert answer.mode == "extractive" and "did not answer in time (10 s)" in answer.fallback_reason, (
        answer.fallback_reason
    )
    assert answer.citations and not answer.abstained
    assert 9 < elapsed < 13, elapsed


def test_a_quoted_answer_never_waits_behind_a_stalling_model(small_llm, small_index, tmp_path):
    """N3 through the API: four questions held by an endpoint that only sends keep-alive comments fill the four
    question slots; a quoted-mode question asked meanwhile is answered at once (it waited for a slot before),
    and the four get the quoted answer at the deadline."""
    from concurrent.futures import ThreadPoolExecutor

    from .llm_servers import Script

    assistant, scripted = small_llm
    scripted.answer = Script(faithful_sentences(2), keepalive=30)
    settings = assistant.settings
    assert settings.concurrency_limit == 4
    server = Served(create_app(assistant, settings, FeedbackStore(tmp_path / "feedback.sqlite"), stream_delay=0))

    def ask(mode: str) -> tuple[float, dict]:
        started = time.monotonic()
        response = httpx.post(f"{server.url}/api/v1/ask", json={"question": CYBER, "mode": mode}, timeout=60)
        assert response.status_code == 200, response.text
        return time.monotonic() - started, response.json()

    try:
        with ThreadPoolExecutor(5) as pool:
            stalled = [pool.submit(ask, "llm") for _ in range(4)]
            time.sleep(1.5)  # the four are waiting on the model
            waited, quoted = ask("extractive")
            worded = [f.result() for f in stalled]
    finally:
        server.stop()
    assert quoted["citations"] and quoted["mode"] == "extractive"
    assert waited < 3, waited
    assert all(a["mode"] == "extractive" and "did not answer in time" in a["fallback_reason"] for _, a in worded)
    assert all(9 < seconds < 14 for seconds, _ in worded), [seconds for seconds, _ in worded]


def test_the_three_sentence_cap_holds_and_the_rest_is_not_read(small_llm):
    import time

    from .llm_servers import Script

    assistant, scripted = small_llm
    scripted.answer = Script(faithful_sentences(400))
    started = time.monotonic()
    answer = assistant.ask(CYBER)
    elapsed = time.monotonic() - started
    assert answer.mode == "llm", answer.fallback_reason
    assert answer.drafted == 3 and answer.text.count("[1]") == 3, (answer.drafted, len(answer.text))
    assert len(answer.text) < 1_000
    assert elapsed < 5, elapsed


def test_a_runaway_reply_stops_at_the_character_bound(small_llm):
    from .llm_servers import Script

    assistant, scripted = small_llm
    endless = '{"sentences": [{"text": "' + "The Council shall act. " * 20_000  # 460,000 characters, never closed
    scripted.answer = Script(endless, piece_chars=64)
    answer = assistant.ask(CYBER)
    assert answer.mode == "extractive" and "characters" in answer.fallback_reason, answer.fallback_reason
    assert not scripted.finished.wait(1)  # the server was cut off before it could send it all


def test_a_long_streamed_reply_is_parsed_once_not_once_per_piece(small_index, embedder, scripted_server):
    """Bounds raised so that only parsing is measured: one never-ending 100,000-character sentence in 16-character
    pieces. Parsed again on every piece, it kept a core busy past the 10 s timeout."""
    import time

    from .llm_servers import MODEL, Script, ScriptedLLM

    settings = Settings(
        **{
            **small_index.model_dump(),
            "llm_base_url": scripted_server.url_for("/v1"),
            "llm_model": MODEL,
            "llm_timeout": 10,
            "llm_max_tokens": 8192,
            "llm_max_reply_chars": 200_000,
        }
    )
    scripted = ScriptedLLM(scripted_server)
    scripted.install()
    scripted.answer = Script('{"sentences": [{"text": "' + "x" * 100_000 + '", "markers": [1], "evidence": "y"}]}')
    try:
        with Assistant.from_settings(settings, embedder) as assistant:
            started = time.process_time()
            answer = assistant.ask(CYBER)
            cpu = time.process_time() - started
    finally:
        scripted_server.clear()
    assert "longer than" not in answer.fallback_reason, answer.fallback_reason  # read to its end in time
    assert cpu < 6, f"{cpu:.1f} s of CPU for one reply"


def test_a_translation_or_rewrite_far_longer_than_the_question_is_discarded(small_llm):
    import time

    from .llm_servers import Script

    assistant, scripted = small_llm
    scripted.translation = Script("What are the restrictive measures against cyber-attacks? " * 9_000)  # 500 KB
    scripted.answer = Script(faithful_sentences(1))
    started = time.monotonic()
    answer = assistant.ask("Quelles sont les mesures restrictives contre les cyberattaques ?")
    assert time.monotonic() - started < 3
    assert answer.language == "fr" and "characters" in answer.fallback_reason, answer.fallback_reason
    assert scripted.answers() == []  # nothing was searched or answered from the runaway translation

    scripted.rewrite = Script("Which restrictive measures apply to cyber-attacks? " * 10_000)
    history = [{"role": "user", "content": CYBER}, {"role": "assistant", "content": "They are ..."}]
    answer = assistant.ask("Who can be listed under it?", history=history)
    assert len(answer.search_query) < 500, answer.search_query[:200]  # the conversation's words carried instead


# ---------------------------------------------------------------- N7: integrity, not only presence


def test_vectors_overwritten_with_the_same_shape_are_detected_and_repaired(small_settings, embedder, home):
    import numpy as np

    from .commands import run_cli, settings_env

    def verify():  # `cfsp-assistant ingest --verify`, in its own process: checks and writes nothing
        return run_cli(["ingest", "--verify"], settings_env(small_settings, home), home, timeout=300)

    from assistant.errors import IndexDamagedError
    from assistant.index.generations import generation_dir

    first = ingest(small_settings, embedder)
    passages = generation_dir(small_settings, first.generation) / "passages.npy"
    vectors = np.load(passages)
    np.save(passages, vectors[::-1].copy())  # every row another passage's: same shape, same dtype, wrong answers
    assert np.load(passages).shape == vectors.shape

    with pytest.raises(IndexDamagedError, match="passages.npy does not match"):  # the start-up check
        Assistant.from_settings(small_settings, embedder)
    checked = verify()
    assert checked.returncode == 1 and "passages.npy does not match" in checked.stderr, checked.stderr
    assert "Traceback" not in checked.stderr and np.load(passages).tolist() == vectors[::-1].tolist()  # untouched
    repaired = ingest(small_settings, embedder)
    assert not repaired.unchanged and "passages.npy does not match" in repaired.repaired, repaired
    assert repaired.generation != first.generation and repaired.embedded == 0  # rebuilt from the cache
    with Assistant.from_settings(small_settings, embedder) as served:
        assert served.ask(CYBER).citations[0].source_id == "32019D0797"
    assert ingest(small_settings, embedder).unchanged
    checked = verify()
    assert checked.returncode == 0 and "verified" in checked.stdout, checked.stderr
