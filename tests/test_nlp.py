"""Sentence splitting, offsets, words and language detection, offline."""
import pytest

from summarizer.nlp import Tokenizer, detect_language, resolve_language
from summarizer.errors import CondenseError

EN = (
    "Mr. Smith paid $1.13bn to the U.S. Treasury on Friday. He said it was fair.\n\n"
    "Analysts disagreed! Was it too much? Time will tell."
)
ZH = "今天天气很好。我们去公园吧！你觉得怎么样？“好的。”他说。"


def test_english_sentences_and_offsets_round_trip():
    sents = Tokenizer("en").sentences(EN)
    assert [s.text for s in sents] == [
        "Mr. Smith paid $1.13bn to the U.S. Treasury on Friday.",
        "He said it was fair.",
        "Analysts disagreed!",
        "Was it too much?",
        "Time will tell.",
    ]
    assert all(EN[s.start:s.end] == s.text for s in sents)
    assert [s.index for s in sents] == list(range(5))


def test_chinese_sentences_keep_closing_quote_with_their_sentence():
    sents = Tokenizer("zh").sentences(ZH)
    assert [s.text for s in sents] == ["今天天气很好。", "我们去公园吧！", "你觉得怎么样？", "“好的。”", "他说。"]
    assert all(ZH[s.start:s.end] == s.text for s in sents)


def test_no_sentence_ends_before_a_lower_case_piece_without_a_space():
    # sentencex ends a sentence at "window." before "__pwned": the pieces are joined again;
    # a capital after the full stop still starts one (BBC's texts lose that space often)
    text = "He said window.__pwned is set. Then he left in 2004.The firm grew."
    assert [s.text for s in Tokenizer("en").sentences(text)] == [
        "He said window.__pwned is set.", "Then he left in 2004.", "The firm grew."]
    assert [s.text for s in Tokenizer("zh").sentences("你好。我很好！")] == ["你好。", "我很好！"]


def test_line_breaks_end_sentences():
    text = "A headline without a stop\nThe body begins here. It goes on."
    assert [s.text for s in Tokenizer("en").sentences(text)] == [
        "A headline without a stop", "The body begins here.", "It goes on."]


def test_words_and_terms():
    tok = Tokenizer("en")
    assert tok.words("The cats' toys, 3 of them!") == ["the", "cats", "toys", "3", "of", "them"]
    assert tok.terms("The cats were running quickly") == ["cat", "run", "quick"]
    zh = Tokenizer("zh")
    assert zh.words("我们去公园吧！") == ["我们", "去", "公园", "吧"]


def test_detect_language():
    assert detect_language(EN) == "en"
    assert detect_language(ZH) == "zh"
    assert detect_language("12345 !!!") == "en"
    # mostly Chinese with some English words
    assert detect_language("我们使用 Python 和 ONNX Runtime 来做摘要。") == "zh"
    assert resolve_language("auto", ZH) == "zh"
    assert resolve_language("en", ZH) == "en"
    assert resolve_language("fr", EN) == "fr"  # supported since #20; see test_languages.py
    with pytest.raises(CondenseError, match="not supported"):
        resolve_language("pl", EN)


def test_empty_and_whitespace_text_has_no_sentences():
    assert Tokenizer("en").sentences("") == []
    assert Tokenizer("en").sentences(" \n\n \t") == []
