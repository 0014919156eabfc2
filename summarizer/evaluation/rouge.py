"""ROUGE with rouge-score, a tokenizer that works beyond ASCII, and bootstrap intervals.

rouge-score's default tokenizer lower-cases, replaces everything but ``[a-z0-9]`` with
spaces and Porter-stems tokens longer than three characters: Chinese text becomes
nothing and scores 0. Ours gives the same tokens for ASCII text (so English scores are
identical to rouge-score's), keeps letters and digits of every script, and makes each
CJK ideograph its own token, the usual convention for Chinese ROUGE.

German, French, Spanish, Italian, Portuguese, Dutch and Russian are scored with
:class:`SnowballTokenizer`: rouge-score's tokenizer turns "café" into "caf", "Bär" into
"b r" and drops Cyrillic words entirely, and the Porter stemmer is for English words;
ours keeps every letter and stems with the language's Snowball stemmer. English and
Chinese keep :class:`UnicodeTokenizer`, so their scores are those we always reported.

ROUGE-Lsum splits summaries on newlines, so pass one sentence per line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")

# A CJK ideograph alone, or a run of letters/digits of any script (no underscore).
_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_ASCII_WORD = re.compile(r"^[a-z0-9]+$")


class UnicodeTokenizer:
    """rouge-score tokenizer interface (``tokenize(text) -> list[str]``)."""

    def __init__(self, use_stemmer: bool = True) -> None:
        from nltk.stem import porter

        self._stemmer = porter.PorterStemmer() if use_stemmer else None

    def words(self, text: str) -> List[str]:
        """The tokens before stemming."""
        return _TOKEN.findall(text.lower())

    def stem(self, token: str) -> str:
        # Same rule as rouge-score: stem ASCII tokens longer than 3 characters.
        if self._stemmer is not None and len(token) > 3 and _ASCII_WORD.match(token):
            return self._stemmer.stem(token)
        return token

    def tokenize(self, text: str) -> List[str]:
        return [self.stem(t) for t in self.words(text)]


class SnowballTokenizer:
    """rouge-score tokenizer for a language other than English and Chinese: case-folded
    runs of letters/digits of any script, each word (not a number) stemmed with the
    language's Snowball stemmer when ``use_stemmer``."""

    def __init__(self, lang: str, use_stemmer: bool = True) -> None:
        from summarizer.languages import stemmer

        self.lang = lang
        self._stem = stemmer(lang) if use_stemmer else None

    def words(self, text: str) -> List[str]:
        return _TOKEN.findall(text.casefold())

    def stem(self, token: str) -> str:
        if self._stem is not None and not token.isdigit():
            return self._stem(token)
        return token

    def tokenize(self, text: str) -> List[str]:
        return [self.stem(t) for t in self.words(text)]


def rouge_tokenizer(lang: Optional[str] = None, use_stemmer: bool = True):
    """The tokenizer ROUGE uses for text in ``lang`` (None: English and Chinese)."""
    if lang in (None, "en", "zh"):
        return UnicodeTokenizer(use_stemmer)
    return SnowballTokenizer(lang, use_stemmer)


@dataclass(frozen=True)
class Score:
    """F1, precision and recall, each x 100."""

    precision: float
    recall: float
    fmeasure: float


def make_scorer(use_stemmer: bool = True, rouge_types: Sequence[str] = ROUGE_TYPES,
                lang: Optional[str] = None):
    """A rouge-score scorer with our tokenizer for ``lang`` (see :func:`rouge_tokenizer`)."""
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(
        list(rouge_types), use_stemmer=use_stemmer, tokenizer=rouge_tokenizer(lang, use_stemmer)
    )


def score_pair(reference: str, candidate: str, *, scorer=None) -> Dict[str, Score]:
    """ROUGE of one candidate against one reference; empty input scores 0, never raises."""
    scorer = scorer or make_scorer()
    raw = scorer.score(reference, candidate)
    return {
        k: Score(100 * v.precision, 100 * v.recall, 100 * v.fmeasure) for k, v in raw.items()
    }


@dataclass(frozen=True)
class Interval:
    """Mean of a per-document metric and its bootstrap 95% interval (percentile)."""

    mean: float
    low: float
    high: float


def bootstrap_interval(
    values: Sequence[float],
    *,
    rng: np.random.Generator,
    resamples: int = 1000,
    confidence: float = 0.95,
) -> Interval:
    """Percentile bootstrap of the mean (Efron and Tibshirani 1993), with a caller's RNG
    so that results are reproducible (rouge-score's aggregator uses global state)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    idx = rng.integers(0, x.size, size=(resamples, x.size))
    means = x[idx].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(float(x.mean()), float(low), float(high))


def aggregate(
    per_doc: Sequence[Dict[str, Score]], *, seed: int = 0, resamples: int = 1000
) -> Dict[str, Interval]:
    """F1 mean and 95% interval per ROUGE type over documents."""
    rng = np.random.default_rng(seed)
    if not per_doc:
        return {}
    return {
        k: bootstrap_interval([d[k].fmeasure for d in per_doc], rng=rng, resamples=resamples)
        for k in per_doc[0]
    }


def score_corpus(
    pairs: Sequence[Tuple[str, str]], *, seed: int = 0, resamples: int = 1000,
    lang: Optional[str] = None,
) -> Dict[str, Interval]:
    """(reference, candidate) pairs -> F1 mean and interval per ROUGE type."""
    scorer = make_scorer(lang=lang)
    return aggregate([score_pair(r, c, scorer=scorer) for r, c in pairs], seed=seed, resamples=resamples)
