"""ROUGE: identical to rouge-score on English, meaningful on Chinese, seeded intervals."""
import numpy as np
import pytest
from rouge_score import rouge_scorer

from summarizer.evaluation.rouge import UnicodeTokenizer, aggregate, bootstrap_interval, score_corpus, score_pair

PAIRS = [
    ("The cat sat on the mat.\nIt was happy.", "The cat was sitting on a mat.\nHappy cat."),
    ("Profits rose 76% to $1.13bn (£600m).", "Profit rose by 76 percent, to $1.13bn."),
    ("Don't stop-believing: it's 2004's best song!", "dont stop believing its the best song of 2004"),
    ("", "Something"),
]


@pytest.mark.parametrize("ref,cand", PAIRS)
def test_english_equals_rouge_score(ref, cand):
    reference = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    expected = reference.score(ref, cand)
    got = score_pair(ref, cand)
    for k, v in expected.items():
        assert got[k].fmeasure == pytest.approx(100 * v.fmeasure, abs=1e-9)
        assert got[k].precision == pytest.approx(100 * v.precision, abs=1e-9)
        assert got[k].recall == pytest.approx(100 * v.recall, abs=1e-9)


def test_tokenizer_matches_default_on_ascii_and_keeps_other_scripts():
    from nltk.stem import porter
    from rouge_score import tokenize

    text = "Running quickly, the U.S. team's 3-0 win!"
    assert UnicodeTokenizer().tokenize(text) == tokenize.tokenize(text, porter.PorterStemmer())
    assert UnicodeTokenizer().tokenize("Café naïve Ελλάδα") == ["café", "naïve", "ελλάδα"]
    assert UnicodeTokenizer().tokenize("今天Python好") == ["今", "天", "python", "好"]


def test_chinese_by_hand():
    # characters: ref 今天天气很好, cand 今天天气不好 -> 5 of 6 unigrams shared
    got = score_pair("今天天气很好", "今天天气不好")
    assert got["rouge1"].fmeasure == pytest.approx(100 * 5 / 6)
    # bigrams: 今天 天天 天气 shared, 气很/很好 vs 气不/不好 not -> 3 of 5
    assert got["rouge2"].fmeasure == pytest.approx(60.0)
    # LCS 今天天气好 = 5 of 6
    assert got["rougeL"].fmeasure == pytest.approx(100 * 5 / 6)
    # rouge-score's default tokenizer sees nothing in Chinese
    default = rouge_scorer.RougeScorer(["rouge1"]).score("今天天气很好", "今天天气不好")
    assert default["rouge1"].fmeasure == 0.0


def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    a = bootstrap_interval(values, rng=np.random.default_rng(3))
    b = bootstrap_interval(values, rng=np.random.default_rng(3))
    assert a == b
    assert a.mean == 30.0
    assert 10.0 <= a.low < 30.0 < a.high <= 50.0
    const = bootstrap_interval([7.0] * 4, rng=np.random.default_rng(0))
    assert (const.mean, const.low, const.high) == (7.0, 7.0, 7.0)


def test_corpus_aggregate():
    res = score_corpus([("a b c", "a b c"), ("a b c", "x y z")], resamples=200)
    assert res["rouge1"].mean == pytest.approx(50.0)
    assert set(res) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}
    assert aggregate([]) == {}
