"""Greedy ROUGE oracle labels for extractive training.

Nallapati, Zhai and Zhou, "SummaRuNNer", AAAI 2017, and Liu and Lapata 2019 (BertSumExt),
section 4: sentences are added one at a time, each time the one that most raises
ROUGE-1 F1 + ROUGE-2 F1 of the selection against the reference, until no sentence
raises it or the budget is spent. The chosen sentences are labelled 1, the rest 0.

The n-gram counts are computed here rather than by rouge-score (whose ``score`` would be
called hundreds of times per document): the same tokens (``summarizer.evaluation.rouge``'s
tokenizer, Porter-stemmed as rouge-score does), the same F1 of clipped n-gram overlap.
``tests/test_ranker.py`` checks the two agree on single sentences. Over several sentences
the bigrams are counted within each sentence (as BertSumExt's oracle does), where
rouge-score's ROUGE-2 also counts the bigram across each sentence boundary.
"""
from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import List, Optional, Sequence

from summarizer.evaluation.rouge import UnicodeTokenizer

_TOKENIZER = UnicodeTokenizer(use_stemmer=True)


@lru_cache(maxsize=500_000)
def _stem(token: str) -> str:
    # the tokenizer's own rule, one token at a time so that repeats come from the cache
    return _TOKENIZER.stem(token)


def rouge_tokens(text: str) -> List[str]:
    """rouge-score's tokens for ``text`` (lower-cased, Porter-stemmed above 3 letters)."""
    return [_stem(t) for t in _TOKENIZER.words(text)]


def ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(zip(*(tokens[i:] for i in range(n))))


def f1(candidate: Counter, reference: Counter) -> float:
    """F1 of clipped n-gram overlap (rouge-score's ``_score_ngrams``), 0 when either is empty."""
    total_c, total_r = sum(candidate.values()), sum(reference.values())
    if total_c == 0 or total_r == 0:
        return 0.0
    overlap = sum((candidate & reference).values())
    if overlap == 0:
        return 0.0
    p, r = overlap / total_c, overlap / total_r
    return 2 * p * r / (p + r)


def greedy_oracle(
    sentences: Sequence[Sequence[str]], reference: Sequence[str], *,
    max_sentences: int, max_words: Optional[int] = None,
) -> List[int]:
    """Indices (ascending) of the greedy oracle's sentences, given token lists.

    Stops when no sentence raises ROUGE-1 + ROUGE-2 F1, after ``max_sentences``, or once
    the selection has ``max_words`` tokens or more."""
    ref1, ref2 = ngrams(reference, 1), ngrams(reference, 2)
    uni = [ngrams(s, 1) for s in sentences]
    bi = [ngrams(s, 2) for s in sentences]
    chosen: List[int] = []
    cur1, cur2, best, words = Counter(), Counter(), 0.0, 0
    while len(chosen) < max_sentences and (max_words is None or words < max_words):
        pick, pick_value = None, best
        for i in range(len(sentences)):
            if i in chosen:
                continue
            value = f1(cur1 + uni[i], ref1) + f1(cur2 + bi[i], ref2)
            if value > pick_value:
                pick, pick_value = i, value
        if pick is None:
            break
        chosen.append(pick)
        cur1, cur2, best = cur1 + uni[pick], cur2 + bi[pick], pick_value
        words += len(sentences[pick])
    return sorted(chosen)
