"""Names and numbers only from the source (``runtime/constraints.py``, ``span_index.py``,
``token_texts.py``): the automaton on hand-made strings, token texts against the
tokenizers' own decoding, a scripted model that prefers misspellings, the vectorized mask
against the string check, and parity with transformers' ``generate`` given the same
allowed tokens (``prefix_allowed_tokens_fn``)."""
import random

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

from export import ExportConfig, export_onnx
from runtime.causal import CausalOnnx
from runtime.config import GenerationConfig
from runtime.constraints import ConstraintConfig, SpanConstraint
from runtime.span_index import BOUND, DEAD, SpanIndex, number_entries, source_words
from runtime.search import generate
from runtime.seq2seq import Seq2SeqOnnx
from runtime.token_texts import TokenTexts
from tests.parity import Guesser
from tests.tiny_models import CORPUS, VOCAB_SIZE, make_tiny_causal, make_tiny_seq2seq, sharpen

SOURCE = "Mr Yeaman met Deutsche Boerse on 2,000 shares."
STOP = ("the", "a", "he", "however", "i")


def _index(source=SOURCE):
    return SpanIndex.build(source, common_words=STOP)


def _written(index, text):
    """(alive, may end) after ``text`` from a sentence start."""
    s = index.run(BOUND, text)
    return s != DEAD, s != DEAD and index.can_end(s)


# -- the automaton on strings ----------------------------------------------------------
@pytest.mark.parametrize("text, alive, may_end", [
    ("Mr Yeaman", True, True),
    ("Mr Yeama", True, False),  # a prefix of a name: may go on, not end
    ("Mr Yeamaman", False, False),
    ("Mr Yeamans", False, False),  # letters after a whole name make another name
    ("Yeaman's shares", True, True),  # a possessive ends the name
    ("Deutsche Boerse", True, True),
    ("Deutsche", True, True),  # a word of a multi-word name may end there
    ("Boerse", True, True),
    ("Deutsche Boersse", False, False),
    ("2,000", True, True),
    ("2,00", True, False),  # a number cut mid-way may not end ...
    ("2,00 shares", False, False),  # ... nor be followed by a space
    ("2,0000", False, False),
    ("2000", True, True),  # without its thousands separator
    ("2,000.", True, True),  # a full stop after a whole number
    ("2,000,5", False, False),  # no new number glued on by a separator
    ("2,000th", True, True),  # letters after a whole number: an ordinal, a unit
    ("3 shares", False, False),  # a number the source lacks
    ("The shares", True, True),  # a stop word, capitalised
    ("Shares met", True, True),  # a lower-case source word, capitalised
    ("Officials met", False, False),  # a capitalised word the source lacks
    ("the rest of it", True, True),  # lower-case words are never constrained
    ("iPhone mp3", True, True),  # capitals and digits inside a lower-case word
])
def test_capitalised_words_and_numbers_must_be_source_prefixes(text, alive, may_end):
    assert _written(_index(), text) == (alive, may_end)


def test_amounts_keep_their_currency_and_chinese_text_separates_words():
    index = SpanIndex.build("净利润为$10.5亿，IBM和Lenovo在2004年达成协议。")
    assert _written(index, "$10.5亿") == (True, True)
    assert _written(index, "10.5亿") == (True, True)
    assert _written(index, "£10.5") == (False, False)  # not the source's currency
    assert _written(index, "IBM与Lenovo于2004年") == (True, True)  # names next to ideographs
    assert _written(index, "IBN") == (False, False)
    assert _written(index, "于2005年") == (False, False)
    assert number_entries("£2.5m and 12,500 and $ 7") == ["2.5", "£2.5", "12,500", "12500", "7",
                                                            "$7", "$ 7"]
    assert source_words("O'Brien's Coca-Cola, 3-D") == ["O'Brien's", "Coca-Cola", "3-D"]
    # digits inside a word are no number: "G7" gives no "7" (BBC's business/002 wrote "since
    # the 7th of last month" from it)
    assert number_entries("the G7 and MP3s, 2004年") == ["2004"]
    assert _written(_index("The G7 met."), "The G7 met") == (True, True)
    assert _written(_index("The G7 met."), "The 7th") == (False, False)


