"""Sampling as pure functions: hand-made logits with exact answers, properties of the
filters, and the same candidate sets as transformers' warpers on random logits."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generation.sampling import (
    SamplingConfig,
    apply_temperature,
    penalize,
    pick,
    sample_next,
    softmax,
    top_k_filter,
    top_p_filter,
    warp,
)

INF = np.inf


def _logits(probs):
    return np.log(np.asarray([probs], dtype=np.float32))


# -- temperature ------------------------------------------------------------------------
def test_temperature_divides_the_logits():
    out = apply_temperature(np.array([[1.0, 2.0, 4.0]], dtype=np.float32), 2.0)
    assert out.tolist() == [[0.5, 1.0, 2.0]]
    assert out.dtype == np.float32


def test_temperature_zero_is_greedy_and_draws_nothing():
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    tokens = sample_next(np.array([[0.1, 3.0, 2.9], [5.0, 1.0, 0.0]], dtype=np.float32),
                         np.zeros((2, 1), dtype=np.int64), SamplingConfig(temperature=0.0), rng)
    assert tokens.tolist() == [1, 0]
    assert rng.bit_generator.state == before
    with pytest.raises(ValueError, match="greedy"):
        apply_temperature(np.zeros((1, 3), dtype=np.float32), 0.0)


# -- top-k ------------------------------------------------------------------------------
def test_top_k_keeps_the_k_largest():
    x = np.array([[1.0, 3.0, 2.0, 0.0, 2.5]], dtype=np.float32)
    assert top_k_filter(x, 2).tolist() == [[-INF, 3.0, -INF, -INF, 2.5]]
    assert top_k_filter(x, 1).tolist() == [[-INF, 3.0, -INF, -INF, -INF]]


def test_top_k_keeps_ties_at_the_kth_value_and_is_off_at_zero_or_vocab():
    x = np.array([[5.0, 4.0, 4.0, 1.0]], dtype=np.float32)
    assert top_k_filter(x, 2).tolist() == [[5.0, 4.0, 4.0, -INF]]  # as TopKLogitsWarper
    assert top_k_filter(x, 0).tolist() == x.tolist()
    assert top_k_filter(x, 4).tolist() == x.tolist()
    assert top_k_filter(x, 9).tolist() == x.tolist()


# -- top-p ------------------------------------------------------------------------------
PROBS = [0.3, 0.05, 0.5, 0.15]  # sorted: 0.5 (2), 0.3 (0), 0.15 (3), 0.05 (1)


@pytest.mark.parametrize("p, kept", [
    (0.4, [2]),              # 0.5 alone reaches 0.4
    (0.75, [0, 2]),          # 0.5 < 0.75 <= 0.8
    (0.9, [0, 2, 3]),        # 0.8 < 0.9 <= 0.95
    (0.97, [0, 1, 2, 3]),    # everything
    (0.01, [2]),             # at least one token always stays
    (1.0, [0, 1, 2, 3]),     # off
])
def test_top_p_keeps_the_smallest_set_reaching_p(p, kept):
    out = top_p_filter(_logits(PROBS), p)
    assert np.flatnonzero(np.isfinite(out[0])).tolist() == kept
    assert np.allclose(out[0, kept], np.log(np.asarray(PROBS, dtype=np.float32))[kept])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-8, 8, allow_nan=False), min_size=2, max_size=30),
       st.floats(0.05, 0.95))
def test_top_p_set_is_minimal_and_reaches_p(values, p):
    x = np.asarray([values], dtype=np.float32)
    probs = softmax(x)[0].astype(np.float64)
    kept = np.isfinite(top_p_filter(x, p)[0])
    assert x[0, kept].max() == x.max()  # a most probable token always stays
    mass = probs[kept].sum()
    assert mass >= p - 1e-5
    # every kept token is at least as likely as every dropped one
    if (~kept).any():
        assert probs[kept].min() >= probs[~kept].max() - 1e-7
    # dropping the least likely kept token would fall short of p
    if kept.sum() > 1:
        assert mass - probs[kept].min() < p + 1e-5


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-8, 8, allow_nan=False), min_size=1, max_size=30), st.integers(1, 40))
def test_top_k_keeps_at_least_k_and_only_the_largest(values, k):
    x = np.asarray([values], dtype=np.float32)
    kept = np.isfinite(top_k_filter(x, k)[0])
    assert kept.sum() >= min(k, x.shape[1])
    if (~kept).any():
        assert x[0, kept].min() > x[0, ~kept].max()


# -- penalties --------------------------------------------------------------------------
def test_repetition_penalty_divides_positive_and_multiplies_negative_seen_scores():
    x = np.array([[2.0, -1.0, 0.5, 3.0]], dtype=np.float32)
    out = penalize(x, np.array([[0, 1, 1]]), SamplingConfig(repetition_penalty=2.0))
    assert out.tolist() == [[1.0, -2.0, 0.5, 3.0]]


def test_no_repeat_ngram_bans_the_token_that_would_repeat_a_trigram():
    x = np.zeros((1, 5), dtype=np.float32)
    out = penalize(x, np.array([[1, 2, 3, 1, 2]]), SamplingConfig(no_repeat_ngram_size=3))
    assert out.tolist() == [[0.0, 0.0, 0.0, -INF, 0.0]]


# -- drawing ----------------------------------------------------------------------------
@pytest.mark.parametrize("u, token", [(0.0, 0), (0.05, 0), (0.1, 1), (0.29, 1), (0.31, 2),
                                      (0.59, 2), (0.61, 3), (0.999999, 3)])
def test_pick_is_the_inverse_cdf(u, token):
    assert pick(np.array([[0.1, 0.2, 0.3, 0.4]]), np.array([u])).tolist() == [token]


def test_pick_never_returns_a_zero_probability_token():
    probs = np.array([[0.0, 0.5, 0.0, 0.5, 0.0]])
    assert pick(probs, np.array([0.0])).tolist() == [1]
    assert pick(probs, np.array([0.5])).tolist() == [3]
    assert pick(probs, np.array([1.0])).tolist() == [3]  # a draw of exactly 1 stays in range


def test_sample_next_uses_one_uniform_per_row_and_the_filtered_distribution():
    logits = np.vstack([_logits(PROBS), _logits(PROBS)])
    cfg = SamplingConfig(temperature=1.0, top_p=0.75)  # only tokens 2 (0.5) and 0 (0.3)
    u = np.random.default_rng(7).random(2)
    expected = pick(softmax(warp(logits, cfg)), u)
    ids = np.zeros((2, 1), dtype=np.int64)
    assert sample_next(logits, ids, cfg, np.random.default_rng(7)).tolist() == expected.tolist()
    rng = np.random.default_rng(1)
    draws = np.concatenate([sample_next(logits, np.zeros((2, 1), dtype=np.int64), cfg, rng)
                            for _ in range(1500)])
    assert set(draws.tolist()) == {0, 2}
    assert abs((draws == 2).mean() - 0.5 / 0.8) < 0.03  # 3000 draws: 2.5 standard errors


def test_same_seed_same_tokens():
    logits = np.random.default_rng(0).normal(size=(3, 50)).astype(np.float32)
    ids = np.zeros((3, 2), dtype=np.int64)
    cfg = SamplingConfig(temperature=0.9, top_k=20, top_p=0.9)
    a = sample_next(logits, ids, cfg, np.random.default_rng(42))
    b = sample_next(logits, ids, cfg, np.random.default_rng(42))
    assert a.tolist() == b.tolist()


@pytest.mark.parametrize("kwargs", [dict(temperature=-1.0), dict(top_k=-1), dict(top_p=0.0),
                                    dict(top_p=1.5), dict(repetition_penalty=0.0),
                                    dict(no_repeat_ngram_size=-2)])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        SamplingConfig(**kwargs)


# -- parity with transformers' warpers --------------------------------------------------
@pytest.mark.parametrize("temperature, top_k, top_p", [
    (1.0, 0, 0.9), (0.7, 10, 1.0), (0.7, 10, 0.8), (1.3, 50, 0.95), (0.5, 0, 0.3)])
def test_filters_match_transformers(temperature, top_k, top_p):
    import torch
    from transformers.generation.logits_process import (
        LogitsProcessorList,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    logits = (np.random.default_rng(3).normal(size=(16, 200)) * 3).astype(np.float32)
    chain = [TemperatureLogitsWarper(temperature)]
    if top_k:
        chain.append(TopKLogitsWarper(top_k))
    if top_p < 1.0:
        chain.append(TopPLogitsWarper(top_p))
    theirs = LogitsProcessorList(chain)(torch.zeros((16, 1), dtype=torch.long),
                                        torch.from_numpy(logits.copy())).numpy()
    ours = warp(logits, SamplingConfig(temperature=temperature, top_k=top_k, top_p=top_p))
    np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(theirs))
    np.testing.assert_allclose(ours[np.isfinite(ours)], theirs[np.isfinite(theirs)], rtol=1e-6)


def test_penalties_match_transformers():
    import torch
    from transformers.generation.logits_process import (
        NoRepeatNGramLogitsProcessor,
        RepetitionPenaltyLogitsProcessor,
    )

    rng = np.random.default_rng(5)
    logits = rng.normal(size=(4, 30)).astype(np.float32)
    ids = rng.integers(0, 6, size=(4, 12))
    t_ids = torch.from_numpy(ids)
    theirs = RepetitionPenaltyLogitsProcessor(1.3)(t_ids, torch.from_numpy(logits.copy()))
    theirs = NoRepeatNGramLogitsProcessor(2)(t_ids, theirs).numpy()
    ours = penalize(logits, ids, SamplingConfig(repetition_penalty=1.3, no_repeat_ngram_size=2))
    np.testing.assert_array_equal(ours, theirs)
