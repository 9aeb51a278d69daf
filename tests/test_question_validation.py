"""Valid Unicode at the edge: a lone UTF-16 surrogate (which JSON can carry) is turned away with a message naming
where it is, and can be shown as the replacement character; any real character passes unchanged."""

from __future__ import annotations

import json

import pytest

from assistant.errors import QuestionError
from assistant.question.validation import displayable, first_invalid, require_unicode


def test_valid_text_passes_unchanged():
    text = "Does Article 42(7) TEU apply to Kyiv – Київ? 😀 Ça va"
    assert first_invalid(text) is None
    assert require_unicode(text, "The question") == text


def test_a_surrogate_pair_from_json_is_one_valid_character():
    text = json.loads('"Who chairs the PSC? \\ud83d\\ude00"')
    assert text.endswith("😀")
    assert first_invalid(text) is None


def test_a_lone_surrogate_is_refused_with_a_clear_message():
    question = json.loads('"Who chairs \\ud800 the PSC?"')  # as a JSON body can carry it
    with pytest.raises(QuestionError) as refused:
        require_unicode(question, "The question")
    message = str(refused.value)
    assert message.startswith("The question has an invalid character at position 12 (U+D800")
    assert message.endswith("send valid Unicode text")


def test_the_first_lone_surrogate_is_the_one_named():
    assert first_invalid("ok\udfff then \ud800") == 2  # a low half alone counts too
    assert first_invalid("\ud800") == 0
    with pytest.raises(QuestionError, match=r"^History has an invalid character at position 3 \(U\+DFFF"):
        require_unicode("ok\udfff then \ud800", "History")


def test_displayable_replaces_each_lone_surrogate():
    shown = displayable("a\ud800b\udc00")
    assert shown == "a\ufffdb\ufffd"
    assert shown.encode("utf-8") == "a�b�".encode()  # now writable as UTF-8
    assert displayable("Київ 😀") == "Київ 😀"