def test_without_names_only_numbers_are_kept_to_the_source():
    index = SpanIndex.build("Die Firma zahlte 2,5 Millionen Euro.", names=False)
    assert _written(index, "Der Konzern zahlte 2,5 Millionen") == (True, True)  # German nouns
    assert _written(index, "Der Konzern zahlte 2,6 Millionen") == (False, False)


def test_a_separator_that_an_entry_continues_falls_back_to_the_word_end():
    index = _index("Brown's plan cost 2,000.5 or 2,000 in total.")
    assert _written(index, "Brown's") == (True, True)
    assert _written(index, "Brown, then") == (True, True)
    assert _written(index, "2,000. In total") == (True, True)  # "." began 2,000.5; it ended
    assert _written(index, "2,000.5") == (True, True)
    assert _written(index, "2,000.7") == (False, False)


# -- token texts -----------------------------------------------------------------------
def _byte_level():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS + [SOURCE, "净利润为10.5亿元，£2.5m — Zoë"], trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def _metaspace():
    tok = Tokenizer(models.BPE(byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.train_from_iterator(CORPUS + [SOURCE, "净利润 £2.5m"], trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<unk>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]))
    return tok


def _word_level():
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS, trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    return tok


@pytest.mark.parametrize("make", [_byte_level, _metaspace, _word_level])
def test_token_texts_join_to_what_the_tokenizer_decodes(make):
    tok = make()
    texts = TokenTexts.from_tokenizer(tok)
    rng = random.Random(0)
    ids = [t for t in range(tok.get_vocab_size()) if t not in texts.specials]
    for _ in range(200):
        seq = [rng.choice(ids) for _ in range(rng.randrange(1, 12))]
        pending, out = b"", []
        for t in seq:
            text, pending = texts.join(pending, t)
            out.append(text)
        joined = "".join(out) + pending.decode("utf-8", errors="replace")
        assert joined.strip() == tok.decode(seq, skip_special_tokens=True).strip()
    assert texts.specials  # every kind has a special token, which adds no text


# -- a scripted model that prefers misspellings -----------------------------------------
VOCAB = ["<s>", "</s>", " Mr", " Ye", "aman", "amaman", " met", " Deutsche", " Boer", "se",
         "sse", " on", " 2", ",", "00", "0", " shares", "."]
T = {text: i for i, text in enumerate(VOCAB)}
PREFERS = {  # last token -> {next token: logit}; everything else scores 0
    "<s>": {" Mr": 5}, " Mr": {" Ye": 5}, " Ye": {"amaman": 5, "aman": 4},
    "amaman": {" met": 5}, "aman": {" met": 5}, " met": {" Deutsche": 5},
    " Deutsche": {" Boer": 5}, " Boer": {"sse": 5, "se": 4}, "sse": {" on": 5}, "se": {" on": 5},
    " on": {" 2": 5}, " 2": {",": 5}, ",": {"00": 5, "0": 3},
    "00": {"</s>": 5, " shares": 4, "0": 2}, "0": {"</s>": 5, "0": 4},
}


class Scripted:
    """Logits depend on the last token only (``PREFERS``)."""

    can_extend = True

    def _logits(self, last):
        out = np.zeros(len(VOCAB), dtype=np.float32)
        for text, score in PREFERS.get(VOCAB[last], {}).items():
            out[T[text]] = score
        return out

    def step(self, ids, state):
        return np.stack([self._logits(row[-1]) for row in ids]), state

    def extend(self, ids, state, n):
        return np.stack([[self._logits(t) for t in row[-n - 1:-1]] + [self._logits(row[-1])]
                         for row in ids])[:, -n:], state

    def truncate(self, state, length):
        return state

    def retract(self, state, row, columns):
        return state

    def reorder(self, state, index):
        return state


def _decode(row):
    return "".join(VOCAB[t] for t in row if t > 1).strip()


CONFIG = GenerationConfig(max_new_tokens=20, eos_token_id=(T["</s>"],), pad_token_id=T["</s>"])


