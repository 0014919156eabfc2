"""Abstractive summaries from a decoder-only model fine-tuned to summarize.

A folder from ``python -m training lm-summary`` (or the default summarizer, prepared from
SmolLM2 and the adapter in ``assets/``) holds a causal-LM export plus
``condense_summary.json``: the text before and after the article that the model was trained
on. The prompt is built from ids exactly as in training (``prefix + article + suffix``,
each tokenized on its own), the summary is the greedy (or beam) continuation up to the end
token. Everything else, budgets, notes and the handling of documents longer than
``max_source_tokens``, is ``AbstractiveSummarizer``'s.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from runtime.causal import CausalOnnx, context_length, left_pad
from runtime.config import DecodingLimits, GenerationConfig
from runtime.errors import ModelFileError
from runtime.search import generate
from runtime.session import SessionConfig
from runtime.text import TextCodec

from summarizer.abstractive.length import cued_sentence_room, tokens_per_word, wanted_words
from summarizer.abstractive.seq2seq import AbstractiveConfig, AbstractiveSummarizer
from summarizer.errors import CondenseError
from summarizer.types import Budget

FORMAT_FILE = "condense_summary.json"


FORMAT = "condense-summary-prompt"
# 2 added article_whitespace (version 1 files read as "keep"); 3 added length_cue (earlier
# files read as none)
FORMAT_VERSION = 3
WORDS = "{words}"  # where a length cue takes the number of words wanted


@dataclass(frozen=True)
class SummaryPrompt:
    """How an article becomes a prompt: written by training, read back at inference."""

    prefix: str
    suffix: str
    max_source_tokens: int  # article tokens kept in training (longer: see long_documents)
    max_target_tokens: int  # summary tokens trained on, end token included
    # "collapse": every whitespace run in the article becomes one space. Summaries are
    # sentences joined by spaces; if the article keeps its paragraph breaks, a model that
    # copies a sentence ending a paragraph finds no way on (the break never occurs in
    # summaries) and starts the summary over: it loops. Measured in BENCHMARKS.md.
    article_whitespace: str = "keep"
    # Greedy decoding ends where the summary starts repeating this many tokens it already
    # wrote (``GenerationConfig.stop_repeat_ngram_size``; 0 = off).
    stop_repeat_ngram_size: int = 0
    # ... after taking such a repeat back this many times and trying the next-best token
    # where it began (``GenerationConfig.repeat_retries``): the summary goes on with another
    # sentence instead of ending at the first repeat.
    repeat_retries: int = 0
    # Text between the article and ``suffix`` that tells the model how long to write, with
    # ``{words}`` for the number of words wanted ("\n\nLength: about {words} words."); ""
    # for none. Training writes the reference's own word count there, inference the
    # budget's (``length.wanted_words``): without it a model writes the length its
    # training data had on average, whatever the budget (docs/QUALITY.md).
    length_cue: str = ""

    def check(self) -> None:
        """ValueError for numbers no training writes (they would bound nothing, or hang)."""
        limits = DecodingLimits()
        for name, low, high in (("max_source_tokens", 8, limits.max_tokens),
                                ("max_target_tokens", 1, limits.max_tokens),
                                ("stop_repeat_ngram_size", 0, limits.max_ngram),
                                ("repeat_retries", 0, limits.max_retries)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name} {value} is outside {low}..{high}")
        if self.length_cue and self.length_cue.count(WORDS) != 1:
            raise ValueError(f"length_cue {self.length_cue!r} does not hold {WORDS} once")

    def cue(self, words: Optional[int]) -> str:
        """The length cue asking for ``words`` words; "" without a cue or a number."""
        if not self.length_cue or words is None:
            return ""
        return self.length_cue.replace(WORDS, str(max(1, int(words))))

    def article(self, text: str) -> str:
        return " ".join(text.split()) if self.article_whitespace == "collapse" else text

    def to_json(self) -> str:
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}
        return json.dumps(meta, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def read(cls, folder: str | Path) -> "SummaryPrompt":
        path = Path(folder) / FORMAT_FILE
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT or meta.get("format_version") not in (1, 2, 3):
                raise ValueError(f"format {meta.get('format')!r} {meta.get('format_version')!r}")
            spacing = str(meta.get("article_whitespace", "keep"))
            if spacing not in ("keep", "collapse"):
                raise ValueError(f"article_whitespace {spacing!r}")
            prompt = cls(str(meta["prefix"]), str(meta["suffix"]), int(meta["max_source_tokens"]),
                         int(meta["max_target_tokens"]), spacing,
                         int(meta.get("stop_repeat_ngram_size", 0)),
                         int(meta.get("repeat_retries", 0)),
                         str(meta.get("length_cue", "")))
            prompt.check()
            return prompt
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
            said = " ".join(str(e).split())[:200]
            raise ModelFileError(path, f"unreadable summary prompt format ({said})",
                                 "Re-export the model with `python -m training lm-summary`") from e


def is_lm_summarizer(folder: str | Path) -> bool:
    return (Path(folder) / FORMAT_FILE).is_file()


@lru_cache(maxsize=4)
def load_lm(model_dir: str, device: str = "cpu", threads: int = 0) -> Tuple[CausalOnnx, TextCodec]:
    """As ``seq2seq.load_model``: a folder's problems raise ``ModelFileError``."""
    model = CausalOnnx.load(model_dir, SessionConfig(device=device, intra_op_threads=threads))
    eos = model.generation_config.eos_token_id
    pad = model.generation_config.pad_token_id
    codec = TextCodec.load(model_dir, pad_id=pad if pad is not None else (eos[0] if eos else 0))
    return model, codec


