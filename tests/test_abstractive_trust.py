"""Summaries a reader can trust (``summarizer/abstractive/endings.py``, ``names.py``, and
their wiring into both summarizers): whole sentences, names and numbers only from the
document, and text that streams as it grows and shrinks.

Hand-made cases: ``end_whole`` on token lists whose texts are given, and scripted models
whose next token is known (``Positional``: a fixed text, one token per position;
``ByLastToken``: by the last token not taken back, with ``retract`` as a masked decoder-only
model has it), behind a real word-level tokenizer with a Metaspace decoder.
"""
from __future__ import annotations

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from runtime.config import GenerationConfig
from runtime.text import TextCodec
from summarizer.abstractive.decoder_only import LMSummarizer, SummaryPrompt
from summarizer.abstractive.endings import (Ending, SentenceStop, cut_at_word, end_whole,
                                            margin_tokens)
from summarizer.abstractive.names import names_note
from summarizer.abstractive.seq2seq import AbstractiveConfig, AbstractiveSummarizer, Progress
from summarizer.types import Budget, Document

WORDS = ["<pad>", "</s>", "<s>", "<unk>", "▁Summary:", "▁The", "▁dollar", "▁rose", ".", "▁It",
         "▁fell", "▁from", "▁$1", ".29", "▁on", "▁Friday", "▁Prices", "▁and", "▁to", "▁Monday",
         "▁Amanda", "▁will", "▁call", "▁Hannah", "▁Mr", "▁Ye", "amaman", "aman", "▁met",
         "▁Deutsche", "▁Boer", "sse", "se", "▁since", "▁the", "▁1", "990s", "2974", "▁early",
         "▁talks", "▁Thursday", ",", "▁Mr."]
ID = {w: i for i, w in enumerate(WORDS)}
EOS = ID["</s>"]


def _codec() -> TextCodec:
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.add_special_tokens(["<pad>", "</s>", "<s>"])
    return TextCodec(tok, pad_id=0)


CODEC = _codec()


def _ids(text: str):
    """Token ids of a text written with spaces between tokens ("rose ." -> ▁rose, .)."""
    return [ID[w] if w in ID else ID["▁" + w] for w in text.split()]


def _decode(tokens):
    return CODEC.token_text(list(tokens))


def _flat(summary) -> str:
    """A summary's text on one line (summaries hold one sentence a line)."""
    return " ".join(summary.text.split("\n"))


# -- end_whole on hand-made token lists -------------------------------------------------
@pytest.mark.parametrize("written, budget, limit, finished, text, how, over", [
    # the budget (8) falls inside the second sentence; the row ran one token past it
    # (the stop rule: that token shows the first sentence ended)
    ("The dollar rose . It fell from $1 .29", 8, 10, False, "The dollar rose.", "cut", 0),
    # no sentence ended within 6 tokens; the first ended at the 8th, the model ended it
    ("Prices rose from $1 .29 on Friday .", 6, 8, True,
     "Prices rose from $1.29 on Friday.", "finished", 2),
    # ... or the margin ran out just there: a full stop after a word ends a sentence
    ("Prices rose from $1 .29 on Friday .", 6, 8, False,
     "Prices rose from $1.29 on Friday.", "finished", 2),
    # none ended within the budget and its margin: the last whole word, never "$1"
    ("Prices rose from $1 .29 on", 5, 6, False, "Prices rose from $1.29", "word", 0),
    ("Prices rose from $1", 4, 4, False, "Prices rose from", "word", 0),
    # the repeat rule stopped the row short of the budget, inside a number
    ("Prices rose . It fell from $1 .29 and to $1", 40, 48, False, "Prices rose.", "cut", 0),
    # the model ended it: whole as it is, with or without a full stop
    ("Amanda will call Hannah", 10, 12, True, "Amanda will call Hannah", "whole", 0),
    ("The dollar rose .", 10, 12, True, "The dollar rose.", "whole", 0),
    # only what the margin added is dropped: the reader sees no cut
    ("The dollar rose . It", 4, 5, False, "The dollar rose.", "whole", 0),
    # "$1." at the length limit may be going on to "$1.29": not a sentence end
    ("The dollar rose . It fell from $1 .", 8, 8, False, "The dollar rose.", "cut", 0),
    # an abbreviation ends no sentence
    ("The dollar rose . Mr. Hannah fell", 6, 7, False, "The dollar rose.", "cut", 0),
])
def test_a_summary_ends_at_a_whole_sentence(written, budget, limit, finished, text, how, over):
    ending = end_whole(_ids(written), budget=budget, limit=limit, finished=finished,
                       decode=_decode, lang="en")
    assert (ending.text, ending.how, ending.over) == (text, how, over)


