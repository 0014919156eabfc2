"""clean_text: exact outputs for each rule, plus idempotence and linear time."""
from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarizer.documents.cleaning import clean_text


@pytest.mark.parametrize(
    "raw, expected",
    [
        # ligatures, NFC (e + combining acute -> é)
        ("\ufb01ne \ufb02ow o\ufb00er su\ufb03x ba\ufb04e", "fine flow offer suffix baffle"),
        ("cafe\u0301", "caf\u00e9"),
        # unicode spaces -> space, runs collapse, tabs are spaces
        ("a\u00a0b\u2009c\u3000d\u202fe", "a b c d e"),
        ("a \t  b\t\tc", "a b c"),
        # invisible characters and controls are dropped
        ("\ufeffzero\u200bwidth soft\u00adhyphen", "zerowidth softhyphen"),
        ("bell\x07 null\x00 del\x7f c1\x9b", "bell null del c1"),
        # line-separating controls keep words apart
        ("page one\x0cpage two", "page one page two"),
        ("end.\u2028Next", "end.\nNext"),
        ("one\u2029two", "one\n\ntwo"),
        # line endings
        ("a.\r\nb.\rc.", "a.\nb.\nc."),
        # trailing and leading spaces on lines, whole text stripped
        ("  \n  first.   \n   second.  \n\n", "first.\nsecond."),
    ],
)
def test_character_level_cleaning(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        # hyphenated line ends are repaired between lower-case letters only
        ("an exam-\nple here", "an example here"),
        ("Jean-\nPaul came", "Jean-Paul came"),
        ("the COVID-\n19 wave", "the COVID-19 wave"),
        ("a range 1-\n2 of", "a range 1- 2 of"),
        # hard wraps inside a paragraph become spaces
        ("a line that\nwraps around\nthree times", "a line that wraps around three times"),
        # sentence-final punctuation (also before a closing quote) keeps the break
        ("It ended.\nThen", "It ended.\nThen"),
        ("Really?\nYes!\nOK:\nlist;\nmore", "Really?\nYes!\nOK:\nlist;\nmore"),
        ('He said "stop."\nThen', 'He said "stop."\nThen'),
        ('he said "hello"\nand left', 'he said "hello" and left'),
        # list items and headings keep their own lines
        ("Intro\n- one\n* two\n• three\n1. four\n2) five",
         "Intro\n- one\n* two\n• three\n1. four\n2) five"),
        ("# Heading\nbody text", "# Heading\nbody text"),
        ("about 3.5\nmillion", "about 3.5 million"),
        ("in 2024\n2024. was", "in 2024\n2024. was"),
        # CJK joins without a space; CJK punctuation ends a sentence
        ("这是一个\n测试", "这是一个测试"),
        ("第一句。\n第二句", "第一句。\n第二句"),
        ("中文\nEnglish", "中文 English"),
        # paragraphs: exactly one blank line between them
        ("para one\n\n\n\n  \n\npara two", "para one\n\npara two"),
    ],
)
def test_line_joining(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_pdf_like_page_reflows_into_paragraphs() -> None:
    page = (
        "Automatic summaries let readers find the\n"
        "main points of a long docu-\n"
        "ment quickly.\n"
        "\n"
        "Extractive methods select sen-\n"
        "tences; abstractive ones write new\n"
        "text.\n"
    )
    assert clean_text(page) == (
        "Automatic summaries let readers find the main points of a long document quickly."
        "\n\nExtractive methods select sentences; abstractive ones write new text."
    )


def test_empty_and_blank_inputs_give_empty_string() -> None:
    assert clean_text("") == ""
    assert clean_text(" \n\t\u00a0\u200b\n\r\n") == ""


def test_long_single_line_and_many_lines_are_linear() -> None:
    line = "word " * 100_000 + "end"  # a 500,000-character line
    start = time.perf_counter()
    assert clean_text(line) == "word " * 100_000 + "end"
    assert clean_text("ab-\n" * 100_000) == "ab" * 100_000 + "-"
    assert clean_text("x\n\n" * 100_000) == "\n\n".join(["x"] * 100_000)
    assert time.perf_counter() - start < 3.0


_ALPHABET = "ab A.-#1)\n\t\r\u00a0\u200b\u00ad中」。”\"\u0301\ufb01é\u2029\x0c:?"


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(alphabet=st.sampled_from(list(_ALPHABET)), max_size=60))
def test_clean_text_is_idempotent_and_tidy(raw: str) -> None:
    once = clean_text(raw)
    assert clean_text(once) == once
    assert once == once.strip()
    assert "\n\n\n" not in once and "  " not in once and "\t" not in once
    assert all(line == line.strip() for line in once.split("\n"))