class LMSummarizer(AbstractiveSummarizer):
    name = "abstractive"

    def __init__(self, config: AbstractiveConfig, *, model: Optional[CausalOnnx] = None,
                 codec: Optional[TextCodec] = None, prompt: Optional[SummaryPrompt] = None,
                 ranker=None) -> None:
        self.config = config
        self.ranker = ranker  # long_documents="extract": the sentence ranker (None: the default)
        if model is None or codec is None:
            model, codec = load_lm(config.model_dir, config.device, config.threads)
        self.model, self.codec = model, codec
        self.prompt = prompt or SummaryPrompt.read(config.model_dir)
        encode = codec.tokenizer.encode
        self.prefix_ids = encode(self.prompt.prefix, add_special_tokens=False).ids
        self.suffix_ids = encode(self.prompt.suffix, add_special_tokens=False).ids
        # Articles longer than training's are read by their best sentences (or map-reduce)
        # rather than being cut.
        self.input_budget = config.max_input_tokens or self.prompt.max_source_tokens
        context = context_length(config.model_dir) if config.model_dir else None
        # the longest cue a budget asks (WORDS up to DecodingLimits' max tokens) is room too
        cue = encode(self.prompt.cue(DecodingLimits().max_tokens), add_special_tokens=False).ids
        overhead = len(self.prefix_ids) + len(cue) + len(self.suffix_ids) + self.input_budget
        self.max_output_tokens = (context - overhead) if context else None
        if self.max_output_tokens is not None and self.max_output_tokens < 8:
            raise CondenseError(f"{config.model_dir}: an input of {self.input_budget} tokens leaves "
                                f"no room to write in a context of {context}")

    def generation_config(self, max_new_tokens: int) -> GenerationConfig:
        # The model was trained on summaries up to max_target_tokens: a budget asks for at
        # most that much (the model stops at its end token anyway).
        config = super().generation_config(min(max_new_tokens, self.prompt.max_target_tokens))
        if config.num_beams == 1 and self.prompt.stop_repeat_ngram_size:
            config = config.override(stop_repeat_ngram_size=self.prompt.stop_repeat_ngram_size,
                                     repeat_retries=self.prompt.repeat_retries)
        return config

    def batch_rows(self, config: GenerationConfig) -> int:
        """One document at a time when decoding guesses (unless ``batch_size`` says
        otherwise): the built-in summarizer gains 3% from batches of 8 and 1.8-1.9x from
        guesses, which only single documents get (docs/BENCHMARKS.md)."""
        if self.config.batch_size is None and self.config.guesses(config):
            return 1
        return super().batch_rows(config)

    def wanted_words(self, budget: Budget, total: int, lang: str) -> Optional[int]:
        """The budget in words (``length.wanted_words``), but no more than the tokens the
        model may write hold (its training's ``max_target_tokens``, ``max_new_tokens``
        when set): a model asked for more would be cut off mid-sentence."""
        if not self.prompt.length_cue:
            return None
        limits = [self.prompt.max_target_tokens, self.config.max_new_tokens,
                  self.max_output_tokens]
        most = max(1, round(min(n for n in limits if n) / tokens_per_word(lang)))
        return min(wanted_words(budget, total, lang), most)

    def sentence_room(self, lang: str) -> int:
        """Room for a long first sentence when the model is asked for a length
        (``length.CUED_ROOM``): it aims at the words, the limit only catches a runaway."""
        return cued_sentence_room(lang) if self.prompt.length_cue else 0

    def encode(self, texts: Sequence[str], words: Optional[int] = None
               ) -> Tuple[np.ndarray, np.ndarray]:
        """Left-padded prompt ids and mask, as decoder-only models are batched: prefix,
        article, the length cue asking for ``words`` (if the model takes one), suffix;
        each tokenized on its own, as in training."""
        articles = [self.prompt.article(t) for t in texts]
        cue = self.prompt.cue(words)
        cue_ids = self.codec.tokenizer.encode(cue, add_special_tokens=False).ids if cue else []
        rows = [self.prefix_ids + e.ids + cue_ids + self.suffix_ids for e in
                self.codec.tokenizer.encode_batch(articles, add_special_tokens=False)]
        return left_pad(rows, self.codec.pad_id)

    def _decode(self, batch: List[str], config: GenerationConfig, *, on_kept, constraint,
                stop, words: Optional[int] = None) -> List[List[int]]:
        """The tokens that follow each prompt of one batch (end token included)."""
        ids, mask = self.encode(batch, words)
        state = self.model.start(mask, repeat=config.num_beams)
        drafter = self.config.drafter([row[m.astype(bool)] for row, m in zip(ids, mask)],
                                      ids.shape[1], config)
        result = generate(self.model, state, ids, config, drafter=drafter, constraint=constraint,
                          on_kept=on_kept, stop=stop)
        t0 = ids.shape[1]
        return [row[t0:t0 + n] for row, n in zip(result.sequences.tolist(), result.lengths.tolist())]

    def _tidy(self, text: str, config: GenerationConfig) -> str:
        return drop_repeats(text) if config.stop_repeat_ngram_size else text


