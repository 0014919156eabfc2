"""The ranker's salience lexicon: one weight per token, from the oracle labels.

A logistic regression of "the oracle picked this sentence" on the sentence's distinct
tokens (``ranker.lexicon_tokens``: every word, stop words included, and the first word
marked ``^word``, a dialogue's apart with a ``d:`` prefix; binary bag of words,
L2-regularized, documents weighted as in the ranker's loss), fitted with L-BFGS (scipy).
The ranker reads the mean and max weight of a sentence's terms, and their ranks within
the document: words that highlights keep ("killed", "announced", a speaker's request)
weigh more than words they drop ("said", "added"). It is the cheapest stand-in for the
content that BertSumExt reads with BERT; the suite table says what it buys.

Stacking: a feature learned from the same labels the MLP then trains on would look better
in training than it is on new text, so ``cross_fitted`` gives each training row the
weights of a lexicon fitted without its document (two folds by document), as in
Wolpert's stacked generalization (1992). The shipped lexicon is fitted on every row.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize


def term_matrix(lines: Sequence[str], vocab: Dict[str, int]) -> sp.csr_matrix:
    """Binary rows x vocabulary matrix of space-separated term lines."""
    rows, cols = [], []
    for i, line in enumerate(lines):
        for t in set(line.split()):
            j = vocab.get(t)
            if j is not None:
                rows.append(i)
                cols.append(j)
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(lines), len(vocab)))


def vocabulary(lines: Sequence[str], min_rows: int) -> Dict[str, int]:
    """Terms in at least ``min_rows`` rows, in first-seen order."""
    counts: Dict[str, int] = {}
    for line in lines:
        for t in set(line.split()):
            counts[t] = counts.get(t, 0) + 1
    return {t: i for i, t in enumerate(t for t, c in counts.items() if c >= min_rows)}


def fit_lexicon(lines: Sequence[str], labels: np.ndarray, row_weight: np.ndarray, *,
                min_rows: int = 5, l2: float = 1.0, max_iter: int = 300) -> Dict[str, float]:
    """{term: weight} of an L2-regularized weighted logistic regression (the intercept is
    fitted and dropped: the ranker compares sentences of one document)."""
    vocab = vocabulary(lines, min_rows)
    x = term_matrix(lines, vocab)
    y = labels.astype(np.float64)
    w = row_weight.astype(np.float64) / row_weight.sum() * len(y)  # mean weight 1

    def loss(theta: np.ndarray) -> Tuple[float, np.ndarray]:
        beta, b = theta[:-1], theta[-1]
        z = x @ beta + b
        # log(1 + e^z) - y z, stably
        nll = np.logaddexp(0.0, z) - y * z
        g = w * (1.0 / (1.0 + np.exp(-z)) - y)
        value = float((w * nll).sum() + 0.5 * l2 * beta @ beta)
        grad = np.concatenate([x.T @ g + l2 * beta, [g.sum()]])
        return value, grad

    res = minimize(loss, np.zeros(len(vocab) + 1), jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter})
    beta = res.x[:-1]
    return {t: float(round(beta[j], 4)) for t, j in vocab.items() if abs(beta[j]) >= 1e-4}


def cross_fitted(lines: Sequence[str], labels: np.ndarray, row_weight: np.ndarray,
                 doc: np.ndarray, **kwargs) -> List[Dict[str, float]]:
    """Two lexicons, each fitted on the documents of one parity: row r should be scored
    with ``lexicons[1 - doc[r] % 2]``, the one that never saw its document."""
    out = []
    for parity in (0, 1):
        keep = np.flatnonzero(doc % 2 == parity)
        out.append(fit_lexicon([lines[i] for i in keep], labels[keep], row_weight[keep], **kwargs))
    return out