@pytest.mark.parametrize("settings", [
    dict(), dict(num_beams=2), dict(num_beams=3, early_stopping=True),
    dict(stop_repeat_ngram_size=4, repeat_retries=2),
], ids=["greedy", "beam2", "beam3", "no-repeats"])
def test_constrained_output_copies_the_names_and_numbers_an_unconstrained_run_misspells(settings):
    config = CONFIG.override(**settings)
    texts = TokenTexts.from_strings(VOCAB, specials=[0, 1])
    prompt = np.array([[T["<s>"]]])
    free = _decode(generate(Scripted(), None, prompt, config).sequences[0])
    assert free == "Mr Yeamaman met Deutsche Boersse on 2,00"
    constraint = SpanConstraint([_index()], texts, end_ids=[T["</s>"]])
    kept = _decode(generate(Scripted(), None, prompt, config, constraint=constraint).sequences[0])
    assert kept == "Mr Yeaman met Deutsche Boerse on 2,000"


def test_guessed_tokens_are_constrained_like_generated_ones():
    texts = TokenTexts.from_strings(VOCAB, specials=[0, 1])
    constraint = SpanConstraint([_index()], texts, end_ids=[T["</s>"]])
    prompt = np.array([[T["<s>"]]])
    reference = np.array([[T[t] for t in ["<s>", " Mr", " Ye", "amaman", " met", " Deutsche"]]])
    drafter = Guesser(reference, vocab=len(VOCAB), tokens=4)
    out = generate(Scripted(), None, prompt, CONFIG, constraint=constraint, drafter=drafter)
    assert _decode(out.sequences[0]) == "Mr Yeaman met Deutsche Boerse on 2,000"


def test_each_document_of_a_batch_has_its_own_source():
    texts = TokenTexts.from_strings(VOCAB, specials=[0, 1])
    other = SpanIndex.build("Mr Yeamaman met Deutsche Boersse on 2,00 shares.")
    constraint = SpanConstraint([_index(), other], texts, end_ids=[T["</s>"]])
    for beams in (1, 2):
        out = generate(Scripted(), None, np.array([[0], [0]]), CONFIG.override(num_beams=beams),
                       constraint=constraint).sequences
        assert [_decode(r) for r in out] == ["Mr Yeaman met Deutsche Boerse on 2,000",
                                             "Mr Yeamaman met Deutsche Boersse on 2,00"]


def test_a_row_with_nothing_allowed_but_masked_tokens_is_left_as_it_was():
    texts = TokenTexts.from_strings(VOCAB, specials=[0, 1])
    constraint = SpanConstraint([_index()], texts, end_ids=[T["</s>"]])
    scores = np.full((1, len(VOCAB)), -np.inf, dtype=np.float32)
    scores[0, T["</s>"]] = 0.0  # a forced end token after "2,00", which may not end
    generated = [[T[" on"], T[" 2"], T[","], T["00"]]]
    np.testing.assert_array_equal(constraint.mask(generated, scores, keep=1), scores)
    scores[0, T["0"]] = -5.0
    masked = constraint.mask(generated, scores, keep=1)
    assert masked[0].argmax() == T["0"] and np.isinf(masked[0, T["</s>"]])
    # a token banned by the repeat rule (-1e9) stays a candidate: better a repeat, which
    # that rule ends, than a broken number
    scores[0, T["0"]], scores[0, T[" shares"]] = -1e9, 3.0
    assert constraint.mask(generated, scores, keep=1)[0].argmax() == T["0"]


# -- taking back a word the source cannot continue ---------------------------------------
# "since the 1990s" in a text whose only number is 1.2974: kept to the source, the number
# becomes "1.2974 on Thursday" (BBC validation's business/002 did this), a false statement.
BACK_VOCAB = ["<s>", "</s>", "<q>", " Prices", " rose", " since", " the", " 1", "990s", ".",
              "2974", " on", " Thursday", " early", " talks", " 7"]
