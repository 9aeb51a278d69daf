"""The chat page for real: the Gradio app on a loopback port, driven by gradio_client and by Debian's Chromium."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.pipeline import Assistant
from assistant.serve.feedback import FeedbackStore
from assistant.serve.web import build_chat_page, page_options, render
from assistant.serve.web.chat import Chat, Exchange, history
from assistant.serve.web.examples import EXAMPLES, START, ExamplePicker
from assistant.types import Answer, Citation

from .servers import free_port

MUTUAL_DEFENCE = "Does the EU have a mutual defence clause like NATO?"
EVIL = "<script>alert(1)</script>"


# ---------------------------------------------------------------- rendering, no server


def citation(**changes) -> Citation:
    base = Citation(
        n=1,
        label="Art. 42(7) TEU",
        url="http://data.europa.eu/eli/treaty/teu_2016/art_42/oj",
        source_id="TEU",
        article="42",
        paragraph="7",
        kind="treaty",
        date="2016-06-07",
        title="Treaty on European Union",
        quote="If a Member State is the victim of armed aggression.",
        chunk_id="c1",
    )
    return replace(base, **changes)


def test_user_and_corpus_text_is_escaped():
    assert render.user_message(EVIL + "\n\n**bold**") == (
        '<div class="cfsp-user">&lt;script&gt;alert(1)&lt;/script&gt;<br><br>**bold**</div>'
    )
    hostile = citation(
        label='<img src=x onerror="alert(2)">',
        title="<script>x()</script>",
        quote='Quote <iframe src="javascript:alert(3)"></iframe>\n\nnext',
        kind="<b>treaty</b>",
    )
    html = render.full_answer(
        Answer(question="q", text="Text <b>bold</b> [1] and [7].", citations=(hostile,), abstained=False), exchange=2
    )
    assert "<img" not in html and "<script" not in html and "<iframe" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html and "\n" not in html
    # the marker links to its source card; a number without a citation stays plain text
    assert '<a class="cfsp-cite" href="#cfsp-src-2-1"' in html and 'id="cfsp-src-2-1"' in html and "[7]" in html


def test_the_searched_line_shows_a_models_rewording_beside_the_resolvers_query():
    plain = Answer(question="Who chairs it?", text="…", citations=(), abstained=False, search_query="Who chairs it?")
    assert render.searched_for(plain) == ""  # searched as typed: nothing to say
    carried = replace(plain, search_query="Who chairs it? (Political and Security Committee)")
    assert render.searched_for(carried) == (
        '<p class="cfsp-searched">Searched for: <q>Who chairs it? (Political and Security Committee)</q></p>'
    )
    reworded = replace(carried, also_searched="Who chairs the <b>Political</b> and Security Committee?")
    line = render.searched_for(reworded)
    assert "as the model worded it, <q>Who chairs the &lt;b&gt;Political&lt;/b&gt; and Security Committee?</q>" in line
    # a rewording is shown even where the resolver searched the question as typed
    assert "as the model worded it" in render.searched_for(replace(reworded, search_query="Who chairs it?"))


def test_source_card_shows_label_badge_date_quote_and_safe_links():
    html = render.source_card(citation(), 1, "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:12016M/TXT")
    assert ">Art. 42(7) TEU<" in html and ">Treaty<" in html and ">7 June 2016<" in html
    assert "armed aggression." in html
    links = re.findall(r"<a [^>]*>", html)
    assert len(links) == 2 and all('target="_blank" rel="noopener noreferrer"' in a for a in links)
    assert "Whole document on EUR-Lex" in html and "uri=CELEX:12016M/TXT" in html
    assert "<a " not in render.source_card(citation(url="javascript:alert(1)"), 1)
    assert render.kind_label("official summary") == "Official EUR-Lex summary"
    assert render.kind_label("decision", "Council Decision (CFSP) 2019/797") == "Council decision"
    assert render.kind_label("decision", "European Peace Facility") == "Decision"
    assert render.kind_label("web page", tier=4) == "Web page — not an official legal text"
    assert render.human_date("2016-06-07") == "7 June 2016" and render.human_date("") == "date unknown"


def test_the_badge_says_whether_every_source_is_an_official_text():
    official = Answer(question="q", text="Text [1]", citations=(citation(),), abstained=False)
    with_page = Answer(
        question="q",
        text="Text [1] [2]",
        citations=(citation(), citation(n=2, source_id="cfsp-overview", tier=4)),
        abstained=False,
    )
    assert ">Quoted from the official texts<" in render.how_made(official)
    assert ">Quoted from the sources below, not all of them official texts<" in render.how_made(with_page)
    written = replace(with_page, mode="llm", model="m")
    assert "Written by m from the sources below, not all of them official texts;" in render.how_made(written)


def test_history_gives_the_pipeline_plain_text_only():
    answer = Answer(
        question="What is PESCO?", text="PESCO is established. [1]", citations=(citation(),), abstained=False
    )
    exchanges = [
        Exchange("What is PESCO?", answer, shown="<div>html</div>"),
        Exchange("Boom", None, shown="error"),
        Exchange("Who can join it?", replace(answer, text="Member States. [1]"), shown="<div/>"),
    ]
    assert history(exchanges, max_turns=20) == [
        {"role": "user", "content": "What is PESCO?"},
        {"role": "assistant", "content": "PESCO is established. [1]"},
        {"role": "user", "content": "Who can join it?"},
        {"role": "assistant", "content": "Member States. [1]"},
    ]
    assert history(exchanges, max_turns=2) == history(exchanges, 20)[2:]
    assert history(exchanges, max_turns=0) == []


def test_nearest_examples(embedder):
    picker = ExamplePicker(EXAMPLES, embedder.embed_query)
    assert set(START) <= set(EXAMPLES) and len(EXAMPLES) >= 25
    near = picker.nearest("Which sanctions has the EU imposed on Belarus?", 3)
    assert len(near) == 3 and any("sanction" in q.lower() or "restrictive" in q.lower() for q in near)
    assert "What is PESCO?" not in picker.nearest("What is PESCO?", 3)


# ---------------------------------------------------------------- the chat function on the real pipeline


@pytest.mark.slow
def test_every_example_question_is_answered_with_citations(assistant):
    for question in EXAMPLES:
        answer = assistant.ask(question)
        assert not answer.abstained and answer.citations and "[1]" in answer.text, question


@pytest.fixture(scope="module")
def chat(assistant) -> Chat:
    return Chat(assistant, ExamplePicker(EXAMPLES, assistant.embedder.embed_query), stream_delay=0)


@pytest.mark.slow
def test_chat_streams_searching_state_then_words_then_sources(chat):
    steps = [messages[-1]["content"] for messages, _ in chat.respond(MUTUAL_DEFENCE, [])]
    assert render.SEARCHING in steps[0]
    partial = [s for s in steps if "cfsp-streaming" in s]
    assert len(partial) >= 5 and all(len(a) < len(b) for a, b in zip(partial, partial[1:], strict=False))
    assert "cfsp-sources" in steps[-1] and "cfsp-streaming" not in steps[-1]


@pytest.mark.slow
def test_chat_abstention_suggests_close_examples(chat):
    messages, exchanges = list(chat.respond("What is the best recipe for apple pie?", []))[-1]
    assert exchanges[-1].answer.abstained and "do not answer this question" in messages[-1]["content"]
    assert 2 <= len(messages[-1]["options"]) <= 3 and all(o["value"] in EXAMPLES for o in messages[-1]["options"])


class Broken(Assistant):
    """The real assistant with a bug in it: what an unexpected failure looks like to a user."""

    def ask_stream(self, *args, **kwargs):
        raise RuntimeError("index file /srv/secret/chunks.jsonl is corrupt")


@pytest.mark.slow
def test_errors_are_one_friendly_line(chat, assistant, caplog):
    messages, _ = list(chat.respond("x" * (assistant.settings.max_question_chars + 1), []))[-1]
    assert "cfsp-error" in messages[-1]["content"] and "the limit is" in messages[-1]["content"]

    broken = Chat(Broken(assistant.settings, assistant.embedder, assistant.index), chat.picker, stream_delay=0)
    with caplog.at_level("ERROR"):
        messages, exchanges = list(broken.respond("What is PESCO?", []))[-1]
    shown = messages[-1]["content"]
    assert render.GENERIC_ERROR in shown and "secret" not in shown and "Traceback" not in shown
    assert exchanges[-1].answer is None
    assert "corrupt" in caplog.text  # the details go to the server log


# ---------------------------------------------------------------- the served page


def serve(assistant, settings, store, **build) -> tuple[object, str]:
    app = build_chat_page(assistant, settings, store, **build)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **page_options())
    return app, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def feedback_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("feedback") / "feedback.sqlite"


@pytest.fixture(scope="module")
def web_url(assistant, full_settings, feedback_file) -> Iterator[str]:
    """The real chat page for this module, on a free loopback port."""
    app, url = serve(assistant, full_settings, FeedbackStore(feedback_file))
    yield url
    app.close()


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("artefacts")


def message_text(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else " ".join(part.get("text", "") for part in content)


@pytest.mark.slow
def test_gradio_client_gets_cited_answers_and_sessions_stay_apart(web_url):
    from gradio_client import Client

    client = Client(web_url, verbose=False)
    messages = client.predict(MUTUAL_DEFENCE, api_name="/ask")
    answer = message_text(messages[-1])
    assert len(messages) == 2 and "[1]" in answer and "TEU" in answer and 'target="_blank"' in answer

    follow_up = client.predict("Does it apply to neutral countries?", api_name="/ask")
    assert len(follow_up) == 4 and "teu_2016/art_42" in message_text(follow_up[-1])

    other = Client(web_url, verbose=False).predict("Who can join it?", api_name="/ask")
    assert len(other) == 2  # another session: none of the first conversation is visible or used


def ask(page, question: str):
    """Type a question, press Enter, wait until the streamed answer is complete; returns the answer's row."""
    answers = page.locator("#cfsp-chat .bot-row")
    before = answers.count()
    page.fill("#cfsp-question textarea", question)
    page.press("#cfsp-question textarea", "Enter")
    page.wait_for_function(
        """n => document.querySelectorAll('#cfsp-chat .bot-row').length > n
               && !document.querySelector('#cfsp-chat .cfsp-searching, #cfsp-chat .cfsp-streaming')
               && document.querySelector('#cfsp-send')?.offsetParent != null""",
        arg=before,
        timeout=30_000,
    )
    return answers.last


