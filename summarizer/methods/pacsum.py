"""PacSum: position-aware (directed) sentence centrality.

Zheng and Lapata, "Sentence Centrality Revisited for Unsupervised Summarization",
ACL 2019. Edges are thresholded similarities

    e'_ij = max(0, e_ij - (min(E) + beta * (max(E) - min(E))))

and a sentence's centrality weighs its edges to earlier and later sentences apart:

    centrality(s_i) = lambda_before * sum_{j<i} e'_ij + lambda_after * sum_{j>i} e'_ij

With a negative ``lambda_before`` a sentence that merely repeats what came before loses
score, which captures the lead bias of news without hard-coding it.

This is the paper's TF-IDF variant: e_ij is the cosine of the sentences' TF-IDF vectors,
with IDF computed over the document's sentences. The defaults for ``beta`` and the two
lambdas were chosen by ROUGE on the BBC validation split (``bench/tune_pacsum.py``,
ratio 0.4): the best setting weighs earlier and later sentences alike (lambda_before =
lambda_after = 1, beta = 0), i.e. on BBC news, whose reference summaries draw from the
whole article, direction adds nothing and PacSum reduces to TF-IDF degree centrality.
Pass a negative ``lambda_before`` (the paper's CNN/DailyMail setting is negative) for
corpora with a stronger lead bias.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from summarizer.base import RankingSummarizer
from summarizer.nlp import Tokenizer
from summarizer.methods.textrank import term_matrix
from summarizer.types import Sentence


@dataclass(frozen=True)
class PacSumConfig:
    beta: float = 0.0
    lambda_before: float = 1.0
    lambda_after: float = 1.0


def tfidf_cosine(term_lists: Sequence[Sequence[str]]) -> sp.csr_matrix:
    """Cosine similarity of sentence TF-IDF vectors, sparse (n, n), zero diagonal."""
    tf, _ = term_matrix(term_lists)  # raw term counts, (n, V)
    n = len(term_lists)
    df = np.asarray((tf > 0).sum(axis=0)).ravel()
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0  # smoothed, never zero
    x = tf @ sp.diags(idf)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    x = sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ x
    sim = (x @ x.T).tocsr()
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    return sim


def directed_centrality(sim: sp.csr_matrix, config: PacSumConfig) -> np.ndarray:
    """Shape (n,). Sparse throughout: similarities are >= 0, so the threshold is >= 0
    and pairs with no shared term stay zero."""
    n = sim.shape[0]
    if n < 2:
        return np.ones(n)
    hi = sim.data.max() if sim.nnz else 0.0
    # the smallest off-diagonal similarity is 0 unless every pair shares a term
    lo = sim.data.min() if sim.nnz == n * (n - 1) else 0.0
    edges = sim.copy()
    edges.data = np.maximum(edges.data - (lo + config.beta * (hi - lo)), 0.0)
    before = np.asarray(sp.tril(edges, k=-1).sum(axis=1)).ravel()  # j < i
    after = np.asarray(sp.triu(edges, k=1).sum(axis=1)).ravel()  # j > i
    return config.lambda_before * before + config.lambda_after * after


class PacSum(RankingSummarizer):
    name = "pacsum"

    def __init__(self, config: PacSumConfig = PacSumConfig(), **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config

    def score(self, sentences: Sequence[Sentence], tokenizer: Tokenizer) -> np.ndarray:
        return directed_centrality(
            tfidf_cosine([tokenizer.terms(s.text) for s in sentences]), self.config
        )
