"""Choosing the next token: pure functions of logits and an explicit seeded generator.

Every function takes scores (N, V) float32 and returns new scores or token ids (N,); none
keeps state, and randomness comes only from the ``np.random.Generator`` passed in, so the
same seed gives the same text on any thread. The order and the filters are transformers'
(4.57) so that the same logits give the same candidate set:

1. repetition penalty (CTRL, Keskar et al. 2019) and no-repeat n-grams, on the raw
   logits (``runtime.processors``, shared with greedy and beam search);
2. temperature: scores / T; ``temperature == 0`` means greedy (argmax of step 1);
3. top-k: keep scores >= the k-th largest (ties at the k-th value are kept, as
   ``TopKLogitsWarper`` keeps them);
4. top-p, nucleus sampling (Holtzman et al. 2020, "The Curious Case of Neural Text
   Degeneration"): keep the smallest set of most probable tokens whose probability sums
   to at least p. As ``TopPLogitsWarper`` does, we sort ascending and drop the tokens whose
   cumulative probability from the bottom is <= 1 - p, always keeping the most probable
   (min_tokens_to_keep = 1);
5. softmax, then inverse-CDF sampling with one uniform draw per row (``pick``).

Deviation: transformers draws with ``torch.multinomial``, whose random stream we cannot
reproduce; given the same uniforms, ``pick`` returns the token whose CDF interval holds
the draw, which is how a multinomial draw is defined.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime.processors import NEG_INF, no_repeat_ngram, repetition_penalty


@dataclass(frozen=True)
class SamplingConfig:
    """``temperature`` 0: greedy; ``top_k`` 0: off; ``top_p`` 1.0: off; ``repetition_penalty``
    1.0: off; ``no_repeat_ngram_size`` 0: off."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0

    def __post_init__(self) -> None:
        if not self.temperature >= 0.0:
            raise ValueError(f"temperature must be >= 0 (0 is greedy), got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 turns it off), got {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1] (1 turns it off), got {self.top_p}")
        if not self.repetition_penalty > 0.0:
            raise ValueError("repetition_penalty must be > 0 (1 turns it off), "
                             f"got {self.repetition_penalty}")
        if self.no_repeat_ngram_size < 0:
            raise ValueError(f"no_repeat_ngram_size must be >= 0, got {self.no_repeat_ngram_size}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


def penalize(scores: np.ndarray, ids: np.ndarray, config: SamplingConfig) -> np.ndarray:
    """Step 1: repetition penalty, then no-repeat n-grams over ``ids`` (N, t), prompt included."""
    if config.repetition_penalty != 1.0:
        scores = repetition_penalty(ids, scores, config.repetition_penalty)
    if config.no_repeat_ngram_size > 0:
        scores = no_repeat_ngram(ids, scores, config.no_repeat_ngram_size)
    return scores


def apply_temperature(scores: np.ndarray, temperature: float) -> np.ndarray:
    if temperature <= 0.0:
        raise ValueError("temperature 0 means greedy: take the argmax instead of scaling")
    return (scores / temperature).astype(np.float32, copy=False)


def top_k_filter(scores: np.ndarray, k: int) -> np.ndarray:
    """Scores below the k-th largest of each row become -inf (k = 0 or k >= V: unchanged)."""
    vocab = scores.shape[-1]
    if k <= 0 or k >= vocab:
        return scores
    kth = np.partition(scores, vocab - k, axis=-1)[:, vocab - k : vocab - k + 1]  # (N, 1)
    return np.where(scores < kth, NEG_INF, scores).astype(np.float32, copy=False)


def top_p_filter(scores: np.ndarray, p: float) -> np.ndarray:
    """Nucleus filter: -inf outside the smallest top set with probability >= p
    (p = 1: unchanged)."""
    if p >= 1.0:
        return scores
    order = np.argsort(scores, axis=-1, kind="stable")  # ascending, as transformers sorts
    ascending = np.take_along_axis(scores, order, axis=-1)
    # torch accumulates a float32 cumsum in double on the CPU; do the same, then round.
    cumulative = np.cumsum(softmax(ascending).astype(np.float64), axis=-1).astype(np.float32)
    drop_sorted = cumulative <= np.float32(1.0 - p)
    drop_sorted[:, -1] = False  # min_tokens_to_keep = 1: the most probable always stays
    drop = np.empty_like(drop_sorted)
    np.put_along_axis(drop, order, drop_sorted, axis=-1)
    return np.where(drop, NEG_INF, scores).astype(np.float32, copy=False)


def warp(scores: np.ndarray, config: SamplingConfig) -> np.ndarray:
    """Steps 2-4 for sampling (``config.temperature > 0``)."""
    scores = apply_temperature(scores, config.temperature)
    scores = top_k_filter(scores, config.top_k)
    return top_p_filter(scores, config.top_p)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32; -inf scores get probability 0."""
    scores = scores.astype(np.float32, copy=False)
    z = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def pick(probs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw: per row the first token whose cumulative probability exceeds
    ``uniform * total`` (zero-probability tokens are never picked). (N, V), (N,) -> (N,) int64."""
    cdf = np.cumsum(probs.astype(np.float64), axis=-1)
    out = np.empty(probs.shape[0], dtype=np.int64)
    for row in range(probs.shape[0]):
        target = float(uniforms[row]) * cdf[row, -1]
        i = int(np.searchsorted(cdf[row], target, side="right"))
        # Rounding can put the draw past the end: take the last token with probability > 0.
        if i >= probs.shape[1] or probs[row, i] == 0:
            i = int(np.flatnonzero(probs[row])[-1])
        out[row] = i
    return out


def sample_next(logits: np.ndarray, ids: np.ndarray, config: SamplingConfig,
                rng: np.random.Generator) -> np.ndarray:
    """The next token of each row: logits (N, V), ids (N, t) every token so far -> (N,) int64.

    Greedy (temperature 0) draws nothing from ``rng``; sampling draws exactly N uniforms,
    so a run is reproducible from its seed."""
    scores = penalize(logits.astype(np.float32, copy=False), ids, config)
    if config.greedy:
        return scores.argmax(axis=-1).astype(np.int64)
    return pick(softmax(warp(scores, config)), rng.random(scores.shape[0]))