def test_the_notes_say_which_ending_in_plain_words():
    def note(written, budget, limit, finished):
        return end_whole(_ids(written), budget=budget, limit=limit, finished=finished,
                         decode=_decode, lang="en").note()

    assert note("The dollar rose . It fell from $1 .29", 8, 10, False) == (
        "Ended at the last whole sentence: the length limit fell inside the next one.")
    assert note("Prices rose . It fell from $1 .29 and to $1", 40, 48, False) == (
        "Ended at the last whole sentence: the model broke off the next one where it began "
        "repeating itself.")
    assert note("Prices rose from $1 .29 on Friday .", 6, 8, True) == (
        "Let the first sentence finish: it ran 2 tokens past the length limit.")
    assert Ending("Prices rose.", "finished", "model", over=1).note() == (
        "Let the first sentence finish: it ran 1 token past the length limit.")
    # a full stop one token past the budget is no cut and no overrun
    assert note("Prices rose from $1 .29 on Friday .", 7, 8, True) is None
    assert note("Prices rose from $1 .29 on", 5, 6, False) == (
        "No sentence ended within the length limit and a fifth more, so the summary stops "
        "mid-sentence, at its last whole word.")
    assert note("The dollar rose .", 10, 12, True) is None
    assert margin_tokens(8) == 2 and margin_tokens(100) == 20 and margin_tokens(1) == 1


def test_the_stop_rule_ends_a_row_past_its_budget_once_a_sentence_is_whole():
    stop = SentenceStop(_decode, 5, ["en", "en"])
    assert not stop(0, _ids("The dollar rose . It"))  # within the budget
    assert stop(0, _ids("The dollar rose . It fell"))  # past it, "The dollar rose." whole
    assert not stop(1, _ids("Prices rose from $1 .29"))  # no sentence ended yet
    assert not stop(1, _ids("Prices rose from $1 .29 on Friday ."))  # may go on ("$1.29."?)
    assert stop(1, _ids("Prices rose from $1 .29 on Friday . It"))
    assert not stop(1, _ids("Prices rose on Mr. Hannah"))  # an abbreviation


def test_cut_at_word_leaves_no_half_word_number_or_dangling_comma():
    assert cut_at_word("made from 2,00") == "made from"
    assert cut_at_word("rose to 1.2974, from 1") == "rose to 1.2974, from"
    assert cut_at_word("rose to 1.2974, 1") == "rose to 1.2974"
    assert cut_at_word("Alone") == "Alone"
    assert cut_at_word('He said "no," and') == 'He said "no,"'  # a closing quote stays
    assert cut_at_word("净利润为10.5") == "净利润为"


def test_names_note():
    assert names_note(0, 0) is None
    assert names_note(2, 0) == ("Names and numbers kept to the document: at 2 places the model "
                                "would have written a name or number otherwise, and the "
                                "document's was kept.")
    assert names_note(1, 1) == ("Names and numbers kept to the document: at 1 place the model "
                                "would have written a name or number otherwise, and the "
                                "document's was kept; 1 name or number the document does not "
                                "have was begun, taken back and left out.")


# -- scripted models behind the summarizers ----------------------------------------------
class Positional:
    """An encoder-decoder that writes ``target`` whatever it reads: at generated position
    p the logit of ``target[p]`` is 5, of ``second.get(p)`` 4, of the rest 0."""

    can_extend = True
    notes = ()

    def __init__(self, target, second=None):
        self.target, self.second = _ids(target) + [EOS], {p: ID[w] for p, w in (second or {}).items()}
        self.generation_config = GenerationConfig(decoder_start_token_id=ID["<s>"], eos_token_id=(EOS,),
                                                  pad_token_id=0, num_beams=1)

    def encode(self, ids, mask):
        return np.zeros(ids.shape + (1,), dtype=np.float32)

    def start(self, hidden, mask, *, repeat=1):
        return None

    def _logits(self, position):
        out = np.zeros(len(WORDS), dtype=np.float32)
        out[self.target[min(position, len(self.target) - 1)]] = 5.0
        if position in self.second:
            out[self.second[position]] = 4.0
        return out

    def extend(self, ids, state, n):
        t = ids.shape[1] - 1  # generated so far (the start token is not)
        return np.stack([[self._logits(t - n + 1 + k) for k in range(n)] for _ in ids]), state

    def step(self, ids, state):
        return self.extend(ids, state, 1)[0][:, -1], state

    def truncate(self, state, length):
        return state

    def reorder(self, state, index):
        return state


def _seq2seq(tmp_path, model, **settings):
    return AbstractiveSummarizer(AbstractiveConfig(model_dir=str(tmp_path), **settings),
                                 model=model, codec=CODEC)


MONEY = Document("Prices rose from $1.29 on Friday. The dollar rose. It fell from $1.29.", "en")