B = {text: i for i, text in enumerate(BACK_VOCAB)}
BACK_PREFERS = {
    "<s>": {" Prices": 5}, "<q>": {" 1": 5, " Prices": 4}, " Prices": {" rose": 5},
    " rose": {" since": 5}, " since": {" the": 5}, " the": {" 1": 5, " early": 3},
    " 1": {"990s": 9, ".": 1},  # the model's own choice outscores the source's by 8
    "990s": {".": 5}, ".": {"</s>": 5, "2974": 1}, "2974": {" on": 5}, " on": {" Thursday": 5},
    " Thursday": {".": 5}, " early": {" talks": 5}, " talks": {".": 5},
}
BACK_SOURCE = "Prices rose to 1.2974 on Thursday, since the early talks."


class Retracting:
    """Logits from the last token not taken back (``retract``), as a masked model sees it."""

    can_extend = True

    def _logits(self, last):
        out = np.zeros(len(BACK_VOCAB), dtype=np.float32)
        for text, score in BACK_PREFERS.get(BACK_VOCAB[last], {}).items():
            out[B[text]] = score
        return out

    def _visible(self, row, hidden, upto):
        return [t for c, t in enumerate(row[:upto]) if c not in hidden][-1]

    def step(self, ids, state):
        return self.extend(ids, state, 1)[0][:, -1], state

    def extend(self, ids, state, n):
        hidden = state or [set() for _ in ids]
        t = ids.shape[1]
        return np.stack([[self._logits(self._visible(row, hidden[i], t - n + k + 1)) for k in range(n)]
                         for i, row in enumerate(ids.tolist())]), hidden

    def truncate(self, state, length):
        return state

    def retract(self, state, row, columns):
        state = state or [set() for _ in range(2)]
        state[row] |= set(columns)
        return state

    def reorder(self, state, index):
        return state


def _back_text(row):
    return "".join(BACK_VOCAB[t] for t in row if t > 2).strip()


def _back_constraint(gap=0.0, sources=(BACK_SOURCE,)):
    texts = TokenTexts.from_strings(BACK_VOCAB, specials=[0, 1, 2])
    return SpanConstraint([SpanIndex.build(s, common_words=STOP) for s in sources], texts,
                          end_ids=[B["</s>"]], config=ConstraintConfig(number_gap=gap))


BACK_CONFIG = GenerationConfig(max_new_tokens=12, eos_token_id=(B["</s>"],), pad_token_id=B["</s>"])


@pytest.mark.parametrize("settings", [dict(), dict(stop_repeat_ngram_size=4, repeat_retries=2)],
                         ids=["greedy", "no-repeats"])
def test_a_number_the_source_cannot_continue_is_taken_back_not_turned_into_another(settings):
    config = BACK_CONFIG.override(**settings)
    prompt = np.array([[B["<s>"]]])
    free = generate(Retracting(), None, prompt, config).sequences[0]
    assert _back_text(free) == "Prices rose since the 1990s."
    kept = _back_constraint(gap=None)  # the mask alone: a different, false number
    out = generate(Retracting(), None, prompt, config, constraint=kept).sequences[0]
    assert _back_text(out) == "Prices rose since the 1.2974 on Thursday."
    # refused twice: "990s" (for ".") and the end token after "1." (for "2974")
    assert kept.corrections(0, out[1:]) == 2 and kept.taken_back(0, out[1:]) == 0
    # the model's choice refused inside a number (by 8: 9 for "990s" against 1 for "."): " 1"
    # is taken back, and after " the" no number may open; the model's next choice follows
    back = _back_constraint()
    out = generate(Retracting(), None, prompt, config, constraint=back).sequences[0]
    assert _back_text(out) == "Prices rose since the early talks."
    assert back.taken_back(0, out[1:]) == 1 and back.corrections(0, out[1:]) == 0
    # a gap under the threshold keeps the number
    out = generate(Retracting(), None, prompt, config, constraint=_back_constraint(gap=8.0)).sequences[0]
    assert _back_text(out) == "Prices rose since the 1.2974 on Thursday."


