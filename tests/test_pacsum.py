"""PacSum: hand-computed thresholded, directed centrality and TF-IDF cosine."""
import math

import numpy as np
import pytest
import scipy.sparse as sp

from summarizer.methods.pacsum import PacSum, PacSumConfig, directed_centrality, tfidf_cosine
from summarizer.types import Budget, Document

SIM = sp.csr_matrix(np.array([[0, 0.5, 0.2], [0.5, 0, 0.4], [0.2, 0.4, 0]]))


def test_directed_centrality_by_hand():
    # every pair is similar: min 0.2, max 0.5; beta 0 -> threshold 0.2
    # edges e01 = 0.3, e02 = 0, e12 = 0.2
    got = directed_centrality(SIM, PacSumConfig(beta=0.0, lambda_before=-1.0, lambda_after=1.0))
    assert got == pytest.approx([0.3, -0.3 + 0.2, -0.2])
    # beta 0.5 -> threshold 0.2 + 0.5 * 0.3 = 0.35: e01 = 0.15, e12 = 0.05, e02 = 0
    got = directed_centrality(SIM, PacSumConfig(beta=0.5, lambda_before=-1.0, lambda_after=1.0))
    assert got == pytest.approx([0.15, -0.15 + 0.05, -0.05])


def test_threshold_floor_is_zero_when_some_pair_shares_nothing():
    sim = sp.csr_matrix(np.array([[0, 0.5, 0.0], [0.5, 0, 0.4], [0.0, 0.4, 0]]))
    got = directed_centrality(sim, PacSumConfig(beta=0.0, lambda_before=1.0, lambda_after=1.0))
    assert got == pytest.approx([0.5, 0.9, 0.4])  # plain degree centrality


def test_tfidf_cosine_by_hand():
    ia = math.log(4 / 3) + 1  # 'a' in 2 of 3 sentences (smoothed idf)
    ib = math.log(4 / 2) + 1  # 'b' in 1 of 3
    sim = tfidf_cosine([["a", "b"], ["a"], ["c"]]).toarray()
    assert sim[0, 1] == pytest.approx(ia / math.sqrt(ia**2 + ib**2))
    assert sim[1, 0] == sim[0, 1]
    assert sim[0, 2] == 0 and np.all(np.diag(sim) == 0)


def test_single_sentence_and_summary():
    doc = Document("Only one sentence here.", "en")
    assert PacSum()(doc, Budget(sentences=3)).sentences[0].score == 1.0
    star = Document("Apple banana cherry. Apple kiwi. Banana melon. Cherry grape.", "en")
    got = PacSum()(star, Budget(sentences=1))
    assert got.text == "Apple banana cherry."
