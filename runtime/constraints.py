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

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Protocol, Sequence, Tuple

import numpy as np

from .span_index import BOUND, DEAD, ROOT, WORD, SpanIndex, is_wordish
from .token_texts import TokenTexts

__all__ = ["ConstraintConfig", "SpanConstraint", "SpanIndex", "TokenConstraint", "ranked"]
State = Tuple[int, bytes]  # (automaton state, bytes of a character not yet complete)


@dataclass(frozen=True)
class ConstraintConfig:
    first: int = 16  # tokens checked by string first, best scores first
    widest: int = 128  # the most checked by string before the whole vocabulary is masked


class TokenConstraint(Protocol):
    """What ``runtime/search.py`` calls once per step, after the logits processors."""

    def mask(self, generated: Sequence[Optional[Sequence[int]]], scores: np.ndarray, *,
             keep: int, group: int = 1) -> np.ndarray: ...


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
            found = self._best_allowed(doc, state, scores[row], keep)
            if found is not None:
                if np.isfinite(scores[row, found[0]]):
                    out[row] = -np.inf
                    out[row, found] = scores[row, found]
                continue
            allowed = np.ones(scores.shape[1], dtype=bool)  # ids past the vocabulary add no text
            allowed[: self.vocab.size] = self.allowed(doc, tokens)[: scores.shape[1]]
            if allowed.any() and np.isfinite(scores[row][allowed].max()):
                out[row, ~allowed] = -np.inf
        return out

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


def ranked(row: np.ndarray, k: int) -> List[int]:
    """The ``k`` best tokens of ``row``, best first, equal scores to the lower id."""
    if k >= row.shape[0]:
        return np.lexsort((np.arange(row.shape[0]), -row)).tolist()
    kth = np.partition(row, row.shape[0] - k)[row.shape[0] - k]
    over = np.flatnonzero(row > kth)
    over = over[np.lexsort((over, -row[over]))]
    ties = np.flatnonzero(row == kth)[: k - len(over)]
    return over.tolist() + ties.tolist()
