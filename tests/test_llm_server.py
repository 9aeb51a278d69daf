"""Answers through a real OpenAI-compatible server: llama.cpp (llama-cpp-python) serving SmolLM2-135M-Instruct.

A 135M model answers quickly and often wrongly (asked whether EU countries must help an attacked member, with
Art. 42(7) TEU as its only source, it said they cannot). Whatever it writes, the user sees only sentences whose
evidence is in a passage it was given, or the quoted answer with the reason."""

from __future__ import annotations

import re

import pytest

from assistant.config import Settings
from assistant.llm.checking import normalise
from assistant.pipeline import Assistant
from assistant.serve.api import create_app
from assistant.serve.feedback import FeedbackStore
from assistant.types import Answer

from .servers import Served

QUESTIONS = [
    "Must EU countries help a member state that is attacked?",
    "Can my country be outvoted on EU foreign policy?",
    "Who decides to launch an EU civilian crisis management mission?",
    "What is PESCO?",
    "How is the European Defence Agency funded?",
    "What does the Political and Security Committee do?",
]
_SENTENCE = re.compile(r"(.+?)((?: \[\d+\])+)(?= |$)")


def llama_assistant(settings: Settings, embedder, server, **changes) -> Assistant:
    return Assistant.from_settings(
        Settings(
            **{
                **settings.model_dump(),
                "llm_base_url": server.url,
                "llm_model": server.alias,
                "llm_timeout": 90,
                **changes,
            }
        ),
        embedder,
    )


@pytest.fixture(scope="module")
def llama(full_index, full_settings, embedder, llama_server) -> Assistant:
    return llama_assistant(full_settings, embedder, llama_server)


def assert_supported(assistant: Assistant, answer: Answer) -> None:
    """What the user sees is either checked sentences resting on given passages, or the quoted answer and why."""
    if answer.mode != "llm":
        assert answer.fallback_reason and answer.model == "smollm2-135m", answer
        if answer.language == "en":  # (another language's question is searched as the model translated it)
            assert answer.text == assistant.ask(answer.question, answerer="extractive").text
        return
    chunks = {c.id: c for c in assistant.index.chunks}
    cited = {c.n: c for c in answer.citations}
    sentences = _SENTENCE.findall(answer.text)
    assert sentences, answer.text
    for text, markers in sentences:
        numbers = [int(n) for n in re.findall(r"\d+", markers)]
        assert numbers and all(n in cited for n in numbers), (text, markers, list(cited))
    for c in answer.citations:
        # every quote is the official wording of the passage given, found verbatim in the indexed text
        assert c.quote and normalise(c.quote) in normalise(c.context), c
        assert normalise(c.quote) in normalise(chunks[c.chunk_id].text) or c.context in chunks[c.chunk_id].text
    assert len(answer.dropped) * 2 <= answer.drafted  # fewer than half dropped, or it would have fallen back


@pytest.mark.slow
def test_the_real_model_never_shows_an_unsupported_sentence(llama):
    seen = []
    for question in QUESTIONS:
        shown, answer = [], None
        for event in llama.ask_stream(question):
            if event.kind == "sentence":
                shown.append(event.text)
            else:
                answer = event.answer
        assert answer is not None and answer.text and not answer.abstained
        assert_supported(llama, answer)
        if answer.mode == "llm":
            assert answer.text == " ".join(shown)  # what was streamed is what was kept
        seen.append((answer.mode, answer.fallback_reason, answer.drafted, answer.dropped))
    print("\n".join(map(str, seen)))  # shown with -s: what this model does with each question
    # the model itself answered: a server that died (llama.cpp built for another CPU dies on its first prompt)
    # would otherwise pass every check above with quoted answers
    dead = [reason for _, reason, _, _ in seen if "cannot be reached" in reason or "is paused" in reason]
    assert not dead and sum(drafted for _, _, drafted, _ in seen) > 0, seen