def test_a_word_taken_back_at_the_start_writes_the_prompt_again_and_rows_are_apart():
    """Row 0 starts with " 1" (taken back at position 0: the prompt's last token is written
    again) and meets it again after " the"; row 1's source has "1990s", which stays."""
    back = _back_constraint(sources=(BACK_SOURCE, "Prices rose since the 1990s."))
    prompt = np.array([[B["<q>"]], [B["<s>"]]])
    kept = {0: [], 1: []}
    out = generate(Retracting(), None, prompt, BACK_CONFIG, constraint=back,
                   on_kept=lambda row, tokens: kept[row].append(tokens)).sequences
    assert [_back_text(r) for r in out] == ["Prices rose since the early talks.",
                                            "Prices rose since the 1990s."]
    assert back.taken_back(0, out[0, 1:]) == 2 and back.taken_back(1, out[1, 1:]) == 0
    # what on_kept was told: the row's tokens after each step, shrinking where a word went
    assert kept[0][0] == [B[" 1"]] and kept[0][1] == []
    assert [len(k) for k in kept[0]].count(4) == 2  # "... the 1", then "... the" again
    assert all(k[-1] == [t for t in row[1:].tolist() if t != B["</s>"]] + [B["</s>"]]
               for k, row in zip(kept.values(), out))
    assert kept[1] == [out[1, 1:j + 1].tolist() for j in range(1, len(kept[1]) + 1)]  # only grew
    # the same with guesses (a wrong one at every third place): the same text
    guesser = Guesser(out, vocab=len(BACK_VOCAB), tokens=3, wrong=3)
    again = generate(Retracting(), None, prompt, BACK_CONFIG, drafter=guesser,
                     constraint=_back_constraint(sources=(BACK_SOURCE, "Prices rose since the 1990s.")))
    assert [_back_text(r) for r in again.sequences] == [_back_text(r) for r in out]


def test_take_back_names_where_the_word_began_and_stops_after_its_limit():
    texts = TokenTexts.from_strings(VOCAB, specials=[0, 1])
    limited = SpanConstraint([_index()], texts, end_ids=[T["</s>"]],
                             config=ConstraintConfig(name_gap=2.0, take_backs=1))
    written = [T[" Mr"], T[" Ye"]]
    assert limited.word_start(0, written) == 1  # " Ye": "Mr" is a word of its own
    assert limited.word_start(0, written + [T["aman"]]) == 1
    assert limited.word_start(0, written + [T["aman"], T[" met"]]) is None  # a free word
    assert limited.word_start(0, [T[" on"], T[" 2"], T[","], T["00"]]) == 1  # "2,00"
    scores = np.zeros(len(VOCAB), dtype=np.float32)
    scores[T["amaman"]], scores[T["aman"]] = 5.0, 1.0
    masked = limited.mask([written], scores[None], keep=1)[0]
    assert limited.take_back(0, written, scores, masked) == (1, [T[" Ye"]])  # 5 - 1 > 2: " Ye" banned
    assert limited.take_back(0, written, scores, masked) is None  # one take-back per document
    # names are corrected by default, whatever the gap; a number is taken back, and every
    # token that opens a number is banned where it began
    default = SpanConstraint([_index()], texts, end_ids=[T["</s>"]])
    assert default.take_back(0, written, scores, masked) is None
    number = [T[" on"], T[" 2"], T[","], T["00"]]
    scores = np.zeros(len(VOCAB), dtype=np.float32)
    scores[T[","]], scores[T["0"]] = 3.0, 1.0  # "2,00,": the source has 2,000
    masked = default.mask([number], scores[None], keep=1)[0]
    assert masked.argmax() == T["0"]
    assert default.take_back(0, number, scores, masked) == (1, sorted([T[" 2"], T["0"], T["00"]]))
    scores[T["0"]] = 3.0  # no gap: the number goes on
    assert default.take_back(0, number, scores, default.mask([number], scores[None], keep=1)[0]) is None
    scores[T["0"]], scores[T[" shares"]] = 1.0, 4.0  # "2,00 shares": completed to 2,000, as names are
    assert default.take_back(0, number, scores, default.mask([number], scores[None], keep=1)[0]) is None


