"""sumy's summarizers behind our interface choose what sumy itself chooses."""
import pytest

from summarizer.methods.sumy_methods import (
    KLSum, LexRank, LSA, Luhn, SumBasic, SumyTextRank, OfflineSumyTokenizer, sumy_document,
)
from summarizer.nlp import Tokenizer, stem, stopwords
from summarizer.types import Budget, Document

TEXT = (
    "The city council met on Monday to discuss the flood defences. "
    "Heavy rain last winter flooded hundreds of homes near the river. "
    "Engineers proposed a new wall along the river bank. "
    "The wall would cost twelve million pounds, the engineers said. "
    "Residents asked the council to start work before next winter. "
    "A council spokesman said funding for the river wall was not yet agreed. "
    "Local shops reported a quiet weekend."
)


@pytest.mark.parametrize("ours", [LexRank, LSA, Luhn, KLSum, SumBasic, SumyTextRank])
@pytest.mark.parametrize("count", [1, 2, 3])
def test_same_choice_as_sumy_itself(ours, count):
    tok = Tokenizer("en")
    sents = tok.sentences(TEXT)
    sumy_cls = ours()._sumy_class()
    native = sumy_cls(stem)
    native.stop_words = stopwords("en")
    chosen = native(sumy_document(sents, tok), count)
    expected = [str(s) for s in chosen]
    got = ours()(Document(TEXT, "en"), Budget(sentences=count))
    assert [s.text for s in got.sentences] == expected
    assert all(TEXT[s.start:s.end] == s.text for s in got.sentences)


def test_adapter_needs_no_nltk_data():
    adapter = OfflineSumyTokenizer(Tokenizer("en"))
    assert adapter.to_sentences("One here. Two there.") == ["One here.", "Two there."]
    assert adapter.to_words("Two there.") == ["two", "there"]
    assert adapter.language == "en"


def test_chinese_document_through_sumy():
    text = "今天天气很好。我们去公园散步。公园里有很多人。天气好的时候人们喜欢去公园。"
    got = LexRank()(Document(text, "zh"), Budget(sentences=1))
    assert len(got.sentences) == 1
    assert text[got.sentences[0].start:got.sentences[0].end] == got.sentences[0].text