@pytest.mark.slow
def test_the_real_model_with_only_the_mutual_assistance_clause(full_index, full_settings, embedder, llama_server):
    """The case from the issue: one passage (Art. 42(7) TEU), a model that tends to deny what it says."""
    only = llama_assistant(full_settings, embedder, llama_server, llm_passages=1)
    for event in only.ask_stream("Does the EU have a mutual defence clause like NATO?"):
        if event.answer is not None:
            answer = event.answer
    assert_supported(only, answer)
    # the clause leads either way: the model's answer rests on it alone, the quoted answer quotes it first
    assert answer.citations and answer.citations[0].label == "Art. 42(7) TEU", answer
    if answer.mode == "llm":
        assert [c.label for c in answer.citations] == ["Art. 42(7) TEU"]
        # a denial ("cannot", "not possible") cannot rest on a clause that says the others shall help
        assert not re.search(r"\b(not|cannot|no)\b", answer.text, re.I)


@pytest.mark.slow
def test_a_french_question_through_the_real_model(llama):
    answer = llama.ask("Qui décide de lancer une mission civile de gestion de crise de l'Union ?")
    assert answer.language == "fr" and answer.text
    if answer.abstained:  # the tiny model's translation found nothing: a decline cites nothing
        assert not answer.citations, answer
    else:
        assert_supported(llama, answer)
    assert all("/fra" in c.local_url or "/FR/" in c.local_url for c in answer.citations if c.url.startswith("http"))


@pytest.mark.slow
def test_the_chat_page_with_the_real_model(llama, tmp_path, browser):
    settings = Settings(**{**llama.settings.model_dump(), "rate_limit": "off"})
    served = Served(create_app(llama, settings, FeedbackStore(tmp_path / "feedback.sqlite")))
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    try:
        page.goto(served.url + "/")
        page.wait_for_selector("#cfsp-question textarea", timeout=30_000)
        page.fill("#cfsp-question textarea", QUESTIONS[0])
        page.press("#cfsp-question textarea", "Enter")
        page.wait_for_selector("#cfsp-chat .cfsp-how-llm, #cfsp-chat .cfsp-how-quoted", timeout=120_000)
        answer = page.locator("#cfsp-chat .bot-row").last
        badge = answer.locator(".cfsp-how")
        if "cfsp-how-llm" in (badge.get_attribute("class") or ""):
            assert badge.inner_text().startswith("Written by smollm2-135m from the ")
        else:  # the usual outcome with a 135M model: the quoted answer, and the reason on the badge
            assert badge.inner_text().startswith("Quoted from the")
            assert "smollm2-135m's wording was not shown" in (badge.get_attribute("title") or "")
        assert answer.locator(".cfsp-source").count() >= 1 and answer.locator("a.cfsp-cite").count() >= 1
        assert answer.locator(".cfsp-source .cfsp-quote").first.inner_text()
    finally:
        page.close()
        served.stop()


@pytest.mark.slow
def test_anyone_with_an_endpoint_measures_their_model_with_one_command(
    full_index, full_settings, llama_server, home, tmp_path
):
    """The README's command, through the real server, on a few committed questions written to a temporary set."""
    import json

    from assistant.config import PROJECT_ROOT

    from .commands import run_cli, settings_env

    # one English and one French question: each takes the real model 10-15 s
    lines = (PROJECT_ROOT / "eval" / "questions" / "treaty_teu.jsonl").read_text(encoding="utf-8").splitlines()[:1]
    lines += (PROJECT_ROOT / "eval" / "questions" / "multilingual" / "languages.jsonl").read_text().splitlines()[:1]
    (tmp_path / "few.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = settings_env(
        full_settings,
        home,
        CFSP_LLM_BASE_URL=llama_server.url,
        CFSP_LLM_MODEL=llama_server.alias,
        CFSP_LLM_TIMEOUT="90",
    )
    done = run_cli(
        ["eval", str(tmp_path / "few.jsonl"), "--retrievers", "hybrid", "--answerer", "extractive,llm", "--out",
         str(tmp_path / "report")],
        env,
        home,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    llm = report["summary"]["hybrid+llm"]
    # the model wrote something (a dead endpoint drafts nothing and every answer falls back)
    assert llm["questions"] == 2 and llm["fallback_rate"] is not None and llm["sentences_drafted"] > 0
    assert "dropped_by_rule" in report["llm"]["hybrid+llm"] and "hybrid+l" in done.stdout
