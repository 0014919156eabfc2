"""Logits processors on hand-made logits, checked against transformers' own."""
import numpy as np
import pytest
import torch
from transformers.generation import logits_process as lp

from runtime.config import GenerationConfig
from runtime.processors import (
    apply_processors, banned_ngram_tokens, log_softmax, no_repeat_ngram, repetition_penalty,
)

NEG = -np.inf


def test_log_softmax_by_hand():
    got = log_softmax(np.array([[0.0, np.log(3.0)]], dtype=np.float32))
    assert got == pytest.approx(np.log([[0.25, 0.75]]), abs=1e-6)
    assert got.dtype == np.float32


def test_no_repeat_ngram_bans_completions_of_seen_bigrams():
    ids = np.array([[5, 6, 7, 5]])  # bigrams 5-6, 6-7, 7-5; next after 5 must not be 6
    assert banned_ngram_tokens(ids, 2) == [[6]]
    assert banned_ngram_tokens(ids, 3) == [[]]  # (7, 5) never seen before
    assert banned_ngram_tokens(np.array([[5]]), 3) == [[]]  # too short to repeat
    scores = no_repeat_ngram(ids, np.zeros((1, 8), np.float32), 2)
    assert scores[0, 6] == NEG and np.isfinite(np.delete(scores[0], 6)).all()


def test_repetition_penalty_by_hand():
    scores = np.array([[2.0, -2.0, 1.0]], dtype=np.float32)
    got = repetition_penalty(np.array([[0, 1]]), scores, 2.0)
    assert got.tolist() == [[1.0, -4.0, 1.0]]


def test_forced_and_min_length_rules():
    cfg = GenerationConfig(max_new_tokens=4, eos_token_id=(2,), forced_bos_token_id=0,
                           forced_eos_token_id=2, min_new_tokens=2)
    s = np.zeros((1, 5), np.float32)
    first = apply_processors(np.array([[2]]), s, cfg, prompt_length=1)
    assert first.tolist() == [[0.0, NEG, NEG, NEG, NEG]]  # forced BOS at length 1
    second = apply_processors(np.array([[2, 0]]), s, cfg, prompt_length=1)
    assert second[0, 2] == NEG and second[0, 3] == 0  # 1 new token < min_new_tokens
    last = apply_processors(np.array([[2, 0, 3, 4]]), s, cfg, prompt_length=1)
    assert last.tolist() == [[NEG, NEG, 0.0, NEG, NEG]]  # max_length 5, forced EOS at 4


@pytest.mark.parametrize("seed", range(5))
def test_processor_chain_equals_transformers(seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 12, size=(3, 7))
    scores = rng.normal(size=(3, 12)).astype(np.float32)
    cfg = GenerationConfig(max_new_tokens=10, eos_token_id=(2,), no_repeat_ngram_size=2,
                           repetition_penalty=1.5, min_length=9, forced_eos_token_id=2)
    theirs = lp.LogitsProcessorList([
        lp.RepetitionPenaltyLogitsProcessor(1.5), lp.NoRepeatNGramLogitsProcessor(2),
        lp.MinLengthLogitsProcessor(9, 2), lp.ForcedEOSTokenLogitsProcessor(11, 2),
    ])(torch.tensor(ids), torch.tensor(scores)).numpy()
    ours = apply_processors(ids, scores, cfg, prompt_length=1)
    np.testing.assert_array_equal(ours, theirs)