def test_where_a_number_would_open_one_the_source_lacks_is_not_swapped_for_another():
    """After "since the", the model prefers " 7" (no number of the source begins so): the
    source's " 1" (of 1.2974) is not written in its place; no number is."""
    before = [B[t] for t in (" Prices", " rose", " since", " the")]
    scores = np.zeros((1, len(BACK_VOCAB)), dtype=np.float32)
    scores[0, B[" 7"]], scores[0, B[" 1"]], scores[0, B[" early"]] = 6.0, 5.0, 3.0
    plain = _back_constraint(gap=None)
    assert plain.mask([before], scores, keep=1)[0].argmax() == B[" 1"]
    refusing = _back_constraint()
    assert refusing.mask([before], scores, keep=1)[0].argmax() == B[" early"]
    assert refusing.taken_back(0, before + [B[" early"]]) == 1
    assert refusing.corrections(0, before + [B[" early"]]) == 0
    scores[0, B[" 7"]] = 4.0  # the source's own number is the model's choice: kept
    assert refusing.mask([before], scores, keep=1)[0].argmax() == B[" 1"]


# -- the vectorized mask against the string check --------------------------------------
PIECES = ["Ye", "aman", "am", "an", " Mr", " M", "r", " Deutsche", " Boer", "Boer", "se", "s",
          " 2", "2", ",", "0", "00", ",0", ".", ". ", " ", " the", "The", " The", "'s", "'",
          "-", "Coca", "-Cola", " $", "$1", "10", "bn", " IBM", "IB", "M", "与", "亿", "Ü", "ber",
          " über", "5%", ":3", "3", " Z", "é", "\u00a3", "x2", "Y", "e"]


def test_the_vectorized_mask_equals_the_string_check_in_every_state():
    rng = random.Random(1)
    texts = TokenTexts.from_strings(["<s>", "</s>"] + PIECES, specials=[0, 1])
    index = SpanIndex.build("Mr Yeaman's Coca-Cola deal with IBM cost $10bn, 2,000.5 or 2,000 "
                            "at 10:30, up 5%; Über 与 Zoë.", common_words=STOP)
    numbers_only = SpanIndex.build("Über 2,000.5 Euro, 10:30.", names=False)
    constraint = SpanConstraint([index, numbers_only], texts, end_ids=[1])
    reached = 0
    for _ in range(300):
        generated = [rng.randrange(2, texts.size) for _ in range(rng.randrange(0, 6))]
        for doc in (0, 1):
            full = constraint.allowed(doc, generated)
            by_string = [constraint.permits(doc, generated, t) for t in range(texts.size)]
            assert full.tolist() == by_string
        reached += constraint.state(0, generated)[0] > 4
    assert reached > 50  # many prefixes end inside a word of the index


def test_the_best_allowed_tokens_are_what_the_full_mask_would_leave_best():
    rng = np.random.default_rng(2)
    texts = TokenTexts.from_strings(["<s>", "</s>"] + PIECES, specials=[0, 1])
    narrow = SpanConstraint([_index()], texts, end_ids=[1],  # numbers not swapped: the mask alone
                            config=ConstraintConfig(first=2, widest=4, number_gap=None))
    for _ in range(100):
        generated = rng.integers(2, texts.size, size=rng.integers(0, 5)).tolist()
        scores = rng.normal(size=(1, texts.size)).astype(np.float32)
        scores[0, rng.integers(0, texts.size, 5)] = 1.0  # ties: the lower id goes first
        full = np.where(narrow.allowed(0, generated), scores[0], -np.inf)
        for keep in (1, 3):
            masked = narrow.mask([generated], scores, keep=keep)[0]
            best = np.lexsort((np.arange(texts.size), -full))[:keep]
            assert np.lexsort((np.arange(texts.size), -masked))[:keep].tolist() == best.tolist()


# -- parity with transformers' generate and prefix_allowed_tokens_fn --------------------
# Every id of the tiny models gets a text: names' pieces, digits, separators, words.
PARITY_TEXTS = (["", "", "", ""] + PIECES + [" shares", " on", " met", " in", " York", " New",
                                              " firm", " Brown", " paid", " 4", "4", " B", " Y",
                                              " D", " C", "C"])
