"""Unit tests of `assistant.words`: the word lists read from `corpus/words.toml` and the ways text is split into
words outside the lexical index, on hand-made text."""

from __future__ import annotations

from assistant.question.conversation import Turn, resolve
from assistant.words import WORDS_FILE, content_words, proper_names, tokens, topic_words, variants, word_lists, words


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


def test_proper_names_skip_the_first_word_acronyms_and_function_words():
    assert proper_names("Does Ireland take part in PESCO with Denmark?") == ["Ireland", "Denmark"]
    assert proper_names("Iran too?") == ["Iran"]  # a very short question's first word counts
    assert proper_names("What is the role of the Commission's President?") == ["Commission's", "President"]


def test_topic_words_keep_a_paragraph_and_letters_outside_ascii():
    assert topic_words("What does Article 31(2) TEU say about Türkiye?") == ["Article", "31(2)", "TEU", "Türkiye"]
    history = [Turn("user", "What does Article 31(2) TEU say about Türkiye?")]
    assert resolve("And who decides then?", history) == "And who decides then? (Article 31(2) TEU Türkiye)"


def test_variants_of_one_word():
    # the plural possessive goes with its apostrophe: "States'" -> "State"
    assert variants("Member-States'") == ["member-states'", "member-state", "memberstate", "member", "state"]
    assert variants("HR/VP") == ["hr/vp", "hrvp", "hr", "vp"]
