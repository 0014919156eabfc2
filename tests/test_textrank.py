"""TextRank: hand-computed weights and scores, and parity with sumy."""
import math

import numpy as np
import pytest

from summarizer.methods.textrank import TextRank, TextRankConfig, pagerank, similarity_matrix
from summarizer.nlp import Tokenizer
from summarizer.types import Budget, Document

D = 0.85
# Star graph: the centre shares one term with each of three leaves, leaves share none.
# Random walk: leaf -> centre with p=1, centre -> each leaf with p=1/3, so
#   r_c = (1-d)/4 + 3 d r_l,  r_l = (1-d)/4 + d r_c / 3  =>  r_c = (1+3d) / (4(1+d)).
CENTRE = (1 + 3 * D) / (4 * (1 + D))  # 0.479729...
LEAF = (1 - CENTRE) / 3  # 0.173423...
STAR = "Apple banana cherry. Apple kiwi. Banana melon. Cherry grape."


def test_edge_weight_formula_by_hand():
    w = similarity_matrix([["a", "b", "a"], ["a", "c"], ["d"], ["a"]]).toarray()
    # S0-S1: count(a)=2 in S0, 1 in S1 -> overlap 2; |S0|=3, |S1|=2
    assert w[0, 1] == pytest.approx(2 / (math.log(3) + math.log(2)))
    assert w[1, 0] == w[0, 1]
    # S0-S3: overlap 2, |S3|=1 -> log 1 = 0
    assert w[0, 3] == pytest.approx(2 / math.log(3))
    # S1-S3: overlap 1, log 2 + log 1
    assert w[1, 3] == pytest.approx(1 / math.log(2))
    assert w[2].sum() == 0 and np.all(np.diag(w) == 0)


def test_single_term_sentences_use_overlap_when_denominator_is_zero():
    w = similarity_matrix([["a"], ["a"]]).toarray()
    assert w[0, 1] == 1.0


def test_pagerank_star_graph_closed_form():
    w = similarity_matrix([["x", "y", "z"], ["x", "k"], ["y", "m"], ["z", "g"]])
    r = pagerank(w)
    assert r == pytest.approx([CENTRE, LEAF, LEAF, LEAF], abs=1e-8)
    assert r.sum() == pytest.approx(1.0)


def test_pagerank_dangling_and_empty():
    # one isolated vertex spreads its mass uniformly; two connected vertices share the rest
    r = pagerank(similarity_matrix([["a", "b"], ["a", "b"], ["z"]]))
    assert r[0] == pytest.approx(r[1])
    assert r.sum() == pytest.approx(1.0)
    # isolated: r_z = (1-d)/3 + d * r_z / 3  =>  r_z = (1-d) / (3 - d)
    assert r[2] == pytest.approx((1 - D) / (3 - D))
    assert pagerank(similarity_matrix([])).shape == (0,)


def test_four_sentence_document_by_hand():
    doc = Document(STAR, "en")
    summary = TextRank()(doc, Budget(sentences=2))
    assert [s.text for s in summary.sentences] == ["Apple banana cherry.", "Apple kiwi."]
    assert [s.score for s in summary.sentences] == pytest.approx([CENTRE, LEAF], abs=1e-8)
    assert [(s.start, s.end) for s in summary.sentences] == [(0, 20), (21, 32)]


TEXTS = [
    "Rain fell across the north on Tuesday. Flooding closed roads in the north. "
    "Rescue teams moved families from flooded homes. Forecasters expect more rain this week.",
    "The council approved the new budget on Monday. The budget raises school spending. "
    "Teachers welcomed the school spending rise. Critics said the council ignored roads. "
    "Road repairs were cut from the budget. The mayor defended the council budget.",
]


@pytest.mark.parametrize("text", TEXTS)
def test_self_loops_reproduce_sumy_textrank_scores(text):
    """With self-loops our graph is sumy's; scores agree within sumy's stopping
    tolerance (its power method stops at an L2 change of 1e-4)."""
    from summarizer.methods.sumy_methods import SumyTextRank

    tok = Tokenizer("en")
    sents = tok.sentences(text)
    theirs = SumyTextRank().score(sents, tok)
    ours = TextRank(TextRankConfig(self_loops=True)).score(sents, tok)
    assert ours == pytest.approx(theirs, abs=3e-4)
    assert ours.sum() == pytest.approx(1.0)


def test_prune_common_terms_by_hand():
    import scipy.sparse as sp

    from summarizer.methods.textrank import prune_common_terms

    # term 0 in 3 sentences, term 1 in 2, term 2 in 1: sum df^2 = 9 + 4 + 1 = 14
    b = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1.0]]))
    assert prune_common_terms(b, max_pairs=14).shape == (3, 3)
    kept = prune_common_terms(b, max_pairs=6).toarray()  # dropping term 0 leaves 5 pairs
    np.testing.assert_array_equal(kept, [[1, 0], [1, 0], [0, 1]])
    assert prune_common_terms(b, max_pairs=0).shape == (3, 0)
