"""Abstractive summaries told as they are written (``on_progress``), and their notes in
plain words.

Streaming is an optional extra on the one interface: with or without ``on_progress`` the
summarizer returns the same ``Summary`` (text, notes, budget), on the tiny models of
``tests/summary_models.py``: an encoder-decoder (BART) and a decoder-only summarizer
(GPT-2 plus a prompt format), one pass and map-reduce over parts.
"""
import pytest

from summarizer.abstractive.decoder_only import LMSummarizer
from summarizer.abstractive.length import (cued_sentence_room, length_note,
                                          new_tokens_for, parts_note, repetition_note,
                                          wanted_words)
from summarizer.abstractive.seq2seq import AbstractiveConfig, AbstractiveSummarizer, Progress
from summarizer.types import Budget, Document
from tests.summary_models import bart_summarizer, lm_summarizer
from tests.tiny_models import CORPUS

LONG = Document(" ".join(CORPUS * 2), "en")
SHORT = Document(CORPUS[0], "en")


# -- notes, hand-computed ------------------------------------------------------------
@pytest.mark.parametrize("budget,tokens,asked,allowed,note", [
    # 840 tokens ~ 600 words (1.4 tokens a word); a tenth is 60 words = 84 tokens
    (Budget(auto=True), 840, 84, 84,
     "Length: up to about 60 words (84 tokens): a tenth of the article, which has about 600 words."),
    # 100 tokens ~ 71 words: a tenth would be 7, the automatic length is at least 25 (35 tokens)
    (Budget(auto=True), 100, 35, 35,
     "Length: up to about 25 words (35 tokens): the shortest automatic length (the article has "
     "about 71 words)."),
    (Budget(auto=True), 7000, 350, 350,
     "Length: up to about 250 words (350 tokens): the longest automatic length (the article has "
     "about 5,000 words)."),
    (Budget(words=100), 500, 140, 140, "Length: up to about 100 words (140 tokens), as asked."),
    # 3 x 32 = 96 tokens; 96 / 1.4 = 68.6
    (Budget(sentences=3), 500, 96, 96,
     "Length: up to about 69 words (96 tokens): 3 sentences asked for, at about 32 tokens a "
     "sentence."),
    (Budget(ratio=0.2), 680, 136, 136,
     "Length: up to about 97 words (136 tokens): 20% of the article's 680 tokens."),
    # a model trained on summaries of at most 16 tokens writes no more
    (Budget(ratio=0.2), 680, 136, 16,
     "Length: up to about 11 words (16 tokens), the most this model writes; 20% of the "
     "article's 680 tokens would be 136 tokens."),
])
def test_length_note_says_the_limit_in_words_and_why(budget, tokens, asked, allowed, note):
    assert new_tokens_for(budget, tokens) == asked
    assert length_note(budget, tokens, asked, allowed) == note


@pytest.mark.parametrize("budget, tokens, lang, words", [
    (Budget(words=100), 500, "en", 100),  # as asked
    (Budget(sentences=3), 500, "en", 60),  # 20 words a sentence
    (Budget(sentences=2), 500, "zh", 18),  # 9 (jieba) words a Chinese sentence
    (Budget(ratio=0.2), 680, "en", 97),  # 136 tokens at 1.4 a word
    (Budget(ratio=0.2), 500, "zh", 36),  # 100 tokens at 2.8 a word
    (Budget(auto=True), 7000, "en", 250),  # the longest automatic length
    (Budget(auto=True), 14, "en", 25),  # the shortest
])
def test_a_length_cued_model_is_asked_for_the_budget_in_words(budget, tokens, lang, words):
    assert wanted_words(budget, tokens, lang) == words


def test_a_length_cued_model_gets_half_again_the_words_it_is_asked_for_in_a_first_sentence():
    # 1.5 x 20 words x 1.4 = 42 tokens, 10 past 32, in English; 1.5 x 9 x 2.8 = 37.8 < 64
    assert (cued_sentence_room("en"), cued_sentence_room("zh")) == (10, 0)
    assert new_tokens_for(Budget(sentences=3), 500, sentence_room=10) == 106  # 3 x 32 + 10
    assert length_note(Budget(sentences=1), 500, 42, 42, sentence_room=10) == (
        "Length: up to about 30 words (42 tokens): 1 sentence asked for, at about 32 tokens "
        "a sentence and 10 more for the first.")


def test_a_chinese_sentence_gets_more_tokens_and_no_word_count():
    # 2 x 64: byte-level vocabularies spend one to three tokens on a character
    assert new_tokens_for(Budget(sentences=2), 500, "zh") == 128
    assert new_tokens_for(Budget(sentences=2), 500, "de") == 64
    assert new_tokens_for(Budget(ratio=0.2), 500, "zh") == 100  # ratios are of tokens anyway
    assert new_tokens_for(Budget(words=10), 500, "zh") == 28  # 2.8 tokens a word
    # 280 tokens are 100 words at 2.8: the shortest automatic length, 25 words, 70 tokens
    assert new_tokens_for(Budget(auto=True), 280, "zh") == 70
    assert length_note(Budget(auto=True), 280, 70, 70, "zh") == (
        "Length: up to 70 tokens: the shortest automatic length (the article has about 100 words).")
    assert length_note(Budget(sentences=1), 300, 64, 64, "zh") == (
        "Length: up to 64 tokens: 1 sentence asked for, at about 64 tokens a sentence.")


def test_repetition_note():
    assert repetition_note(10, 12) == (
        "Against repetition: where the model starts repeating 10 tokens it already wrote, it "
        "takes its next-best word instead, up to 12 times; after that, a repeat ends the summary.")
    assert "instead, once;" in repetition_note(4, 1)
    assert repetition_note(10, 0) == ("Against repetition: the summary ends where the model "
                                      "starts repeating 10 tokens it already wrote.")


