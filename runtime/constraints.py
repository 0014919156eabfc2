"""Names and numbers only from the source: a decoding constraint over token strings.

Once the model has started a capitalised word, a number or an amount (a word that opens
with an uppercase letter, a digit or a currency sign), every token that would make that
word stop being a prefix of a word of the same kind in the source is masked, and the word
may end (a space, punctuation or the end token) only where a source word ends: "Yeama"
may go on to "Yeaman" but not to "Yeamaman", "2,00" may not end. Lower-case words are
never constrained.

It is trie-constrained decoding in the manner of GENRE (De Cao et al. 2021, "Autoregressive
Entity Retrieval"), whose ``prefix_allowed_tokens_fn`` is the reference interface
(transformers' ``PrefixConstrainedLogitsProcessor``); unlike lexically constrained
decoding (Hokamp & Liu 2017 grid beam search; Post & Vilar 2018) nothing is forced into
the output, a word is only kept to the source's spelling once it has begun. Departures:

* **Strings, not token ids.** The trie holds the source's words as text and every
  vocabulary token's text is run through it, because the model may spell a name with other
  tokens than the source's tokenization (" Boer" + "se" or " Bo" + "erse").
* **Words, not spans.** Each word of a multi-word name is an entry of its own, so "Deutsche
  Boerse" may go on word by word, and "Boerse" alone is allowed too (the faithfulness check
  also judges names word by word).
* **Common words at a sentence start.** "The" or "However" are capitalised but no name:
  the title-case form of every lower-case word of the source and of every stop word passed
  in (``common_words``) is an entry too. A capitalised common word the source lacks is
  refused, as a name it lacks would be.
* **Amounts.** A number may be written without its thousands separators ("2000" for
  "2,000"); letters may follow a whole number ("10bn", "1990s", "5th"), digits may not.
* **Check the best tokens first.** Masking all ~49k tokens of SmolLM2 by string at every
  step is slow, so a row checks its best-scored tokens in score order until ``keep`` are
  allowed (greedy: 1, beam search: the 2K continuations it ranks per row); only when none
  of the first ``ConstraintConfig.widest`` fit does it mask the whole vocabulary, with a
  vectorized run of the trie over every token (``SpanIndex.scan``), cached per state. Both
  give the search the tokens a full mask would: the best ``keep`` allowed ones.
* **Numbers are taken back, not turned into others** (greedy search). Kept to the source,
  a number the model meant differently becomes a different source number: "since the
  1990s" became "since the 1.2974 on Thursday", "increased by 1.5%" became "by 10.8%"
  (BBC validation), false statements that the faithfulness check no longer sees. So
  inside a number, where the model's own choice is refused (it scores more than
  ``ConstraintConfig.number_gap`` above the best token left) and would go on with the
  number differently (a digit, a letter, a separator: "1" + "." of "1.5"), ``take_back``
  names where the number began; the search takes it back (as it takes back repeats,
  ``runtime/search.py``) and bans every token that opens a number there. Where the model
  would end the number early ("2,00" and a space, the source has 2,000) it is completed,
  as a misspelt name is. Where a number would open, one the model prefers but the source
  lacks is not swapped for another source number: numbers are refused there. The gap is
  0 (any refusal) because small gaps changed meaning too: the model's own choice scored
  only 1.0 and 1.7 above the source's in the two "1.5%" cases, 9.6 for "1990s"
  (``bench/constraint_cost.py``, 12 BBC validation summaries; docs/BENCHMARKS.md).
* **Names are corrected, not taken back** (``ConstraintConfig.name_gap``, None: never).
  In the same summaries every refused name was the model misspelling the source's
  ("Turk" + "cells" for Turkcell, gap 3.3; "Turkcel" + " said", 10.7; "Sumitom" + "ats",
  6.3; "Tele" + "Com", 3.7): the source's spelling is the right fix, whatever the gap.
  Taking them back at a gap of 5 dropped a true sentence ("Turkcell said ...").
  Beam search needs neither rule (a beam forced into a poor word loses to the others),
  and a seq2seq export without a decoder attention mask cannot hide a row's tokens:
  there a number once begun is kept to the source.
* **Never a dead end.** A row whose allowed tokens all score -inf (masked by another rule:
  a forced BOS/EOS, a banned n-gram, the end token before ``min_length``) is left as it
  was, where transformers would leave it all -inf; so the mask can be applied after
  forced BOS/EOS with the same effect as before them. Tokens that the repeat rule of
  greedy search bans (-1e9, not -inf) stay candidates: a row that can only repeat itself
  or break a number repeats, and the repeat rule ends it. (Left free instead, BBC
  validation's business/002 wrote "$1,2" for the article's $1.2974.)

The source's entries and the automaton that reads text against them are in
``runtime/span_index.py``; each token's text comes from ``runtime/token_texts.py``.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Protocol, Sequence, Tuple

import numpy as np

from .span_index import (BOUND, CURRENCY, DEAD, DIGIT, LOWER, NUMSEP, ROOT, SEP, UPPER, WORD,
                         SpanIndex, char_kind, is_wordish)
from .token_texts import TokenTexts

__all__ = ["ConstraintConfig", "SpanConstraint", "SpanIndex", "TokenConstraint", "ranked"]
State = Tuple[int, bytes]  # (automaton state, bytes of a character not yet complete)


@dataclass(frozen=True)
class ConstraintConfig:
    first: int = 16  # tokens checked by string first, best scores first
    widest: int = 128  # the most checked by string before the whole vocabulary is masked
    # Greedy search: a number is taken back (models that can take tokens back), or not
    # swapped for another where it would open, where the model's own best token scores
    # more than this (in log-probability) above the best the source allows; None: never.
    number_gap: Optional[float] = 0.0
    # The same for capitalised words; None: the source's spelling is kept (the model's
    # misspellings are what the constraint is for; see the module docstring).
    name_gap: Optional[float] = None
    take_backs: int = 8  # the most words taken back (or numbers refused) per document


class TokenConstraint(Protocol):
    """What ``runtime/search.py`` calls once per step, after the logits processors."""

    def mask(self, generated: Sequence[Optional[Sequence[int]]], scores: np.ndarray, *,
             keep: int, group: int = 1) -> np.ndarray: ...

    def take_back(self, doc: int, generated: Sequence[int], scores: np.ndarray,
                  masked: np.ndarray) -> Optional[Tuple[int, Sequence[int]]]: ...


class SpanConstraint:
    """The constraint for a batch: ``indexes[b]`` is document b's ``SpanIndex``; rows of
    the search belong to documents in blocks of ``group`` (beam search: ``num_beams``).
    ``end_ids``: the end tokens (the generation config's eos; the tokenizer's special
    tokens are added), allowed only where the text may stop."""

    def __init__(self, indexes: Sequence[SpanIndex], vocab: TokenTexts, *,
                 end_ids: Iterable[int] = (),
                 config: ConstraintConfig = ConstraintConfig()) -> None:
        self.indexes, self.vocab, self.config = list(indexes), vocab, config
        self.end_ids = frozenset(int(t) for t in end_ids) | vocab.specials
        self._states: List[Dict[Tuple[int, ...], State]] = [{} for _ in self.indexes]
        self._scans: List[Dict[int, np.ndarray]] = [{} for _ in self.indexes]
        # per document: (tokens before, token written) where greedy search's own choice
        # was refused; (tokens before, first token) of each word taken back
        self._changed: List[List[Tuple[Tuple[int, ...], int]]] = [[] for _ in self.indexes]
        self._taken: List[List[Tuple[Tuple[int, ...], int]]] = [[] for _ in self.indexes]

    @property
    def takes_back(self) -> bool:
        """Whether greedy search should ask ``take_back`` (a gap is set)."""
        return self.config.number_gap is not None or self.config.name_gap is not None

    def state(self, doc: int, generated: Sequence[int]) -> State:
        """The automaton's state after ``generated``, cached by prefix (the search asks
        for each prefix's state after its parent's). A word the source lacks that is
        already written (a forced token, a row left unconstrained) reads as a free word:
        the constraint picks up again at the next word."""
        cache, key = self._states[doc], tuple(int(t) for t in generated)
        state = cache.get(key)
        if state is None:
            parent = cache.get(key[:-1]) if key else None
            state, todo = (parent, key[-1:]) if parent is not None else ((BOUND, b""), key)
            for token in todo:
                state = self._advance(doc, state, token, lenient=True)
            cache[key] = state
        return state

    def _advance(self, doc: int, state: State, token: int, *, lenient: bool = False) -> State:
        """The state after ``token``; DEAD if the token breaks a word (``lenient``: the
        word goes on as a free one)."""
        if token in self.end_ids or token >= self.vocab.size:
            return state
        s, pending = state
        text, pending = self.vocab.join(pending, token)
        index = self.indexes[doc]
        for c in text:
            nxt = index.step(s, c)
            if nxt == DEAD:
                if not lenient:
                    return DEAD, b""
                nxt = WORD if is_wordish(c) else BOUND
            s = nxt
        if pending and not lenient and not self.indexes[doc].may_follow(s, pending):
            return DEAD, b""
        return s, pending

    def _ok(self, doc: int, state: State, token: int) -> bool:
        if token in self.end_ids:
            return not state[1] and self.indexes[doc].can_end(state[0])
        return self._advance(doc, state, token)[0] != DEAD

    def permits(self, doc: int, generated: Sequence[int], token: int) -> bool:
        """Whether ``token`` may follow ``generated``, checked by string (the reference
        that ``allowed`` and ``mask`` agree with)."""
        return self._ok(doc, self.state(doc, generated), token)

    def allowed(self, doc: int, generated: Sequence[int]) -> np.ndarray:
        """(V,) bool, the whole vocabulary: vectorized over whole-character tokens (cached
        per state), by string for the rest."""
        state = self.state(doc, generated)
        s, pending = state
        if pending:  # inside a character: rare, by string
            return np.array([self._ok(doc, state, t) for t in range(self.vocab.size)])
        scans = self._scans[doc]
        if s not in scans:
            out = self.indexes[doc].scan(s, self.vocab)
            for t in self.vocab.partial:
                out[t] = self._ok(doc, state, t)
            out[list(self.vocab.empty)] = True
            ends = [t for t in self.end_ids if t < self.vocab.size]
            out[ends] = self.indexes[doc].can_end(s)
            scans[s] = out
        return scans[s]

    def mask(self, generated: Sequence[Optional[Sequence[int]]], scores: np.ndarray, *,
             keep: int, group: int = 1) -> np.ndarray:
        """``scores`` (N, V) with, in each row that ``generated`` gives tokens for (None:
        leave the row), every token masked (-inf) but at least the ``keep`` best allowed
        ones in the search's order (score, then the lower id); the ``keep`` best allowed
        tokens are then the search's best ``keep`` tokens of the row."""
        out = scores.copy()
        for row, tokens in enumerate(generated):
            if tokens is None:
                continue
            doc = row // group
            state = self.state(doc, tokens)
            out[row] = self._masked(doc, state, tokens, scores[row], keep)
            if keep > 1:
                continue
            best, chosen = int(scores[row].argmax()), int(out[row].argmax())
            if chosen == best:
                continue
            before = tuple(int(t) for t in tokens)
            if self._swaps_numbers(doc, state, best, chosen, scores[row], out[row]):
                other = scores[row].copy()
                other[self._openers(other.shape[0])] = -np.inf
                refused = self._masked(doc, state, tokens, other, keep)
                if np.isfinite(refused.max()):  # else a number is all the row may write
                    out[row] = refused
                    self._taken[doc].append((before, best))
                    continue
            self._changed[doc].append((before, chosen))  # greedy: the model's choice refused
        return out

    def _masked(self, doc: int, state: State, tokens: Sequence[int], row: np.ndarray,
                keep: int) -> np.ndarray:
        """``row`` with every token masked but at least the ``keep`` best allowed ones."""
        out = row.copy()
        found = self._best_allowed(doc, state, row, keep)
        if found is not None:
            if np.isfinite(row[found[0]]):
                out[:] = -np.inf
                out[found] = row[found]
            return out
        allowed = np.ones(row.shape[0], dtype=bool)  # ids past the vocabulary add no text
        allowed[: self.vocab.size] = self.allowed(doc, tokens)[: row.shape[0]]
        if allowed.any() and np.isfinite(row[allowed].max()):
            out[~allowed] = -np.inf
        return out

    def _ends_word(self, token: int) -> bool:
        """Whether ``token`` would end the word being written rather than go on with it
        differently: an end token, or text that opens with a space or punctuation other
        than a number's separators (a token that is part of a character: goes on)."""
        if token in self.end_ids:
            return True
        text = self.vocab.texts[token] if token < self.vocab.size else ""
        return bool(text) and char_kind(text[0]) not in (UPPER, DIGIT, LOWER, SEP)

    def _openers(self, width: int) -> np.ndarray:
        """(width,) bool: the tokens that open a number (``number_openers``)."""
        out = np.zeros(width, dtype=bool)
        opens = number_openers(self.vocab)
        out[: min(width, len(opens))] = opens[:width]
        return out

    def _swaps_numbers(self, doc: int, state: State, best: int, chosen: int,
                       scores: np.ndarray, masked: np.ndarray) -> bool:
        """Whether the model's refused ``best`` would open a number and ``chosen`` opens a
        source number in its place, by more than ``config.number_gap``, with numbers
        refused there being still within ``config.take_backs``."""
        gap = self.config.number_gap
        if gap is None or len(self._taken[doc]) >= self.config.take_backs:
            return False
        if state[0] > NUMSEP or state[1]:  # inside a word already: ``take_back``'s case
            return False
        opens = self._openers(scores.shape[0])
        return bool(opens[best] and opens[chosen]) and float(scores[best] - masked[chosen]) > gap

    def take_back(self, doc: int, generated: Sequence[int], scores: np.ndarray,
                  masked: np.ndarray) -> Optional[Tuple[int, Sequence[int]]]:
        """What greedy search should take back: (the position in ``generated`` of the first
        token of the word being written, the tokens to ban there), when the row is inside
        a word of the index and its best allowed token (``masked``, this row after
        ``mask``) scores more than the gap for its kind (``config.number_gap``, ``name_gap``)
        below its best token (``scores``, before ``mask``). A number's ban is every token
        that opens a number (the model meant one the source lacks: another would be false);
        a name's, its first token. None otherwise, and once ``config.take_backs`` words of
        this document were taken back. Each is remembered (``taken_back``)."""
        s = self.state(doc, generated)[0]
        if s <= NUMSEP or len(self._taken[doc]) >= self.config.take_backs:
            return None
        numeric = self.indexes[doc].numeric[s]
        gap = self.config.number_gap if numeric else self.config.name_gap
        left = float(masked.max())
        if gap is None or not np.isfinite(left) or float(scores.max()) - left <= gap:
            return None
        if numeric and self._ends_word(int(scores.argmax())):
            return None  # "2,00" that the model would end: the source's "2,000" it is
        start = self.word_start(doc, generated)
        if start is None:
            return None
        first = int(generated[start])
        self._taken[doc].append((tuple(int(t) for t in generated[:start]), first))
        bans = np.flatnonzero(self._openers(scores.shape[0])).tolist() if numeric else []
        return start, sorted(set(bans) | {first})

    def word_start(self, doc: int, generated: Sequence[int]) -> Optional[int]:
        """The position in ``generated`` of the token in which the word of the index being
        written began; None outside such a word. The word's characters are the trie path
        to the state; tokens are counted back until they hold that many characters."""
        s = self.state(doc, generated)[0]
        if s <= NUMSEP:
            return None
        depth = 0
        while s != ROOT:  # every entry hangs from ROOT
            s = self.indexes[doc].parent[s][0]
            depth += 1
        chars, j = 0, len(generated)
        while j > 0 and chars < depth:
            j -= 1
            chars += len(self.vocab.texts[generated[j]]) if generated[j] < self.vocab.size else 0
        return j

    def corrections(self, doc: int, tokens: Sequence[int]) -> int:
        """How many of ``tokens`` (greedy search's output for document ``doc``) were written
        where the model's own choice was refused."""
        tokens = tuple(int(t) for t in tokens)
        return sum(1 for before, token in set(self._changed[doc])
                   if tokens[:len(before) + 1] == before + (token,))

    def taken_back(self, doc: int, tokens: Sequence[int]) -> int:
        """How many words were taken back, or numbers refused where they would open, on the
        way to ``tokens``."""
        tokens = tuple(int(t) for t in tokens)
        return sum(1 for before, first in set(self._taken[doc])
                   if tokens[:len(before)] == before and tokens[len(before):len(before) + 1] != (first,))

    def _best_allowed(self, doc: int, state: State, row: np.ndarray,
                      keep: int) -> Optional[List[int]]:
        """The ``keep`` best allowed tokens by string, among at most ``config.widest`` of
        the best-scored; None when that many are not among them, or when the whole mask is
        the cheaper way: it is cached for this state, or beam search (``keep`` > 1) is
        inside a word that may not end yet, where few tokens fit."""
        if keep == 1:
            best = int(row.argmax())
            if self._ok(doc, state, best):
                return [best]
        s, index = state[0], self.indexes[doc]
        inside = s > ROOT and not index.end[s] and index.fallback[s] == DEAD
        if not state[1] and (s in self._scans[doc] or (keep > 1 and inside)):
            return None
        size, checked, found = self.config.first, 0, []
        order: List[int] = []
        while len(found) < keep and checked < row.shape[0] and checked < self.config.widest:
            if checked == len(order):
                order = ranked(row, min(size, row.shape[0]))
                size *= 8
            for t in order[checked:]:
                checked += 1
                if self._ok(doc, state, t):
                    found.append(t)
                    if len(found) == keep:
                        return found
        return None


_OPENERS: "weakref.WeakKeyDictionary[TokenTexts, np.ndarray]" = weakref.WeakKeyDictionary()


def number_openers(vocab: TokenTexts) -> np.ndarray:
    """(V,) bool: tokens whose text's first character after spaces is a digit or a currency
    sign (" 1", "1990", "$"), once per vocabulary."""
    if vocab not in _OPENERS:
        out = np.zeros(vocab.size, dtype=bool)
        for t, text in enumerate(vocab.texts):
            text = text.lstrip()
            out[t] = bool(text) and char_kind(text[0]) in (DIGIT, CURRENCY)
        _OPENERS[vocab] = out
    return _OPENERS[vocab]


def ranked(row: np.ndarray, k: int) -> List[int]:
    """The ``k`` best tokens of ``row``, best first, equal scores to the lower id."""
    if k >= row.shape[0]:
        return np.lexsort((np.arange(row.shape[0]), -row)).tolist()
    kth = np.partition(row, row.shape[0] - k)[row.shape[0] - k]
    over = np.flatnonzero(row > kth)
    over = over[np.lexsort((over, -row[over]))]
    ties = np.flatnonzero(row == kth)[: k - len(over)]
    return over.tolist() + ties.tolist()
