"""Dialogues and chat transcripts: speaker turns are units (cleaning, sentences, keyphrases).

The texts are written for these tests in the shapes of SAMSum (``Amanda: ...``, chat
placeholders such as ``<file_gif>``), DialogSum (``#Person1#: ...``) and Chinese chats
(``张三：...``).
"""
from __future__ import annotations

import time

import pytest

from summarizer.documents.cleaning import clean_text, speaker_tag_end
from summarizer.keyphrases import KeyphraseConfig, keyphrases
from summarizer.nlp import MAX_SENTENCE_CHARS, Tokenizer, is_dialogue
from summarizer.types import Document

# Turns without final punctuation ("Sure, which", ";-)", "lol") that the prose rules would
# join to the next line, one turn wrapped over two lines, and a double space.
SAMSUM_RAW = (
    "Amanda: I baked  cookies. Do you want some?\n"
    "Jerry: Sure, which\n"
    "ones\n"
    "Amanda: Chocolate chip ;-)\n"
    "Jerry: lol\n"
    "Amanda: <file_gif>\n"
)
SAMSUM = (
    "Amanda: I baked cookies. Do you want some?\n"
    "Jerry: Sure, which ones\n"
    "Amanda: Chocolate chip ;-)\n"
    "Jerry: lol\n"
    "Amanda: <file_gif>"
)
DIALOGSUM = (
    "#Person1#: Hello, how are you doing today?\n"
    "#Person2#: Not great. I have a cough. It started on Monday.\n"
    "#Person1#: Let me listen to your chest"
)
CHINESE = "张三：你好。今天下午有空吗\n李四:有空。怎么了？\n张三：一起去图书馆吧"


def _units(text: str, lang: str = "en"):
    sents = Tokenizer(lang).sentences(text)
    assert all(text[s.start:s.end] == s.text for s in sents)
    assert [s.index for s in sents] == list(range(len(sents)))
    return [(s.start, s.end, s.text) for s in sents]


@pytest.mark.parametrize(
    "line, end",
    [
        ("Amanda: Hi", 7),
        ("Mr. Smith: Hello", 10),
        ("John Paul: yes", 10),
        ("A: ok", 2),
        ("JUAN : ok", 6),  # a space before the colon
        ("Ann-Christine: hey", 14),
        ("R.city: anytime", 7),
        ("#Person1#: Hi", 10),
        ("张三：你好", 3),
        ("张三:你好", 3),
        ("Note: this is prose", 5),  # a tag by shape; only a dialogue makes it a turn
        ("It is 10:30 now", 0),  # four words
        ("10:30 is late", 0),  # a name starts with a letter
        ("Hi there, Bob: no", 0),  # sentence punctuation inside
        ("http://example.com", 0),
        ("An Extremely Longwindedspeakername: x", 0),  # over 30 characters
        ("", 0),
    ],
)
def test_speaker_tag_end(line: str, end: int) -> None:
    assert speaker_tag_end(line) == end


def test_cleaning_keeps_each_turn_on_its_own_line() -> None:
    assert clean_text(SAMSUM_RAW) == SAMSUM
    assert clean_text(SAMSUM) == SAMSUM
    # the case from the issue: a turn ending in ";-)" was glued to the next one
    raw = "B: One that won't grow up too big;-)\nA: And eat too much;-))"
    assert clean_text(raw) == raw


def test_cleaning_dialogsum_and_chinese_turns() -> None:
    assert clean_text(DIALOGSUM) == DIALOGSUM
    # without the turn rule "有空吗" + "李四" would join with no space (CJK)
    assert clean_text(CHINESE) == CHINESE


def test_note_in_a_prose_paragraph_is_still_joined() -> None:
    prose = "The meeting moved to Friday and\nNote: this is a wrapped line of\nordinary prose."
    assert clean_text(prose) == (
        "The meeting moved to Friday and Note: this is a wrapped line of ordinary prose."
    )
    # one tagged line of two is not a dialogue either
    assert clean_text("See the table below\nNote: values in USD") == (
        "See the table below Note: values in USD"
    )
    assert not is_dialogue("Title\nNote: values in USD. Rounded.")
    assert _units("Title\nNote: values in USD. Rounded.") == [
        (0, 5, "Title"), (6, 26, "Note: values in USD."), (27, 35, "Rounded.")]


def test_turn_rule_applies_per_paragraph() -> None:
    text = "Intro text that\nwraps.\n\nA: hi\nB: hello there\nA: bye"
    assert clean_text(text) == "Intro text that wraps.\n\nA: hi\nB: hello there\nA: bye"


