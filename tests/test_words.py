"""Unit tests of `assistant.words`: the word lists read from `corpus/words.toml` and the ways text is split into
words outside the lexical index, on hand-made text."""

from __future__ import annotations

import pytest

from assistant.errors import CorpusError
from assistant.question.conversation import Turn, resolve
from assistant.words import (
    WORDS_FILE,
    content_words,
    name_phrases,
    proper_names,
    tokens,
    topic_words,
    variants,
    word_lists,
    words,
)


def test_the_word_lists_are_read_from_the_data_file_in_lower_case():
    lists = word_lists()
    assert WORDS_FILE.name == "words.toml"
    assert {"what", "shall", "the"} <= lists.function
    assert lists.function < lists.chat and {"please", "tell"} <= lists.chat
    assert {"eu", "union", "explain"} <= lists.topic
    assert "representative" in lists.titles and "january" in lists.not_names
    assert all(w == w.lower() for w in lists.function | lists.chat | lists.topic | lists.titles | lists.not_names)


def test_word_lists_from_another_file(tmp_path):
    path = tmp_path / "words.toml"
    path.write_text(
        '[function]\nwords = ["What"]\n[chat]\nwords = ["please"]\n[topic]\nwords = ["eu"]\n'
        '[person]\ntitles = ["Doctor"]\nnot_names = ["Union"]\n',
        encoding="utf-8",
    )
    lists = word_lists(path)
    assert lists.function == {"what"} and lists.chat == {"what", "please"} and lists.titles == {"doctor"}


def test_tokens_keep_what_is_joined_to_a_word_and_words_split_it():
    text = "Can the HR/VP veto the EU's 14th decision on cyber-attacks?"
    assert tokens(text) == ["Can", "the", "HR/VP", "veto", "the", "EU's", "14th", "decision", "on", "cyber-attacks"]
    assert words("HR/VP and the EU's cyber-attacks") == ["HR", "VP", "and", "the", "EU's", "cyber-attacks"]


def test_content_words_drop_function_and_chat_words():
    assert content_words("Can you please tell me who chairs the PSC?") == "chairs PSC"


def test_proper_names_are_the_capitalised_words_after_the_first():
    assert proper_names("What did Varadkian tell the Council about Moldavia?") == ["Varadkian", "Council", "Moldavia"]
    # acronyms are not names, nor a capitalised question word starting a second sentence
    assert proper_names("Why did NATO and the EU meet Varadkian? What about Moldavia?") == ["Varadkian", "Moldavia"]
    assert proper_names("Does Ireland take part in PESCO with Denmark?") == ["Ireland", "Denmark"]
    assert proper_names("What is the role of the Commission's President?") == ["Commission's", "President"]
    # in a very short question the first word may be the name; a number is no word, "14th" one
    assert proper_names("Iran too?") == ["Iran"]
    assert proper_names("Iran in 2024?") == ["Iran"]
    assert proper_names("Iran 14th sanctions too?") == []
    assert proper_names("What does the treaty say about sanctions?") == []


def test_topic_words_keep_a_paragraph_and_letters_outside_ascii():
    assert topic_words("What does Article 31(2) TEU say about Türkiye?") == ["Article", "31(2)", "TEU", "Türkiye"]
    history = [Turn("user", "What does Article 31(2) TEU say about Türkiye?")]
    assert resolve("And who decides then?", history) == "And who decides then? (Article 31(2) TEU Türkiye)"


def test_variants_of_one_word():
    # the plural possessive goes with its apostrophe: "States'" -> "State"
    assert variants("Member-States'") == ["member-states'", "member-state", "memberstate", "member", "state"]
    assert variants("HR/VP") == ["hr/vp", "hrvp", "hr", "vp"]


def test_a_word_lists_file_that_cannot_be_used_is_one_line_naming_it(tmp_path):
    with pytest.raises(CorpusError, match="cannot read the word lists .*missing.toml"):
        word_lists(tmp_path / "missing.toml")
    path = tmp_path / "words.toml"
    path.write_text('[function]\nwords = ["what"]\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"have no list \[chat\] words"):
        word_lists(path)


def test_names_are_shown_as_the_question_writes_them():
    assert name_phrases("Did the EU's naval mission in the Red Sea protect shipping?", ["Red", "Sea"]) == ["Red Sea"]
    assert name_phrases("What did the EU do in the South China Sea and in Niger?") == ["South China Sea", "Niger"]
    assert name_phrases("When will Ukraine's accession happen?", ["Ukraine"]) == ["Ukraine"]
    assert name_phrases("what about it?", []) == []