def test_a_summary_cut_by_its_length_ends_at_its_last_whole_sentence_and_streams(tmp_path):
    model = Positional("The dollar rose . It fell from $1 .29 on Friday .")
    summarizer = _seq2seq(tmp_path, model, max_new_tokens=8)
    events = []
    summary = summarizer(MONEY, Budget(sentences=1), on_progress=events.append)
    assert summary.text == "The dollar rose."
    assert "Ended at the last whole sentence: the length limit fell inside the next one." in summary.notes
    texts = [e.text for e in events]
    # token by token up to one past the budget (9 tokens: "$1.29" shows "rose." ended), then cut
    assert texts[:2] == ["", "The"] and texts[-2] == "The dollar rose. It fell from $1.29"
    assert texts[-1] == "The dollar rose." and events[-1] == Progress("The dollar rose.")
    assert summarizer(MONEY, Budget(sentences=1)) == summary  # streaming changes nothing
    # both rules off: the model's own first 8 tokens, as transformers' generate writes them
    plain = _seq2seq(tmp_path, model, max_new_tokens=8, whole_sentences=False, constrain_names=False)
    assert _flat(plain(MONEY, Budget(sentences=1))) == "The dollar rose. It fell from $1"
    assert not [n for n in plain(MONEY, Budget(sentences=1)).notes if n.startswith(("Ended", "Names"))]


def test_the_first_sentence_may_finish_within_the_margin(tmp_path):
    model = Positional("Prices rose from $1 .29 on Friday .")
    summary = _seq2seq(tmp_path, model, max_new_tokens=6)(MONEY, Budget(sentences=1))
    assert summary.text == "Prices rose from $1.29 on Friday."
    assert "Let the first sentence finish: it ran 2 tokens past the length limit." in summary.notes


YEAMAN = Document("Mr Yeaman met Deutsche Boerse on Friday.", "en")
MISSPELT = Document("Mr Yeamaman met Deutsche Boersse.", "en")


def test_names_come_from_each_document_of_a_batch_with_a_note(tmp_path):
    model = Positional("Mr Ye amaman met Deutsche Boer sse .", second={2: "aman", 5: "se"})
    summarizer = _seq2seq(tmp_path, model, max_new_tokens=20)
    many = summarizer.summarize_many([YEAMAN, MISSPELT], Budget(sentences=1))
    assert [s.text for s in many] == ["Mr Yeaman met Deutsche Boerse.", "Mr Yeamaman met Deutsche Boersse."]
    assert names_note(2, 0) in many[0].notes
    assert not [n for n in many[1].notes if n.startswith("Names")]
    assert [summarizer(d, Budget(sentences=1)) for d in (YEAMAN, MISSPELT)] == many
    free = _seq2seq(tmp_path, model, max_new_tokens=20, constrain_names=False)
    assert _flat(free(YEAMAN, Budget(sentences=1))) == "Mr Yeamaman met Deutsche Boersse."


def test_every_part_of_a_long_document_keeps_to_the_whole_document(tmp_path):
    """The name is only in the document's last sentence, far from the first parts: each
    part's summary still spells it as the document does."""
    doc = Document(" ".join(["The dollar rose."] * 6 + ["Mr Yeaman met Deutsche Boerse."]), "en")
    model = Positional("Mr Ye amaman met Deutsche Boer sse .", second={2: "aman", 5: "se"})
    summarizer = _seq2seq(tmp_path, model, max_new_tokens=9, max_input_tokens=12, batch_size=1,
                          long_documents="map-reduce")
    events = []
    summary = summarizer(doc, Budget(sentences=1), on_progress=events.append)
    assert any(n.startswith("Long article: summarized in ") for n in summary.notes)
    parts = {e.text for e in events if e.parts and e.text}
    assert "Mr Yeaman met Deutsche Boerse." in parts and not [p for p in parts if "amaman" in p]
    assert summary.text == "Mr Yeaman met Deutsche Boerse."


class ByLastToken:
    """A decoder-only model: logits from the last token not taken back (``retract``),
    ``PREFERS[token] = {next token: logit}``."""

    can_extend = True
    notes = ()

    def __init__(self, prefers):
        self.prefers = {ID[k]: {ID[t]: s for t, s in v.items()} for k, v in prefers.items()}
        self.generation_config = GenerationConfig(eos_token_id=(EOS,), pad_token_id=0, num_beams=1)

    def start(self, mask, *, repeat=1):
        return [set() for _ in range(len(mask) * repeat)]

    def _logits(self, last):
        out = np.zeros(len(WORDS), dtype=np.float32)
        for token, score in self.prefers.get(last, {EOS: 5}).items():
            out[token] = score
        return out

    def extend(self, ids, state, n):
        t = ids.shape[1]
        rows = []
        for i, row in enumerate(ids.tolist()):
            visible = [(c, tok) for c, tok in enumerate(row) if c not in state[i]]
            rows.append([self._logits([tok for c, tok in visible if c < t - n + k + 1][-1])
                         for k in range(n)])
        return np.stack(rows), state

    def step(self, ids, state):
        return self.extend(ids, state, 1)[0][:, -1], state

    def truncate(self, state, length):
        return state

    def retract(self, state, row, columns):
        state[row] |= set(columns)
        return state

    def reorder(self, state, index):
        return [state[i] for i in index]


