"""Greedy and beam search on a hand-made Markov 'model' whose answers are known."""
import math

import numpy as np
import pytest

from runtime.config import GenerationConfig
from runtime.search import beam_search, cut_at_repeat, generate, greedy_search

START, A, B, EOS = 0, 1, 2, 3
# next-token probabilities given the last token
P = np.array([
    [0.0, 0.5, 0.4, 0.1],    # after START
    [0.0, 0.3, 0.3, 0.4],    # after A
    [0.0, 0.05, 0.05, 0.9],  # after B
    [0.0, 0.3, 0.3, 0.4],    # after EOS (never used)
])
LOGITS = np.log(np.where(P > 0, P, 1e-30)).astype(np.float32)


class Markov:
    """Logits depend on the last token only; counts calls to check early stopping."""

    def __init__(self):
        self.calls = 0

    def step(self, ids, state):
        self.calls += 1
        return LOGITS[ids[:, -1]], state

    def reorder(self, state, index):
        return state


CFG = GenerationConfig(max_new_tokens=3, eos_token_id=(EOS,), pad_token_id=9)


def test_greedy_follows_argmax_and_pads_finished_rows():
    out = greedy_search(Markov(), None, np.array([[START], [B]]), CFG)
    # row 0: START -> A (0.5) -> EOS (0.4); row 1: B -> EOS, then padding
    assert out.sequences.tolist() == [[START, A, EOS], [B, EOS, 9]]


def test_greedy_streams_tokens_of_unfinished_rows_only():
    seen = []
    greedy_search(Markov(), None, np.array([[START], [B]]), CFG, on_token=lambda r, t: seen.append((r, t)))
    assert seen == [(0, A), (1, EOS), (0, EOS)]


def test_beam_finds_the_better_path_greedy_misses():
    cfg = CFG.override(num_beams=2, early_stopping=True, length_penalty=1.0)
    model = Markov()
    out = beam_search(model, None, np.array([[START]]), cfg)
    # START B EOS = 0.4 * 0.9 = 0.36 beats START A EOS = 0.2; score log(p) / 2 tokens
    assert out.sequences.tolist() == [[START, B, EOS]]
    assert out.scores[0] == pytest.approx(math.log(0.36) / 2, rel=1e-6)
    assert model.calls == 2  # both beams finished at step 2: early stopping ends the search


def test_length_penalty_zero_compares_raw_log_probs():
    cfg = CFG.override(num_beams=2, early_stopping=True, length_penalty=0.0)
    out = beam_search(Markov(), None, np.array([[START]]), cfg)
    assert out.scores[0] == pytest.approx(math.log(0.36), rel=1e-6)


def test_max_length_ends_beams_without_eos():
    cfg = GenerationConfig(max_new_tokens=1, eos_token_id=(EOS,), pad_token_id=9, num_beams=2)
    out = beam_search(Markov(), None, np.array([[START]]), cfg)
    assert out.sequences.tolist() == [[START, A]]
    assert out.scores[0] == pytest.approx(math.log(0.5), rel=1e-6)


def test_generate_dispatches_on_num_beams():
    assert generate(Markov(), None, np.array([[START]]), CFG).sequences.tolist() == [[START, A, EOS]]
    beams = CFG.override(num_beams=2, early_stopping=True)
    assert generate(Markov(), None, np.array([[START]]), beams).sequences.tolist() == [[START, B, EOS]]


def test_top_k_breaks_ties_to_the_lower_index_even_at_the_cut():
    from runtime.search import _top_k

    x = np.array([[1.0, 5.0, 3.0, 3.0, 3.0, -np.inf],
                  [-np.inf, -np.inf, 2.0, -np.inf, -np.inf, -np.inf]], dtype=np.float32)
    assert _top_k(x, 3).tolist() == [[1, 2, 3], [2, 0, 1]]
    assert _top_k(x, 6).tolist() == [[1, 2, 3, 4, 0, 5], [2, 0, 1, 3, 4, 5]]
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=(5, 50)).astype(np.float32)  # many ties
    expected = np.argsort(-y, axis=-1, kind="stable")[:, :7]
    assert _top_k(y, 7).tolist() == expected.tolist()


class Cycle:
    """Writes 5 6 7 8 5 6 7 8 ... after any token below 5; after 9, one 8 then the end (3)."""

    def step(self, ids, state):
        last = ids[:, -1]
        nxt = np.where(last == 9, 8, np.where(last == 8, 5, np.maximum(last + 1, 5)))
        nxt = np.where((ids == 9).any(axis=1) & (last == 8), 3, nxt)
        return np.eye(10, dtype=np.float32)[nxt] * 5, state

    def reorder(self, state, index):
        return state


def test_greedy_stops_where_a_row_repeats_itself_and_drops_the_repeat():
    config = GenerationConfig(max_new_tokens=20, eos_token_id=(3,), pad_token_id=0)
    prompt = np.array([[1], [9]])
    plain = greedy_search(Cycle(), None, prompt, config).sequences
    assert plain[0].tolist() == [1] + [5, 6, 7, 8] * 5  # loops to the length cap
    assert plain[1].tolist() == [9, 8, 3] + [0] * 18
    out = greedy_search(Cycle(), None, prompt, config.override(stop_repeat_ngram_size=3)).sequences
    # row 0 wrote 5 6 7 8 5 6 7: "5 6 7" again, so it ends with 5 6 7 8 5; row 1 ended by itself
    # (the columns that only the dropped repeat filled are gone)
    assert out.tolist() == [[1, 5, 6, 7, 8, 5], [9, 8, 3, 0, 0, 0]]
    assert cut_at_repeat(plain[0, 1:].tolist(), 3) == [5, 6, 7, 8, 5]  # the same, after the fact
    assert cut_at_repeat([5, 6, 5, 7, 5, 6], 2) == [5, 6, 5, 7, 5]
    assert cut_at_repeat([5, 6, 7], 3) == [5, 6, 7] == cut_at_repeat([5, 6, 7], 4)