def test_is_dialogue() -> None:
    assert is_dialogue(SAMSUM) and is_dialogue(DIALOGSUM) and is_dialogue(CHINESE)
    assert is_dialogue("A: hi\n\n  B: hello\nsome wrapped text\n")  # 2 of 3 lines
    assert not is_dialogue("A: hi\nsome\nwrapped\ntext")  # 1 of 4
    assert not is_dialogue("Amanda: Hi. How are you?")  # one line is no conversation
    assert not is_dialogue("")


def test_samsum_units_are_turns_with_their_speaker() -> None:
    assert _units(SAMSUM) == [
        (0, 42, "Amanda: I baked cookies. Do you want some?"),  # two sentences, one unit
        (43, 66, "Jerry: Sure, which ones"),
        (67, 93, "Amanda: Chocolate chip ;-)"),  # no final punctuation, not merged
        (94, 104, "Jerry: lol"),
        (105, 123, "Amanda: <file_gif>"),
    ]


def test_dialogsum_units() -> None:
    assert _units(DIALOGSUM) == [
        (0, 42, "#Person1#: Hello, how are you doing today?"),
        (43, 102, "#Person2#: Not great. I have a cough. It started on Monday."),
        (103, 141, "#Person1#: Let me listen to your chest"),
    ]


def test_chinese_units() -> None:
    assert _units(CHINESE, "zh") == [
        (0, 13, "张三：你好。今天下午有空吗"),
        (14, 24, "李四:有空。怎么了？"),
        (25, 35, "张三：一起去图书馆吧"),
    ]


def test_raw_dialogue_units_are_stripped_lines() -> None:
    text = "  A: Hi there. Bye \n\nB: ok\n"
    assert _units(text) == [(2, 18, "A: Hi there. Bye"), (21, 26, "B: ok")]


def test_long_turn_is_cut_at_spaces() -> None:
    text = "A: " + "word " * 700 + "end\nB: ok"
    units = _units(text)
    # spaces at 7, 12, ..., 2997: the last one before 3,000 ends the first piece
    assert [u[:2] for u in units] == [(0, 2997), (2998, 3506), (3507, 3512)]
    assert units[0][2].startswith("A: word") and units[1][2].endswith("word end")
    assert units[-1][2] == "B: ok"
    assert all(len(u[2]) <= MAX_SENTENCE_CHARS for u in units)


def test_prose_is_still_split_into_sentences() -> None:
    text = "Analysts disagreed! Was it too much?\nTime will tell."
    assert [u[2] for u in _units(text)] == [
        "Analysts disagreed!", "Was it too much?", "Time will tell."]


def test_keyphrases_skip_speaker_tags_and_placeholders() -> None:
    text = (
        "Amanda: <file_photo> Look at my new garden chairs\n"
        "Jerry: Nice garden chairs! Where did you buy them?\n"
        "Amanda: The garden shop near the station <file_photo>\n"
        "Jerry: I need garden chairs too\n"
        "Amanda: <file_gif>\n"
        "Jerry: <link>"
    )
    # With tags and placeholders as words: "jerry nice garden", "file", "garden", "jerry".
    got = keyphrases(Document(text, "en"), KeyphraseConfig(top_phrases=20))
    assert [k.text for k in got] == ["garden chairs", "garden"]


def test_keyphrases_keep_names_mentioned_inside_turns() -> None:
    # With the tags as words, "person2 jimmy" and "person2 report" ranked first.
    text = (
        "#Person1#: Jimmy called about the report.\n"
        "#Person2#: Jimmy again?\n"
        "#Person1#: Jimmy wants the report today.\n"
        "#Person2#: Report deadlines are tight.\n"
        "#Person1#: Tell Jimmy the report is late."
    )
    got = [k.text for k in keyphrases(Document(text, "en"), KeyphraseConfig(top_phrases=20))]
    assert got == ["report", "jimmy"]


def test_keyphrases_skip_placeholders_in_prose_too() -> None:
    text = "Garden chairs <file_photo> garden chairs. New garden chairs <link> today."
    got = [k.text for k in keyphrases(Document(text, "en"), KeyphraseConfig(top_phrases=20))]
    assert got and all("file" not in k and "photo" not in k and "link" not in k for k in got)


def test_long_dialogue_is_linear() -> None:
    text = "Amanda: hi there\nJerry: hello ;-)\n" * 50_000
    start = time.perf_counter()
    assert clean_text(text) == text.strip()
    assert is_dialogue(text)
    assert time.perf_counter() - start < 3.0