_CLOSERS = ".!?\"'”’)"
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'”’)]))\s+")
NEAR_REPEAT = 40  # letters in a row that make a sentence a repeat of an earlier one
MIN_NEAR = 20  # shorter sentences are dropped only as exact repeats


def drop_repeats(text: str) -> str:
    """``text`` without sentences it already said, and without a last fragment (no full
    stop) that begins one of them: what is left where decoding stopped on a repeat.

    "Already said" is judged on letters and digits only, lower-cased: a sentence goes when
    it shares a run of ``NEAR_REPEAT`` of them with an earlier one (or, if shorter, is
    contained in one). Decoding that is refused an exact repeat (``repeat_retries``)
    sometimes writes the same sentence again with spaces dropped ("the third leading" as
    "thethird leading"); token n-grams miss that, this does not. Two different article
    sentences rarely share 40 letters in a row."""
    kept: List[str] = []  # sentences, whitespace normalized, in order
    letters: List[str] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        key = " ".join(sentence.split())
        if not key:
            continue
        plain = _letters(key)
        if key in kept or (len(plain) >= MIN_NEAR and any(_shares_run(plain, k) for k in letters)):
            continue
        kept.append(key)
        letters.append(plain)
    if kept and kept[-1][-1] not in _CLOSERS and any(k.startswith(kept[-1]) for k in kept[:-1]):
        kept.pop()
    return " ".join(kept)



def _letters(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _shares_run(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` share ``NEAR_REPEAT`` characters in a row (all of ``a``'s,
    when it is shorter)."""
    from difflib import SequenceMatcher

    need = min(NEAR_REPEAT, len(a))
    match = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    return match.size >= need
