"""Speculative greedy search (``runtime/search.py`` with a drafter) and prompt lookup
(``runtime/drafting.py``), on hand-made step models. Parity with transformers on exported
models is in ``test_abstractive.py`` and ``test_generation.py``."""
import zlib

import numpy as np
import pytest

from runtime.config import GenerationConfig
from runtime.drafting import LookupConfig, PromptLookup
from runtime.search import greedy_search
from tests.parity import Guesser

V, EOS, PAD = 11, 1, 0


def _check_cache(cache, ids):
    """Every cached token is the token ``ids`` holds there, up to the row's end token (a
    finished row's later columns are padding in ``ids``; what its cache holds no longer
    matters)."""
    for row, fed in zip(ids, cache):
        end = np.flatnonzero(row[:len(fed)] == EOS)
        upto = end[0] + 1 if end.size else len(fed)
        assert np.array_equal(fed[:upto], row[:upto]), "the cache holds a token ids lacks"


class PrefixModel:
    """Next-token scores drawn from a hash of the whole prefix, as attention makes them
    depend on every earlier token. Its "cache" is the tokens it was fed; every run checks
    that the cache is a prefix of the ids it is given (for rows still writing), so a
    rejected guess left in the cache fails the test."""

    def __init__(self) -> None:
        self.runs = 0
        self.fed = []  # tokens per run

    @staticmethod
    def scores(prefix: np.ndarray) -> np.ndarray:
        return np.random.default_rng(zlib.crc32(prefix.astype(np.int64).tobytes())).normal(size=V).astype(np.float32)

    def start(self, rows: int) -> np.ndarray:
        return np.zeros((rows, 0), dtype=np.int64)

    def step(self, ids, cache):
        logits, cache = self.extend(ids, cache, 1)
        return logits[:, -1], cache

    def extend(self, ids, cache, n):
        _check_cache(cache, ids)
        assert ids.shape[1] - cache.shape[1] >= n
        self.runs += 1
        self.fed.append(ids.shape[1] - cache.shape[1])
        t = ids.shape[1]
        logits = np.stack([[self.scores(row[:j]) for j in range(t - n + 1, t + 1)] for row in ids])
        return logits, ids.copy()

    def truncate(self, cache, length):
        return cache[:, :length]

    def reorder(self, cache, index):
        return cache[index]


PROMPT = np.array([[3, 4], [5, 6], [7, 8]], dtype=np.int64)
CONFIGS = {
    "plain": GenerationConfig(max_new_tokens=14, eos_token_id=(EOS,), pad_token_id=PAD),
    "min-new": GenerationConfig(max_new_tokens=14, min_new_tokens=9, eos_token_id=(EOS,), pad_token_id=PAD),
    "no-repeat-penalty": GenerationConfig(max_new_tokens=14, no_repeat_ngram_size=2, repetition_penalty=1.5,
                                          eos_token_id=(EOS,), pad_token_id=PAD),
    "forced-eos": GenerationConfig(max_new_tokens=8, forced_eos_token_id=EOS, eos_token_id=(EOS,),
                                   pad_token_id=PAD),
}


def _plain(config):
    model, seen = PrefixModel(), []
    out = greedy_search(model, model.start(3), PROMPT, config, on_token=lambda r, t: seen.append((r, t)))
    return out, seen


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("tokens,wrong", [(1, 0), (4, 0), (4, 3), (6, 2), (3, 1)])
def test_output_and_stream_are_greedy_search_whatever_the_guesses(name, tokens, wrong):
    config = CONFIGS[name]
    expected, expected_stream = _plain(config)
    assert expected.model_runs == expected.sequences.shape[1] - 2
    model, seen = PrefixModel(), []
    out = greedy_search(model, model.start(3), PROMPT, config, on_token=lambda r, t: seen.append((r, t)),
                        drafter=Guesser(expected.sequences, vocab=V, tokens=tokens, wrong=wrong))
    np.testing.assert_array_equal(out.sequences, expected.sequences)
    assert sorted(seen) == sorted(expected_stream)
    for row in range(3):  # each row's tokens arrive in order
        assert [t for r, t in seen if r == row] == [t for r, t in expected_stream if r == row]
    assert out.model_runs == model.runs <= expected.model_runs


def test_rows_end_at_different_places():
    """What the tests above rely on: in the plain config the rows end at different places,
    so the batch goes on with finished rows (``test_model_runs_hand_counted`` covers rows
    that run to the length limit)."""
    seq = _plain(CONFIGS["plain"])[0].sequences
    ends = [list(row[2:]).index(EOS) + 1 for row in seq]
    assert ends == [6, 10, 7]