def test_parts_note_one_and_two_rounds():
    assert parts_note([(1234, 3)], 300, 512, 1) == (
        "Long article: summarized in 3 parts, then combined. It has 1,234 tokens and the model "
        "reads at most 512 at a time, so it was cut into 3 parts, each sharing 1 sentence with "
        "the next; the summary was then written from the parts' summaries (300 tokens together).")
    assert parts_note([(9000, 12), (1500, 3)], 300, 512, 0) == (
        "Long article: summarized in 12 parts, their summaries again in 3 parts, then combined. "
        "It has 9,000 tokens and the model reads at most 512 at a time, so it was cut into 12 "
        "parts; their summaries (1,500 tokens) were still too long and were cut into 3 parts; "
        "the summary was then written from the parts' summaries (300 tokens together).")
    # a later round of one part: joined summaries can count more tokens than their parts
    assert parts_note([(2861, 4), (770, 1)], 192, 768, 1) == (
        "Long article: summarized in 4 parts, their summaries once more, then combined. It has "
        "2,861 tokens and the model reads at most 768 at a time, so it was cut into 4 parts, "
        "each sharing 1 sentence with the next; their summaries (770 tokens) were still too long "
        "and were summarized once more; the summary was then written from the parts' summaries "
        "(192 tokens together).")


# -- the tiny models -------------------------------------------------------------------
@pytest.fixture(scope="module")
def bart(tmp_path_factory):
    return str(bart_summarizer(tmp_path_factory.mktemp("progress-bart")))


@pytest.fixture(scope="module")
def lm_folder(tmp_path_factory):
    """Reads 40 article tokens at a time: longer documents go through parts."""
    return str(lm_summarizer(tmp_path_factory.mktemp("progress-lm"), max_source_tokens=40))


def _streamed(summarizer, document, budget):
    events = []
    summary = summarizer(document, budget, on_progress=events.append)
    return summary, events


def _growing(texts):
    return all(a == b[:len(a)] for a, b in zip(texts, texts[1:]))


@pytest.mark.parametrize("beams", [1, 2])
def test_one_pass_streams_the_summary_and_returns_the_same(bart, beams):
    summarizer = AbstractiveSummarizer(AbstractiveConfig(model_dir=bart, num_beams=beams))
    plain = summarizer(SHORT, Budget(words=8))
    streamed, events = _streamed(summarizer, SHORT, Budget(words=8))
    assert streamed == plain and len(plain.text.split()) >= 3  # text, notes, budget, document
    assert all(e.parts == 0 and e.round == 0 and e.part == 0 for e in events)
    texts = [e.text for e in events]
    assert texts[0] == "" and _growing(texts)
    assert texts[-1].split() == plain.text.split()
    if beams > 1:  # beam search knows its text only at the end
        assert texts == ["", texts[-1]]
    else:
        assert len(texts) > 2


@pytest.mark.parametrize("batch_size", [1, None])
def test_parts_are_reported_and_change_nothing(bart, batch_size):
    summarizer = AbstractiveSummarizer(AbstractiveConfig(
        model_dir=bart, max_input_tokens=20, max_new_tokens=6, num_beams=1, batch_size=batch_size,
        long_documents="map-reduce"))
    plain = summarizer(LONG, Budget(sentences=1))
    streamed, events = _streamed(summarizer, LONG, Budget(sentences=1))
    assert streamed == plain
    note = next(n for n in plain.notes if n.startswith("Long article: summarized in "))
    parts = int(note.split("cut into ")[1].split()[0])
    assert note.startswith(f"Long article: summarized in {parts} parts")
    first_round = [e for e in events if e.parts and e.round == 1]
    assert {e.parts for e in first_round} == {parts}
    starts = [(e.part, e.last) for e in first_round if e.text == ""]
    if batch_size == 1:  # one part after the other, each streamed
        assert starts == [(i, i) for i in range(1, parts + 1)]
        assert all(_growing([e.text for e in first_round if e.part == i]) for i in range(1, parts + 1))
    else:  # batches of 8 parts, written together: no text until each batch is done
        assert starts == [(i, min(i + 7, parts)) for i in range(1, parts + 1, 8)]
        assert all(e.text == "" for e in first_round)
    rounds = max(e.round for e in events)
    final = [e for e in events if e.parts == 0]
    assert final and all(e.round == rounds for e in final)
    assert events.index(final[0]) > events.index(first_round[-1])  # the summary comes last
    assert final[-1].text.split() == plain.text.split()


@pytest.mark.parametrize("document, long_documents", [(SHORT, "extract"), (LONG, "map-reduce"),
                                                      (LONG, "extract")],
                         ids=["one-pass", "parts", "extract"])
def test_decoder_only_summarizer_streams_the_same_summary(lm_folder, document, long_documents):
    summarizer = LMSummarizer(AbstractiveConfig(model_dir=lm_folder, long_documents=long_documents))
    plain = summarizer(document, Budget(auto=True))
    streamed, events = _streamed(summarizer, document, Budget(auto=True))
    assert streamed == plain
    assert events[-1] == Progress(events[-1].text, round=events[-1].round)  # the summary, last
    if long_documents == "map-reduce":
        assert any(n.startswith("Long article: summarized in ") for n in plain.notes)
        assert [e.part for e in events if e.parts and e.text == ""][:2] == [1, 2]
    else:  # one pass, over the document or its best sentences
        assert not [e for e in events if e.parts]
        extracted = [n for n in plain.notes if n.startswith("Long article: summarized from its ")]
        assert len(extracted) == (document is LONG)
