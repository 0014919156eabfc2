"""Logits processors as pure numpy functions, in the order transformers applies them.

Each takes the running sequences ``ids`` (N, t) and scores (N, V) float32 and returns new
scores; ``apply_processors`` chains the ones a :class:`GenerationConfig` asks for. Greedy
search applies them to raw logits and beam search to log-probabilities, as transformers
does, so the chosen tokens are identical.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from .config import GenerationConfig

NEG_INF = np.float32(-np.inf)


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Stable log-softmax over the last axis, float32."""
    x = x.astype(np.float32, copy=False)
    m = x.max(axis=-1, keepdims=True)
    z = x - m
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def repetition_penalty(ids: np.ndarray, scores: np.ndarray, penalty: float) -> np.ndarray:
    """CTRL (Keskar et al. 2019): divide positive, multiply negative scores of seen tokens."""
    out = scores.copy()
    rows = np.arange(ids.shape[0])[:, None]
    seen = out[rows, ids]
    out[rows, ids] = np.where(seen < 0, seen * penalty, seen / penalty)
    return out


def banned_ngram_tokens(ids: np.ndarray, n: int) -> List[List[int]]:
    """Per row, tokens that would repeat an n-gram already in the row (fairseq's rule)."""
    cur_len = ids.shape[1]
    if cur_len + 1 < n:
        return [[] for _ in range(ids.shape[0])]
    banned = []
    for row in ids.tolist():
        seen: Dict[Tuple[int, ...], List[int]] = {}
        for gram in zip(*[row[i:] for i in range(n)]):
            seen.setdefault(tuple(gram[:-1]), []).append(gram[-1])
        banned.append(seen.get(tuple(row[cur_len + 1 - n : cur_len]), []))
    return banned


def no_repeat_ngram(ids: np.ndarray, scores: np.ndarray, n: int) -> np.ndarray:
    out = scores.copy()
    for i, tokens in enumerate(banned_ngram_tokens(ids, n)):
        out[i, tokens] = NEG_INF
    return out


def ban_eos(scores: np.ndarray, eos: Tuple[int, ...]) -> np.ndarray:
    out = scores.copy()
    out[:, list(eos)] = NEG_INF
    return out


def force_token(scores: np.ndarray, token: int) -> np.ndarray:
    out = np.full_like(scores, NEG_INF)
    out[:, token] = 0.0
    return out


def apply_processors(
    ids: np.ndarray, scores: np.ndarray, config: GenerationConfig, *, prompt_length: int
) -> np.ndarray:
    """``ids``: (N, t) tokens so far (decoder prompt included); ``scores``: (N, V)."""
    cur_len = ids.shape[1]
    max_length = config.total_length(prompt_length)
    if config.repetition_penalty != 1.0:
        scores = repetition_penalty(ids, scores, config.repetition_penalty)
    if config.no_repeat_ngram_size > 0:
        scores = no_repeat_ngram(ids, scores, config.no_repeat_ngram_size)
    if config.eos_token_id and config.min_length > 0 and cur_len < config.min_length:
        scores = ban_eos(scores, config.eos_token_id)
    if config.eos_token_id and config.min_new_tokens > 0 and cur_len - prompt_length < config.min_new_tokens:
        scores = ban_eos(scores, config.eos_token_id)
    if config.forced_bos_token_id is not None and cur_len == 1:
        scores = force_token(scores, config.forced_bos_token_id)
    if config.forced_eos_token_id is not None and cur_len == max_length - 1:
        scores = force_token(scores, config.forced_eos_token_id)
    return scores