def _lm(tmp_path, prefers, *, ngram=0, retries=0, **settings):
    prompt = SummaryPrompt("", " Summary:", 60, 30, "collapse", ngram, retries)
    return LMSummarizer(AbstractiveConfig(model_dir=str(tmp_path), **settings),
                        model=ByLastToken(prefers), codec=CODEC, prompt=prompt)


DECADE = {"▁Summary:": {"▁Prices": 5}, "▁Prices": {"▁rose": 5}, "▁rose": {"▁since": 5},
          "▁since": {"▁the": 5}, "▁the": {"▁1": 5, "▁early": 3},
          "▁1": {"990s": 9, ".": 1},  # the model means "1990s"; the source has only 1.2974
          "990s": {".": 5}, ".": {"</s>": 5, "2974": 1},
          "2974": {"▁on": 5}, "▁on": {"▁Thursday": 5}, "▁Thursday": {".": 5},
          "▁early": {"▁talks": 5}, "▁talks": {".": 5}}
TALKS = Document("Prices rose to 1.2974 on Thursday, since the early talks.", "en")


def test_a_number_the_document_cannot_continue_is_taken_back_and_the_text_shrinks(tmp_path):
    summarizer = _lm(tmp_path, DECADE)
    events = []
    summary = summarizer(TALKS, Budget(words=20), on_progress=events.append)
    assert summary.text == "Prices rose since the early talks."
    assert names_note(0, 1) in summary.notes
    texts = [e.text for e in events]
    assert "Prices rose since the 1" in texts
    at = texts.index("Prices rose since the 1")
    assert texts[at + 1] == "Prices rose since the"  # taken back: the text shrinks
    assert summarizer(TALKS, Budget(words=20)) == summary
    # both rules off: the model's own text
    free = _lm(tmp_path, DECADE, constrain_names=False, whole_sentences=False)
    assert _flat(free(TALKS, Budget(words=20))) == "Prices rose since the 1990s."


REPEATING = {"▁Summary:": {"▁Prices": 5}, "▁Prices": {"▁rose": 5}, "▁rose": {".": 5},
             ".": {"▁It": 5}, "▁It": {"▁fell": 5}, "▁fell": {"▁from": 5}, "▁from": {"▁$1": 5},
             "▁$1": {".29": 5}, ".29": {"▁and": 5}, "▁and": {"▁to": 5}, "▁to": {"▁$1": 5}}


def test_a_summary_the_repeat_rule_ends_inside_a_number_ends_at_its_last_whole_sentence(tmp_path):
    """"$1.29 and" again: the repeat rule keeps the repeat's first token, "$1"."""
    doc = Document("Prices rose. It fell from $1.29 and to $1.29.", "en")
    free = _lm(tmp_path, REPEATING, ngram=3, whole_sentences=False)
    assert _flat(free(doc, Budget(words=20))) == "Prices rose. It fell from $1.29 and to $1"
    summary = _lm(tmp_path, REPEATING, ngram=3)(doc, Budget(words=20))
    assert summary.text == "Prices rose."
    assert ("Ended at the last whole sentence: the model broke off the next one where it began "
            "repeating itself.") in summary.notes


def test_the_last_word_cut_never_empties_a_summary():
    from summarizer.abstractive.endings import end_whole

    words = {1: ",", 2: " ,", 3: " train"}
    ending = end_whole([1, 2, 3], budget=3, limit=3, finished=False,
                       decode=lambda ids: "".join(words[i] for i in ids), lang="en")
    assert ending.text == ", , train"


def test_a_single_capital_letter_is_no_common_word_in_english():
    """English's stop list holds every letter: "X" then ended as a word where the document
    has only Xstrata ("X strata", docs/QUALITY.md)."""
    from runtime.span_index import BOUND, DEAD

    from summarizer.abstractive.names import common_words, span_index

    assert {"a", "i"} <= common_words("en") and "x" not in common_words("en")
    index = span_index("Xstrata made a bid. A rival said so.", "en")
    for text, may_end in (("X", False), ("Xstrata", True), ("A", True), ("I", True)):
        state = index.run(BOUND, text)
        assert state != DEAD and index.can_end(state) is may_end, text
    assert index.run(BOUND, "X strata") == DEAD
