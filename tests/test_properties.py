"""Property-based tests (hypothesis) on the summarizer interface: any text in, a valid
result out, or a typed error for text with nothing to summarize."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from summarizer.errors import EmptyDocumentError
from summarizer.documents.loaders import document_from_text
from summarizer.nlp import tokenizer_for
from summarizer.registry import get_summarizer
from summarizer.types import Budget

WORDS = st.sampled_from(["the", "council", "budget", "rain", "river", "Mr.", "U.S.", "3.5%",
                         "今天", "天气", "好", "é", "naïve", "x"])
PUNCT = st.sampled_from([" ", " ", " ", ". ", "! ", "? ", "\n", "\n\n", "。", "，", ", ", "\t"])
TEXT = st.one_of(
    st.text(max_size=400),  # anything at all, control characters and surrogates aside
    st.lists(st.tuples(WORDS, PUNCT), max_size=120).map(lambda ps: "".join(w + p for w, p in ps)),
)
BUDGET = st.one_of(
    st.integers(1, 12).map(lambda n: Budget(sentences=n)),
    st.floats(0.01, 1.0).map(lambda r: Budget(ratio=r)),
    st.integers(1, 80).map(lambda w: Budget(words=w)),
)


@pytest.mark.parametrize("method", ["textrank", "lead", "pacsum", "lexrank", "luhn"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, budget=BUDGET)
def test_any_text_gives_a_valid_summary(method, text, budget):
    try:
        doc = document_from_text(text)
    except EmptyDocumentError:
        assert not text.strip() or not any(c.isprintable() and not c.isspace() for c in text)
        return
    try:
        summary = get_summarizer(method)(doc, budget)
    except EmptyDocumentError:
        assert tokenizer_for(doc.lang).sentences(doc.text) == []
        return
    chosen = summary.sentences
    assert chosen, "a non-empty document always gives at least one sentence"
    for s in chosen:
        assert doc.text[s.start:s.end] == s.text and s.text.strip() == s.text
    indices = [s.sentence.index for s in chosen]
    assert indices == sorted(set(indices)), "document order, no repeats"
    n = len(tokenizer_for(doc.lang).sentences(doc.text))
    if budget.sentences is not None:
        assert len(chosen) == min(budget.sentences, n)
    elif budget.ratio is not None:
        assert len(chosen) == max(1, round(budget.ratio * n))
    else:
        words = sum(len(tokenizer_for(doc.lang).words(s.text)) or 1 for s in chosen)
        assert words <= budget.words or len(chosen) == 1
    assert all(s.score == s.score and abs(s.score) != float("inf") for s in chosen), "finite scores"