PARITY_TEXTS += [f" w{i}" for i in range(VOCAB_SIZE - len(PARITY_TEXTS))]
SOURCES = [SOURCE, "Brown's firm in New York paid $10bn in 2004, up 5%."]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("constrained")
    llama = sharpen(make_tiny_causal("llama", root / "llama"), AutoModelForCausalLM)
    bart = sharpen(make_tiny_seq2seq("bart", root / "bart"), AutoModelForSeq2SeqLM)
    config = ExportConfig(validate=False)
    return {"llama": (llama, export_onnx(str(llama), out=root / "llama-onnx", config=config).folder),
            "bart": (bart, export_onnx(str(bart), out=root / "bart-onnx", config=config).folder)}


def _constraint(specials, eos):
    """Taking numbers back, and refusing to swap one for another, are our departures from
    ``prefix_allowed_tokens_fn`` (transformers has no such rules): off here, where the mask
    itself is compared; on random weights they trigger at once (their own tests are above)."""
    texts = TokenTexts.from_strings(PARITY_TEXTS, specials=specials)
    return SpanConstraint([SpanIndex.build(s, common_words=STOP) for s in SOURCES], texts,
                          end_ids=[eos], config=ConstraintConfig(number_gap=None, name_gap=None))


def _allowed_fn(reference, start):
    """transformers' ``prefix_allowed_tokens_fn`` from the string check over every id."""
    def fn(batch_id, input_ids):
        generated = input_ids.tolist()[start:]
        return [t for t in range(VOCAB_SIZE) if reference.permits(batch_id, generated, t)]
    return fn


@pytest.mark.parametrize("settings", [dict(num_beams=1), dict(num_beams=2), dict(num_beams=4)],
                         ids=lambda s: f"beams={s['num_beams']}")
def test_constrained_causal_decoding_equals_transformers_with_the_same_allowed_tokens(exported, settings):
    ckpt, folder = exported["llama"]
    prompt = np.array([[1, 40, 41, 52, 7], [1, 9, 30, 22, 64]])  # two documents, no padding
    model = CausalOnnx.load(folder)
    config = model.generation_config.override(max_new_tokens=14, **settings)
    ours_free = generate(model, model.start(np.ones_like(prompt), repeat=config.num_beams), prompt, config)
    constraint = _constraint([0, 1, 2], eos=2)
    ours = generate(model, model.start(np.ones_like(prompt), repeat=config.num_beams), prompt, config,
                    constraint=constraint).sequences
    with torch.no_grad():
        theirs = AutoModelForCausalLM.from_pretrained(ckpt).eval().generate(
            input_ids=torch.tensor(prompt), attention_mask=torch.ones(prompt.shape, dtype=torch.long),
            do_sample=False, max_new_tokens=14, pad_token_id=2, **settings,
            prefix_allowed_tokens_fn=_allowed_fn(_constraint([0, 1, 2], eos=2), prompt.shape[1])).numpy()
    np.testing.assert_array_equal(ours, theirs)
    assert not np.array_equal(ours, ours_free.sequences)  # the constraint changed something


@pytest.mark.parametrize("settings", [dict(num_beams=1), dict(num_beams=3)],
                         ids=lambda s: f"beams={s['num_beams']}")
def test_constrained_seq2seq_decoding_equals_transformers_with_the_same_allowed_tokens(exported, settings):
    ckpt, folder = exported["bart"]
    ids = np.array([[0, 40, 41, 52, 7, 2], [0, 9, 30, 22, 64, 2]])
    mask = np.ones_like(ids)
    model = Seq2SeqOnnx.load(folder)
    config = model.generation_config.override(max_new_tokens=12, **settings)
    start = np.full((2, 1), config.decoder_start_token_id)

    def ours(constraint=None):
        state = model.start(model.encode(ids, mask), mask, repeat=config.num_beams)
        return generate(model, state, start, config, constraint=constraint).sequences

    with torch.no_grad():  # bart forces the end token at the last step: the mask must let it
        theirs = AutoModelForSeq2SeqLM.from_pretrained(ckpt).eval().generate(
            input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), do_sample=False,
            max_new_tokens=12, **settings,
            prefix_allowed_tokens_fn=_allowed_fn(_constraint([0, 1, 2, 3], eos=2), 1)).numpy()
    constrained = ours(_constraint([0, 1, 2, 3], eos=2))
    np.testing.assert_array_equal(constrained, theirs)
    assert not np.array_equal(constrained, ours())
