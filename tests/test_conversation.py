"""Follow-up questions: resolution against earlier turns (unit level) and one conversation end to end."""

from __future__ import annotations

import pytest

from assistant.question.conversation import Turn, resolve

# (earlier question, follow-up, words the search must carry over, words it must not carry over)
PAIRS = [
    ("What is PESCO?", "Who can join it?", ["PESCO"], []),
    (
        "Does the EU have a mutual defence clause like NATO?",
        "Who decides on that?",
        ["mutual", "defence", "clause"],
        [],
    ),
    (
        "Does the EU have a mutual defence clause like NATO?",
        "Does it apply to neutral countries?",
        ["defence", "clause"],
        [],
    ),
    ("Does the EU have a mutual defence clause like NATO?", "And has it ever been used?", ["mutual", "defence"], []),
    (
        "What does the Political and Security Committee do?",
        "and who chairs it?",
        ["Political", "Security", "Committee"],
        [],
    ),
    ("What is the European Peace Facility?", "How is it financed?", ["Peace", "Facility"], []),
    ("What is the role of the High Representative?", "Who appoints him?", ["High", "Representative"], []),
    ("Can the EU decide foreign policy by majority vote?", "What are the exceptions?", ["majority", "vote"], []),
    # a follow-up naming its own country keeps the topic but drops the old country
    (
        "What restrictive measures has the EU adopted against Iran?",
        "What about Syria?",
        ["restrictive", "measures"],
        ["Iran"],
    ),
    ("Which CSDP missions does the EU run in Africa?", "Which ones are military?", ["CSDP", "missions"], []),
    # a name that points back still follows up
    (
        "What restrictive measures has the EU adopted against Iran?",
        "Belarus too?",
        ["restrictive", "measures"],
        ["Iran"],
    ),
    # the same, asked of another country, replaces the old one
    (
        "What restrictive measures has the EU adopted against Iran?",
        "Does the same apply to Syria?",
        ["restrictive", "measures"],
        ["Iran"],
    ),
    # a pronoun as the subject points at the old topic's name even when the follow-up names something else
    (
        "What is the European Security and Defence College?",
        "Does it run anything like Erasmus for young soldiers?",
        ["Security", "Defence", "College"],
        [],
    ),
]

# A question that stands on its own starts a new topic: nothing is carried over.
NEW_TOPICS = [
    ("What is PESCO?", "What does the European Defence Agency do?"),
    ("What is EUCAP Somalia?", "What is the mandate of EULEX Kosovo?"),
    ("What is PESCO?", "How are sanctions adopted?"),
    # one term, but a whole question naming its own subject: a new topic, not "PESCO" searched as Kosovo
    ("What does EULEX Kosovo do?", "What is PESCO?"),
    ("What is PESCO?", "What does EULEX do?"),
]


def conversation(*user_turns: str) -> list[Turn]:
    turns = []
    for text in user_turns:
        turns += [Turn("user", text), Turn("assistant", "An answer quoting the treaty. [1]")]
    return turns


@pytest.mark.parametrize("earlier, follow_up, carried, dropped", PAIRS, ids=[p[1] for p in PAIRS])
def test_follow_up_carries_the_topic(earlier, follow_up, carried, dropped):
    query = resolve(follow_up, conversation(earlier))
    assert query.startswith(follow_up)
    words = query[len(follow_up) :].split()
    assert all(any(w.strip("()") == c for w in words) for c in carried), query
    assert not any(w.strip("()") in dropped for w in words), query


@pytest.mark.parametrize("earlier, question", NEW_TOPICS, ids=[p[1] for p in NEW_TOPICS])
def test_self_contained_question_starts_a_new_topic(earlier, question):
    assert resolve(question, conversation(earlier)) == question


def test_first_question_and_assistant_turns_are_not_topics():
    assert resolve("Who can join it?", []) == "Who can join it?"
    # only what the person asked sets the topic, not the quoted answer
    assert (
        resolve("Who can join it?", [Turn("assistant", "PESCO is established by Article 42(6) TEU.")])
        == "Who can join it?"
    )


def test_a_chain_of_follow_ups_keeps_the_topic():
    query = resolve("And how do they leave?", conversation("What is PESCO?", "Who can join it?"))
    assert "PESCO" in query


def _about_pesco(citation) -> bool:
    text = f"{citation.title} {citation.quote}".lower()
    return "pesco" in text or "permanent structured cooperation" in text


@pytest.mark.slow
def test_follow_up_is_answered_in_context(assistant):
    first = assistant.ask("What is PESCO?")
    history = [{"role": "user", "content": "What is PESCO?"}, {"role": "assistant", "content": first.text}]
    follow_up = assistant.ask("Who can join it?", history=history)
    assert not follow_up.abstained and "PESCO" in follow_up.search_query
    assert any(_about_pesco(c) for c in follow_up.citations), [c.label for c in follow_up.citations]
    # the same words without the conversation are not about PESCO: the context did the work
    alone = assistant.ask("Who can join it?")
    assert not any(_about_pesco(c) for c in alone.citations)