class Loop:
    """After 1: 5; after 5: 6, else 7; after 6: 5; after 7: the end (3). Logits come from the
    last token not taken back (``retract``), as a masked model sees it."""

    ORDER = {1: [5], 5: [6, 7], 6: [5], 7: [3], 3: [3]}

    def step(self, ids, state):
        dead = state or [set() for _ in ids]
        logits = np.zeros((len(ids), 10), np.float32)
        for i, row in enumerate(ids.tolist()):
            last = [t for c, t in enumerate(row) if c not in dead[i]][-1]
            for rank, token in enumerate(self.ORDER.get(last, [3])):
                logits[i, token] = 5.0 - rank
        return logits, dead

    def retract(self, state, row, columns):
        state[row] |= set(columns)
        return state

    def reorder(self, state, index):
        return state


def test_greedy_takes_a_repeat_back_and_tries_the_next_best_token():
    config = GenerationConfig(max_new_tokens=20, eos_token_id=(3,), pad_token_id=0,
                              stop_repeat_ngram_size=2)
    prompt = np.array([[1], [7]])
    # 5 6 5 6 repeats "5 6": without retries the row ends keeping the repeat's first token
    assert greedy_search(Loop(), None, prompt, config).sequences.tolist() == [
        [1, 5, 6, 5], [7, 3, 0, 0]]
    streamed = []
    out = greedy_search(Loop(), None, prompt, config.override(repeat_retries=1),
                        on_token=lambda r, t: streamed.append((r, t)))
    # with one retry, "6" is banned after "5 6 5" and the row's second choice, 7, follows
    assert out.sequences.tolist() == [[1, 5, 6, 5, 7, 3], [7, 3, 0, 0, 0, 0]]
    assert streamed == [(1, 3), (0, 5), (0, 6), (0, 5), (0, 7), (0, 3)]  # each row once it ended
    with pytest.raises(ValueError, match="cannot take tokens back"):
        greedy_search(Cycle(), None, prompt, config.override(repeat_retries=1))
    with pytest.raises(ValueError, match="does not combine"):
        greedy_search(Loop(), None, prompt, config.override(repeat_retries=1, no_repeat_ngram_size=3))


def test_kept_tokens_are_reported_as_they_grow_and_shrink_and_change_nothing():
    """``on_kept`` sees each row's kept tokens after every step: they shrink where a
    repeat is taken back. The output is the same with or without it."""
    config = GenerationConfig(max_new_tokens=20, eos_token_id=(3,), pad_token_id=0,
                              stop_repeat_ngram_size=2, repeat_retries=1)
    prompt = np.array([[1], [7]])
    plain = greedy_search(Loop(), None, prompt, config)
    kept = {0: [], 1: []}
    out = greedy_search(Loop(), None, prompt, config, on_kept=lambda r, t: kept[r].append(t))
    np.testing.assert_array_equal(out.sequences, plain.sequences)
    # row 0: 5 6 5 6 repeats "5 6": "5 6" goes back to [5, 6], 5 is written again (its
    # logits are the next position's), then 7, its next best after "5 6 5"
    assert kept[0] == [[5], [5, 6], [5, 6, 5], [5, 6], [5, 6, 5], [5, 6, 5, 7], [5, 6, 5, 7, 3]]
    assert kept[1] == [[3]]
    assert out.lengths.tolist() == [5, 1]
    # plain greedy search reports the same way (here every step only grows)
    seen = []
    cfg = GenerationConfig(max_new_tokens=3, eos_token_id=(EOS,), pad_token_id=9)
    greedy_search(Markov(), None, np.array([[START], [B]]), cfg, on_kept=lambda r, t: seen.append((r, t)))
    assert seen == [(0, [A]), (1, [EOS]), (0, [A, EOS])]


@pytest.mark.parametrize("repeats", [0, 3])
def test_a_stop_rule_ends_a_row_like_an_end_token(repeats):
    """Row 0 of ``Cycle`` loops 5 6 7 8; a rule that stops a row once it has written an 8
    ends it there, padded, and ``lengths`` says where each row stopped."""
    config = GenerationConfig(max_new_tokens=20, eos_token_id=(3,), pad_token_id=0,
                              stop_repeat_ngram_size=repeats)
    asked = []

    def stop(row, tokens):
        asked.append((row, list(tokens)))
        return tokens[-1] == 8

    out = greedy_search(Cycle(), None, np.array([[1], [9]]), config, stop=stop)
    assert out.sequences.tolist() == [[1, 5, 6, 7, 8], [9, 8, 0, 0, 0]]
    assert out.lengths.tolist() == [4, 1]
    assert (1, [8]) in asked and all(t[-1] != 3 for _, t in asked)  # never after an end token
    beams = beam_search(Markov(), None, np.array([[START]]),
                        CFG.override(num_beams=2, early_stopping=True))
    assert beams.lengths.tolist() == [2]  # START B EOS
