"""Draft tokens for speculative greedy decoding: guesses that the model checks in one run.

Greedy decoding runs the model once per token, and on a CPU a run over ten new tokens
costs far less than ten runs: most of a run's time goes to reading the weights, once per
run (bart-small fp32: ~12 ms for 11 positions against ~8.3 ms for one). So if someone
guesses the next few tokens, one run over all of them gives the model's logits at every
guessed position, and the guesses up to the first one the model would not have picked are
kept, together with the model's own token at that position (speculative decoding,
Leviathan et al. 2023, "Fast Inference from Transformers via Speculative Decoding"; Chen
et al. 2023). A guess only decides how many positions one run covers, never which token
is written: the output is greedy search's.

``PromptLookup`` guesses by copying (Saxena 2023, "Prompt Lookup Decoding", the
``prompt_lookup_num_tokens`` of transformers): it finds the newest few generated tokens
earlier in the source document or in the output so far and proposes what followed them
there. Summaries copy phrases from their articles, so the guesses are often right, and
guessing costs no second model.

Up to floating-point order, that is: a token computed in a run of several gets the same
logits as alone only up to the order in which kernels add things up (matrix products
take other code paths for one row than for several), about 1e-6 of a logit in fp32, so
a near-tie could in principle go the other way, as in transformers' assisted decoding.
Measured: identical summaries on 16 of 16 BBC articles (docs/BENCHMARKS.md) and in every
parity test. Dynamic int8 graphs differ in kind: ``DynamicQuantizeLinear`` picks one
activation scale for all the tokens of a run, so a token's logits move by the rounding
itself (``exact_in_one_run``), and the summarizer does not guess with them by default.

A drafter is anything with ``propose(ids, limit) -> (N, d)`` int64 drafts for the rows
of ``ids`` (every token so far), ``d <= limit``; rows without a guess are padded with
their last token (a wrong guess only costs its position in the run). It may say the most
it ever proposes (``max_tokens``), which caps how many the search asks for.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol, Sequence, Union

import numpy as np


class Drafter(Protocol):
    def propose(self, ids: np.ndarray, limit: int) -> np.ndarray: ...


@dataclass(frozen=True)
class LookupConfig:
    max_tokens: int = 10  # the longest guess: what transformers' prompt lookup proposes
    max_ngram: int = 3  # match the newest 3 tokens, else 2, else 1
    min_ngram: int = 1

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")
        if not 1 <= self.min_ngram <= self.max_ngram:
            raise ValueError(f"need 1 <= min_ngram <= max_ngram, got {self.min_ngram}, {self.max_ngram}")


class PromptLookup:
    """Drafts copied from ``sources`` (one token row per decoded row, without padding: the
    encoder input of a seq2seq model, the prompt of a decoder-only one) followed by what
    the row generated: its ids from column ``skip`` on (the decoder prompt's length)."""

    def __init__(self, sources: Sequence[Sequence[int]], *, skip: int,
                 config: LookupConfig = LookupConfig()) -> None:
        self.sources = [np.asarray(s, dtype=np.int64) for s in sources]
        self.skip = skip
        self.config = config

    @property
    def max_tokens(self) -> int:
        return self.config.max_tokens

    def propose(self, ids: np.ndarray, limit: int) -> np.ndarray:
        limit = min(limit, self.config.max_tokens)
        drafts = [self._row(i, row, limit) for i, row in enumerate(np.asarray(ids, dtype=np.int64))]
        width = max((len(d) for d in drafts), default=0)
        out = np.empty((len(drafts), width), dtype=np.int64)
        for i, d in enumerate(drafts):
            out[i, :len(d)] = d
            out[i, len(d):] = d[-1] if len(d) else ids[i, -1]
        return out

    def _row(self, i: int, row: np.ndarray, limit: int) -> np.ndarray:
        if limit < 1:
            return row[:0]
        own = row[self.skip:]
        hay = np.concatenate([self.sources[i], own])
        for n in range(min(self.config.max_ngram, len(own), len(hay) - 1), self.config.min_ngram - 1, -1):
            # the newest n tokens, looked for everywhere except where they end the haystack
            windows = np.lib.stride_tricks.sliding_window_view(hay[:-1], n)
            hits = np.flatnonzero((windows == hay[-n:]).all(axis=1))
            if hits.size:  # the first occurrence: in a summary, where the copy started
                start = int(hits[0]) + n
                return hay[start:start + limit]
        return row[:0]


@lru_cache(maxsize=32)
def exact_in_one_run(folder: Union[str, Path]) -> bool:
    """Whether the exported model at ``folder`` gives each token the logits it would get
    in a run of its own, so that guesses checked together leave greedy output unchanged:
    False for dynamic int8 exports (their manifest says so), True otherwise."""
    manifest = Path(folder) / "condense_manifest.json"
    try:
        quantization = json.loads(manifest.read_text(encoding="utf-8")).get("quantization") or {}
    except (OSError, ValueError, AttributeError):
        return True  # a folder exported elsewhere (Optimum's own): float graphs
    return not str(quantization.get("method", "")).startswith("dynamic")