def test_model_runs_hand_counted():
    config = GenerationConfig(max_new_tokens=12, pad_token_id=PAD)  # no end token: 12 new
    ref = _plain(config)[0].sequences
    # Always right with 3 guesses: each run writes 4 tokens -> 3 runs for 12.
    model = PrefixModel()
    out = greedy_search(model, model.start(3), PROMPT, config, drafter=Guesser(ref, vocab=V, tokens=3))
    assert out.model_runs == 3 and model.fed == [2 + 3, 4, 4]
    # The second guess always wrong: runs write 2 tokens (1 guess + the model's own) -> 6.
    model = PrefixModel()
    out = greedy_search(model, model.start(3), PROMPT, config, drafter=Guesser(ref, vocab=V, tokens=3, wrong=2))
    assert out.model_runs == 6
    # One row always wrong: the batch keeps only what every row accepts -> 12 runs.
    model = PrefixModel()
    out = greedy_search(model, model.start(3), PROMPT, config,
                        drafter=Guesser(ref, vocab=V, tokens=3, always_wrong=(1,)))
    assert out.model_runs == 12
    np.testing.assert_array_equal(out.sequences, ref)
    # Guesses never run past max_new_tokens: 12 = 5 + 5 + 2 with 4 guesses.
    model = PrefixModel()
    greedy_search(model, model.start(3), PROMPT, config, drafter=Guesser(ref, vocab=V, tokens=4))
    assert model.fed == [2 + 4, 5, 2]
    # The number asked for follows the guesses kept: one fewer after a run that rejected
    # one (here the 2nd guess is always wrong), two more after a run that kept them all.
    longer = config.override(max_new_tokens=40)
    ref = _plain(longer)[0].sequences
    model = PrefixModel()
    greedy_search(model, model.start(3), PROMPT, longer, drafter=Guesser(ref, vocab=V, tokens=10, wrong=2))
    guesses = [model.fed[0] - 2] + [f - 1 for f in model.fed[1:]]
    assert guesses[:13] == [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 3, 2, 1]


def test_prompt_lookup_copies_what_followed_the_newest_tokens():
    source = [[10, 11, 12, 13, 14, 15], [20, 21, 22, 23]]
    ids = np.array([[2, 11, 12], [2, 9, 9]])  # decoder prompt [2], then generated tokens
    look = PromptLookup(source, skip=1, config=LookupConfig(max_tokens=3))
    # row 0: "11 12" is in the source -> 13 14 15; row 1: nothing to copy -> its last token
    assert look.propose(ids, 10).tolist() == [[13, 14, 15], [9, 9, 9]]
    assert look.propose(ids, 2).tolist() == [[13, 14], [9, 9]]  # the search's room wins
    assert look.propose(ids, 0).shape == (2, 0)


def test_prompt_lookup_prefers_the_longest_match_and_searches_the_output_too():
    # "5 6" occurs after 1 (-> 7) and after 4 (-> 8): the 3-gram "4 5 6" decides.
    look = PromptLookup([[1, 5, 6, 7, 4, 5, 6, 8, 9]], skip=1)
    assert look.propose(np.array([[0, 4, 5, 6]]), 2).tolist() == [[8, 9]]
    # Only 1-grams left: the first occurrence of 6 -> what followed it there.
    assert look.propose(np.array([[0, 3, 6]]), 2).tolist() == [[7, 4]]
    # The output repeats itself: copy from its own earlier tokens (the source lacks them).
    look = PromptLookup([[1, 2]], skip=1)
    assert look.propose(np.array([[0, 30, 31, 32, 30, 31]]), 3).tolist() == [[32, 30, 31]]
    # No generated token yet: nothing to look up.
    assert look.propose(np.array([[0]]), 3).shape == (1, 0)


def test_prompt_lookup_with_a_real_copy_gives_fewer_runs():
    """A model that copies its source (the next token is the one after the newest token's
    first occurrence there), as a summarizer often does: lookup guesses it all."""
    source = np.array([4, 9, 3, 7, 5, 8, 6, 10, 2])

    class Copier(PrefixModel):
        @staticmethod
        def scores(prefix):
            out = np.zeros(V, dtype=np.float32)
            where = np.flatnonzero(source == prefix[-1])
            out[source[where[0] + 1] if where.size and where[0] + 1 < len(source) else EOS] = 1.0
            return out

    config = GenerationConfig(max_new_tokens=10, eos_token_id=(EOS,), pad_token_id=PAD)
    prompt = np.array([[4]])
    plain = greedy_search(Copier(), np.zeros((1, 0), np.int64), prompt, config)
    assert plain.sequences.tolist() == [[4, 9, 3, 7, 5, 8, 6, 10, 2, EOS]]
    model = Copier()
    out = greedy_search(model, np.zeros((1, 0), np.int64), prompt, config,
                        drafter=PromptLookup([source], skip=0, config=LookupConfig(max_tokens=4)))
    np.testing.assert_array_equal(out.sequences, plain.sequences)
    # Run 1 feeds 4 and the guesses 9 3 7 5 (all right) and writes 5 tokens, ending in 8;
    # "7 5 8" is found in the source, run 2 checks 6 10 2 4: 3 right, then the end token.
    assert out.model_runs == 2