def feedback_rows(path: Path, timeout: float = 10) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(path) as db:
            rows = db.execute("SELECT rating, question, answer, citations, comment FROM feedback").fetchall()
        if rows:
            return rows
        time.sleep(0.2)
    return []


@pytest.mark.slow
def test_browser_conversation(web_url, browser, feedback_file, artefacts):
    page = browser.new_page(viewport={"width": 1280, "height": 1500})
    dialogs, outside = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None,
    )
    page.goto(web_url)
    page.wait_for_selector("#cfsp-chat")
    for example in START:
        assert page.get_by_text(example, exact=True).is_visible()
    assert "not legal advice" in page.inner_text("#cfsp-notice")

    page.fill("#cfsp-question textarea", MUTUAL_DEFENCE)
    page.press("#cfsp-question textarea", "Enter")
    page.wait_for_selector("#cfsp-chat .cfsp-streaming", timeout=30_000)  # the answer appears as it is written
    page.wait_for_selector("#cfsp-chat .cfsp-sources", timeout=30_000)
    first = page.locator("#cfsp-chat .bot-row").last
    assert "[1]" in " ".join(first.locator(".cfsp-text").all_inner_texts())
    sources = first.locator(".cfsp-sources")
    assert "TEU" in sources.inner_text() and "Treaty" in sources.locator(".cfsp-badge").all_inner_texts()
    eur_lex = sources.locator("a[href*='eur-lex.europa.eu']").first
    assert eur_lex.get_attribute("target") == "_blank" and "noopener" in eur_lex.get_attribute("rel")
    assert all(a.get_attribute("target") == "_blank" for a in sources.locator("a").all())

    page.locator("#cfsp-chat .user-row").last.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.screenshot(path=artefacts / "answered.png")

    # a marker jumps to its source, which is highlighted
    first.locator("a.cfsp-cite").first.click()
    assert page.evaluate("document.querySelector(':target')?.id") == first.locator(
        "li.cfsp-source"
    ).first.get_attribute("id")

    # the first card is Art. 42(7) TEU; it opens onto the whole article with the quoted words marked
    card = first.locator("li.cfsp-source").first
    assert card.locator(".cfsp-label").inner_text() == "Art. 42(7) TEU"
    context = card.locator(".cfsp-context-text")
    assert not context.is_visible()
    card.get_by_text("Read the whole article").click()
    assert context.is_visible()
    whole = context.inner_text()
    assert "The common security and defence policy shall be an integral part" in whole  # what comes before, 42(1)
    assert context.locator("mark.cfsp-mark").first.is_visible()  # scrolled to the quote
    box, mark = context.bounding_box(), context.locator("mark.cfsp-mark").first.bounding_box()
    assert box and mark and box["y"] <= mark["y"] < box["y"] + box["height"]
    marked = " ".join(context.locator("mark.cfsp-mark").all_inner_texts())
    assert marked.startswith("If a Member State is the victim of armed aggression") and marked in " ".join(
        whole.split()
    )
    card.screenshot(path=artefacts / "whole-article.png")

    follow_up = ask(page, "Does it apply to neutral countries?")
    labels = follow_up.locator(".cfsp-label").all_inner_texts()
    assert any(label.startswith("Art. 42") and label.endswith("TEU") for label in labels), labels

    page.locator("#cfsp-chat button[aria-label='Like']").last.click()
    page.wait_for_selector("#cfsp-comment", state="visible")
    page.fill("#cfsp-comment-text textarea", "Clear answer, thanks")
    page.click("#cfsp-comment-send")
    page.wait_for_selector("#cfsp-comment", state="hidden")
    rows = feedback_rows(feedback_file)
    assert len(rows) == 1
    rating, question, text, citations, comment = rows[0]
    assert (rating, question, comment) == (1, "Does it apply to neutral countries?", "Clear answer, thanks")
    assert "[1]" in text and "Art. 42" in citations

    for hostile in (EVIL, '<img src=x onerror="alert(2)">'):
        ask(page, hostile)
        assert page.locator("#cfsp-chat .user-row").last.inner_text().strip() == hostile
    assert dialogs == [] and page.locator("#cfsp-chat script, #cfsp-chat img[src='x']").count() == 0
    page.screenshot(path=artefacts / "escaped.png")
    assert outside == []  # nothing is fetched from the internet
    page.close()


