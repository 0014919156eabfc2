"""Budget checks and the shared select step."""
import pytest

from summarizer.base import select
from summarizer.errors import BudgetError
from summarizer.types import Budget

SCORES = [0.1, 0.5, 0.3, 0.5, 0.2]
WORDS = [10, 30, 5, 8, 4]


def test_sentence_budget_takes_best_in_document_order_ties_to_earlier():
    assert select(SCORES, WORDS, Budget(sentences=2)) == ([1, 3], [])
    assert select(SCORES, WORDS, Budget(sentences=3)) == ([1, 2, 3], [])


def test_sentence_budget_over_length_keeps_all_with_note():
    chosen, notes = select(SCORES, WORDS, Budget(sentences=9))
    assert chosen == [0, 1, 2, 3, 4]
    assert notes == ["Asked for 9 sentences; the document has only 5, so all are kept."]


def test_ratio_rounds_and_keeps_at_least_one():
    assert select(SCORES, WORDS, Budget(ratio=0.4))[0] == [1, 3]  # round(2.0)
    assert select(SCORES, WORDS, Budget(ratio=0.01))[0] == [1]


def test_word_budget_skips_what_does_not_fit_and_fills_with_shorter():
    # ranked: 1 (30w), 3 (8w), 2 (5w), 4 (4w), 0 (10w); budget 40 -> 1, 3 (38), then nothing fits
    assert select(SCORES, WORDS, Budget(words=40)) == ([1, 3], [])
    # budget 45 -> 1, 3, 2 (43), 4 would make 47
    assert select(SCORES, WORDS, Budget(words=45))[0] == [1, 2, 3]


def test_word_budget_keeps_best_sentence_even_if_too_long():
    chosen, notes = select(SCORES, WORDS, Budget(words=5))
    assert chosen == [1]
    assert notes == ["The best sentence alone has 30 words, more than the 5 asked for; it is "
                     "kept so that the summary is not empty."]


@pytest.mark.parametrize("kwargs", [{}, {"sentences": 1, "ratio": 0.5}, {"sentences": 0},
                                    {"ratio": 0.0}, {"ratio": 1.5}, {"words": 0}])
def test_bad_budgets_raise(kwargs):
    with pytest.raises(BudgetError):
        Budget(**kwargs)


# -- the automatic length ------------------------------------------------------------------
from summarizer.base import resolve_auto  # noqa: E402
from summarizer.types import auto_words  # noqa: E402


@pytest.mark.parametrize("words,want", [(0, 25), (94, 25), (250, 25), (704, 70), (1505, 150),
                                        (4232, 250)])
def test_auto_words_is_a_tenth_within_25_and_250(words, want):
    assert auto_words(words) == want


def test_auto_takes_whole_best_sentences_while_they_fit():
    # 57 words -> target 25; the best sentence alone has 30: it is kept, nothing more
    assert resolve_auto(WORDS, [1, 3, 2, 4, 0]) == (
        Budget(sentences=1),
        "Length: 1 sentence (30 words), chosen to come near 25 words, the shortest automatic "
        "length (the document has 57 words).")
    # ranked 3 (8w), 2 (5w), 4 (4w): 17 words, 8 short; 0 (10w) makes 27, 2 over: nearer,
    # taken; 1 (30w) would make 57: stop
    assert resolve_auto(WORDS, [3, 2, 4, 0, 1])[0] == Budget(sentences=4)
    # 4 short of the target and the next sentence 9 over: stop
    assert resolve_auto([21, 13, 1], [0, 1, 2])[0] == Budget(sentences=1)


def test_auto_budget_through_a_summarizer_records_what_it_chose():
    from summarizer.documents.loaders import document_from_text
    from summarizer.methods.lead import Lead

    text = " ".join(f"Sentence number {i} has exactly six words." for i in range(60))
    s = Lead()(document_from_text(text), Budget(auto=True))
    # 60 x 7 words (the "number" digit is a word) = 420 -> target 42 -> 6 sentences (42 words)
    assert s.budget == Budget(sentences=6) and len(s.sentences) == 6
    assert s.notes[0] == ("Length: 6 sentences (42 words), chosen to come near 42 words, about a "
                          "tenth of the document's 420 words.")


def test_auto_budget_alone_or_not_at_all():
    assert Budget(auto=True).describe() == "auto"
    with pytest.raises(BudgetError):
        Budget(auto=True, sentences=2)