def test_lookup_settings_are_checked():
    with pytest.raises(ValueError, match="max_tokens"):
        LookupConfig(max_tokens=0)
    with pytest.raises(ValueError, match="min_ngram"):
        LookupConfig(max_ngram=1, min_ngram=2)


class HidingPrefixModel(PrefixModel):
    """``PrefixModel`` that can take tokens back (``retract``): scores come from the
    tokens still visible, and its state is (tokens fed, visibility mask)."""

    def __init__(self) -> None:
        super().__init__()
        self.retracts = 0
        self.columns = None  # the widest ids seen: every column the search wrote

    def start(self, rows):
        return np.zeros((rows, 0), dtype=np.int64), np.zeros((rows, 0), dtype=bool)

    def extend(self, ids, state, n):
        fed, mask = state
        _check_cache(fed, ids)
        self.runs += 1
        self.fed.append(ids.shape[1] - fed.shape[1])
        self.columns = ids if self.columns is None or ids.shape[1] >= self.columns.shape[1] else self.columns
        mask = np.concatenate([mask, np.ones((len(ids), ids.shape[1] - mask.shape[1]), dtype=bool)], axis=1)
        t = ids.shape[1]
        logits = np.stack([[self.scores(row[:j][m[:j]]) for j in range(t - n + 1, t + 1)]
                           for row, m in zip(ids, mask)])
        return logits, (ids.copy(), mask)

    def truncate(self, state, length):
        return state[0][:, :length], state[1][:, :length]

    def retract(self, state, row, columns):
        self.retracts += 1
        fed, mask = state
        width = max(max(columns) + 1, mask.shape[1])
        mask = np.concatenate([mask, np.ones((len(mask), width - mask.shape[1]), dtype=bool)], axis=1)
        mask[row, list(columns)] = False
        return fed, mask


@pytest.mark.parametrize("retries", [0, 2, 5])
@pytest.mark.parametrize("tokens,wrong", [(3, 0), (5, 3), (6, 2)])
def test_taking_repeats_back_with_guesses_is_the_same_search(retries, tokens, wrong):
    """``stop_repeat_ngram_size`` with ``repeat_retries`` and a drafter: rows hide columns
    in the middle of a run's guesses; output and stream must be the search's without them."""
    config = GenerationConfig(max_new_tokens=30, stop_repeat_ngram_size=2, repeat_retries=retries,
                              pad_token_id=PAD)  # no end token: the rows run into repeats
    plain, seen_plain = HidingPrefixModel(), []
    expected = greedy_search(plain, plain.start(3), PROMPT, config, on_token=lambda r, t: seen_plain.append((r, t)))
    assert plain.retracts == {0: 0, 2: 6, 5: 6}[retries]  # it did take tokens back
    model, seen = HidingPrefixModel(), []
    guesser = Guesser(plain.columns, vocab=V, tokens=tokens, wrong=wrong)  # every column plain wrote
    out = greedy_search(model, model.start(3), PROMPT, config, on_token=lambda r, t: seen.append((r, t)),
                        drafter=guesser)
    np.testing.assert_array_equal(out.sequences, expected.sequences)
    assert seen == seen_plain and model.retracts == plain.retracts
    assert out.model_runs < expected.model_runs


def test_models_whose_cached_step_takes_one_token_get_no_guesses():
    """Older Optimum exports fix the new-token axis of the cached decoder to 1: the search
    must not send them guesses (onnxruntime would refuse the shape)."""
    from types import SimpleNamespace

    from runtime.session import takes_several_tokens

    def session(shape):
        return SimpleNamespace(get_inputs=lambda: [SimpleNamespace(name="input_ids", shape=shape)])

    assert not takes_several_tokens(session(["batch_size", 1]))
    assert takes_several_tokens(session(["batch_size", "decoder_sequence_length"]))
    assert takes_several_tokens(session(["batch_size", None]))

    class OneAtATime(PrefixModel):
        can_extend = False

    config = CONFIGS["plain"]
    expected = _plain(config)[0]
    model = OneAtATime()
    out = greedy_search(model, model.start(3), PROMPT, config,
                        drafter=Guesser(expected.sequences, vocab=V, tokens=4))
    np.testing.assert_array_equal(out.sequences, expected.sequences)
    assert model.fed == [2] + [1] * (expected.model_runs - 1)