@pytest.mark.slow
def test_browser_examples_and_abstention_suggestions(web_url, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(web_url)
    page.get_by_text("What is PESCO?", exact=True).click()
    page.wait_for_selector("#cfsp-chat .cfsp-sources", timeout=30_000)
    assert page.locator("#cfsp-chat .user-row").last.inner_text().strip() == "What is PESCO?"

    ask(page, "What is the best recipe for apple pie?")
    options = page.locator("#cfsp-chat button.option")
    assert "do not answer this question" in page.locator("#cfsp-chat .bot-row").last.inner_text()
    assert 2 <= options.count() <= 3
    suggested = options.first.inner_text().strip()
    options.first.click()
    page.wait_for_function("document.querySelectorAll('#cfsp-chat .cfsp-sources').length === 2", timeout=30_000)
    assert page.locator("#cfsp-chat .user-row").last.inner_text().strip() == suggested
    page.close()


@pytest.mark.slow
def test_browser_stop_button(assistant, full_settings, tmp_path, browser):
    app, url = serve(assistant, full_settings, FeedbackStore(tmp_path / "feedback.sqlite"), stream_delay=0.3)
    try:
        page = browser.new_page()
        page.goto(url)
        page.fill("#cfsp-question textarea", MUTUAL_DEFENCE)
        page.press("#cfsp-question textarea", "Enter")
        page.wait_for_selector("#cfsp-chat .cfsp-streaming", timeout=30_000)
        assert not page.locator("#cfsp-send").is_visible() and page.locator("#cfsp-question textarea").is_disabled()
        page.click("#cfsp-stop")
        page.wait_for_selector("#cfsp-send", state="visible")
        shown = page.locator("#cfsp-chat .bot-row").last.inner_text()
        time.sleep(1.0)
        assert page.locator("#cfsp-chat .bot-row").last.inner_text() == shown  # nothing more arrives
        assert page.locator("#cfsp-chat .cfsp-sources").count() == 0
        assert not page.locator("#cfsp-question textarea").is_disabled()
        page.close()
    finally:
        app.close()


@pytest.mark.slow
def test_browser_question_with_a_lone_surrogate_gets_a_clear_message(web_url, browser):
    page = browser.new_page()
    page.goto(web_url)
    # the box itself, not only the chat: a script finds no element Gradio has not rendered yet (page.fill would wait)
    page.wait_for_selector("#cfsp-question textarea")
    # a keyboard cannot type a lone surrogate, but a page script or a broken paste can put one in the box
    page.evaluate("""() => { const box = document.querySelector('#cfsp-question textarea');
                              box.value = 'What is \\uD800 PESCO?'; box.dispatchEvent(new Event('input')); }""")
    page.press("#cfsp-question textarea", "Enter")
    error = page.locator("#cfsp-chat .cfsp-error")
    error.wait_for(timeout=30_000)
    assert "invalid character" in error.inner_text() and "position 9" in error.inner_text()
    assert page.locator("#cfsp-chat .user-row").last.inner_text().strip() == "What is \ufffd PESCO?"
    page.close()


@pytest.mark.slow
def test_full_queue_is_told_and_the_question_kept(assistant, full_settings, tmp_path, browser):
    from gradio_client import Client

    settings = full_settings.model_copy(update={"queue_max_size": 1, "concurrency_limit": 1})
    app, url = serve(assistant, settings, FeedbackStore(tmp_path / "feedback.sqlite"), stream_delay=0.3)
    try:
        busy = Client(url, verbose=False)
        running = busy.submit(MUTUAL_DEFENCE, api_name="/ask")  # answered slowly, word group by word group
        time.sleep(1.0)
        waiting = Client(url, verbose=False).submit(MUTUAL_DEFENCE, api_name="/ask")  # fills the one waiting place
        time.sleep(1.0)
        with pytest.raises(Exception, match="Queue is full"):
            Client(url, verbose=False).predict("What is PESCO?", api_name="/ask")

        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("#cfsp-chat")
        page.fill("#cfsp-question textarea", "Who can join PESCO?")
        page.press("#cfsp-question textarea", "Enter")
        page.get_by_text("busy answering other questions").first.wait_for(timeout=15_000)
        page.wait_for_timeout(1000)
        assert page.input_value("#cfsp-question textarea") == "Who can join PESCO?"  # nothing lost
        assert not page.locator("#cfsp-question textarea").is_disabled() and page.locator("#cfsp-send").is_visible()
        page.screenshot(path=tmp_path / "queue-full.png")

        running.result(timeout=120)
        waiting.result(timeout=120)
        ask(page, "Who can join PESCO?")  # room again: the same question is answered, the notice gone
        assert page.locator("#cfsp-chat .cfsp-sources").count() == 1 and not page.locator("#cfsp-wait").is_visible()
        page.close()
    finally:
        app.close()
