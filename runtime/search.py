"""Greedy and beam search over any step model, in numpy, token-identical to transformers.

A step model is anything with ``step(ids, state) -> (logits, state)``, where ``ids`` is
(N, t) with every token so far and ``logits`` is (N, V) for the next position, and
``reorder(state, index) -> state`` that makes row i of the new state row ``index[i]``
of the old one (beams change parents). The ONNX seq2seq and causal models implement it;
tests substitute a fake. Greedy search with guessed tokens also needs ``extend(ids, state,
n)`` (the logits of the last n positions, running every token the cache lacks) and
``truncate(state, length)``; taking tokens back (repeats, words a constraint refuses)
needs ``retract(state, row, columns)``.

The beam search follows transformers 4.57's vectorized ``_beam_search`` step for step
(top-2K continuations, running beams, finished-hypothesis merge, early-stop heuristic),
in float32, so that exported models produce the same tokens as ``generate``. Where
torch would break a tie between equal scores we take the lower index.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple

import numpy as np

from .config import GenerationConfig
from .constraints import TokenConstraint
from .drafting import Drafter
from .processors import apply_processors, log_softmax

BIG = np.float32(-1.0e9)  # transformers' "very negative" constant for masked beams


class StepModel(Protocol):
    def step(self, ids: np.ndarray, state: Any) -> Tuple[np.ndarray, Any]: ...

    def reorder(self, state: Any, index: np.ndarray) -> Any: ...


# Called with (row, token id) as soon as greedy search picks a token for an unfinished row.
TokenCallback = Callable[[int, int], None]
# Called with (row, the tokens it keeps so far) after each step of greedy search that wrote
# to the row: where greedy search takes tokens back, the list can shrink.
KeptCallback = Callable[[int, List[int]], None]
# Asked with (row, the tokens it keeps so far) after each token greedy search keeps for an
# unfinished row: True ends the row there, as an end token would (none is written).
StopRule = Callable[[int, List[int]], bool]


@dataclass(frozen=True)
class SearchOutput:
    sequences: np.ndarray  # (B, T) int64, decoder prompt included, padded as transformers pads
    scores: Optional[np.ndarray] = None  # (B,) length-normalized log-prob of beam search
    model_runs: Optional[int] = None  # greedy search: how many times it ran the model
    # (B,) tokens each row generated, its end token included: the rest of the row is
    # padding (which can be the end token itself, so the count tells where a row stopped)
    lengths: Optional[np.ndarray] = None


def _pad_id(config: GenerationConfig) -> int:
    if config.pad_token_id is not None:
        return config.pad_token_id
    if config.eos_token_id:
        return config.eos_token_id[0]  # transformers does the same, with a warning
    return 0


def _next_ask(asked: int, kept_all: bool, most: Optional[int]) -> int:
    """How many guesses to ask for after a run that asked for ``asked``: two more when it
    kept all it got, one fewer otherwise (at least one). Checking a guess is not free
    (each adds a position to the run, and the output layer's work grows with them), so
    the count follows how often guesses are right: transformers' "heuristic" schedule for
    assisted generation. Never above ``most``, the drafter's own limit, if it has one: a
    long run of right guesses must not leave a count that takes many runs to come down."""
    ask = asked + 2 if kept_all else max(1, asked - 1)
    return ask if most is None else min(ask, most)


class _Guesses:
    """The drafter's side of both greedy searches: one model run over the newest token and
    the guesses that fit, and how many to ask for next (``_next_ask``)."""

    def __init__(self, drafter: Optional[Drafter]) -> None:
        self.drafter = drafter
        self.ask: Optional[int] = None  # None until a run has checked guesses

    def run(self, model: StepModel, ids: np.ndarray, state: Any, *, room: int):
        """(draft (N, d), logits (N, d + 1, V), state): ``room`` guesses fit the length."""
        room = room if self.ask is None else min(self.ask, room)
        draft = self.drafter.propose(ids, room) if self.drafter is not None and room > 0 else ids[:, :0]
        if draft.shape[1]:
            logits, state = model.extend(np.concatenate([ids, draft], axis=1), state, draft.shape[1] + 1)
            return draft, logits, state
        logits, state = model.step(ids, state)
        return draft, logits[:, None, :], state

    def kept(self, draft: np.ndarray, last: int) -> None:
        """After a run whose tokens were written up to position ``last`` of its logits
        (``last == d``: every guess kept)."""
        if draft.shape[1]:
            self.ask = _next_ask(self.ask or draft.shape[1], last == draft.shape[1],
                                 getattr(self.drafter, "max_tokens", None))


def _takes_back(model: StepModel, config: GenerationConfig,
                constraint: Optional[TokenConstraint]) -> bool:
    """Whether greedy search may take back words that ``constraint`` refuses: it asks for
    it (``takes_back``), the model can hide tokens (``retract``), and no logits processor
    reads the tokens so far (they would see the ones taken back)."""
    return (bool(getattr(constraint, "takes_back", False)) and hasattr(model, "retract")
            and not config.no_repeat_ngram_size and config.repetition_penalty == 1.0)


def greedy_search(
    model: StepModel, state: Any, prompt: np.ndarray, config: GenerationConfig,
    *, on_token: Optional[TokenCallback] = None, drafter: Optional[Drafter] = None,
    constraint: Optional[TokenConstraint] = None, on_kept: Optional[KeptCallback] = None,
    stop: Optional[StopRule] = None,
) -> SearchOutput:
    """``prompt``: (N, t0) decoder prompt (the start token for seq2seq).

    With a ``drafter`` (``runtime/drafting.py``) each run of the model also checks the
    drafter's guesses for the next tokens: ``model.extend(ids, state, n)`` returns the
    logits of the last n positions of ``ids`` and ``model.truncate(state, length)`` drops
    the cache past ``length`` tokens. Every token is still the argmax of the processed
    logits at its position given the tokens before it, so the output is greedy search's;
    a batch keeps the guesses up to the first one that any unfinished row rejects. The
    number of guesses asked for follows how many were kept (``_next_ask``). A model whose
    ``can_extend`` is False gets no guesses.
    With ``stop_repeat_ngram_size``, or a constraint that takes words back, see
    ``_greedy_taking_back``. A ``constraint`` (``runtime/constraints.py``) masks each
    position's scores after the processors, given the tokens each unfinished row has
    generated; None leaves them as they are. ``on_kept`` and ``stop``: see
    ``KeptCallback`` and ``StopRule``; a row that ``stop`` ends is padded like one that
    wrote an end token."""
    if not getattr(model, "can_extend", True):  # its cached step takes one token only
        drafter = None
    if config.stop_repeat_ngram_size or _takes_back(model, config, constraint):
        return _greedy_taking_back(model, state, prompt, config, on_token=on_token,
                                   drafter=drafter, constraint=constraint, on_kept=on_kept,
                                   stop=stop)
    ids = np.asarray(prompt, dtype=np.int64)
    t0 = ids.shape[1]
    max_length = config.total_length(t0)
    eos = np.array(config.eos_token_id, dtype=np.int64)
    pad = _pad_id(config)
    unfinished = np.ones(ids.shape[0], dtype=bool)
    lengths = np.zeros(ids.shape[0], dtype=np.int64)
    runs, guesses = 0, _Guesses(drafter)
    while ids.shape[1] < max_length and unfinished.any():
        # guesses that fit: the run's last position yields one more token of its own
        draft, logits, state = guesses.run(model, ids, state, room=max_length - ids.shape[1] - 1)
        runs += 1
        for j in range(logits.shape[1]):
            scores = apply_processors(ids, logits[:, j].astype(np.float32, copy=False), config, prompt_length=t0)
            if constraint is not None:
                generated = [ids[r, t0:] if unfinished[r] else None for r in range(len(ids))]
                scores = constraint.mask(generated, scores, keep=1)
            nxt = scores.argmax(axis=-1).astype(np.int64)
            nxt = np.where(unfinished, nxt, pad)
            ids = np.concatenate([ids, nxt[:, None]], axis=1)
            live = np.flatnonzero(unfinished)
            lengths[live] += 1
            if on_token is not None:
                for row in live:
                    on_token(int(row), int(nxt[row]))
            if eos.size:
                unfinished &= ~np.isin(nxt, eos)
            if stop is not None or on_kept is not None:
                for row in live:
                    tokens = ids[row, t0:].tolist()
                    if stop is not None and unfinished[row] and stop(int(row), tokens):
                        unfinished[row] = False
                    if on_kept is not None:
                        on_kept(int(row), tokens)
            # the next position's logits saw draft[:, j]: valid while every live row chose it
            if (j == draft.shape[1] or not unfinished.any()
                    or not np.array_equal(nxt[unfinished], draft[unfinished, j])):
                break
        guesses.kept(draft, j)
        if draft.shape[1] and unfinished.any():
            state = model.truncate(state, ids.shape[1] - 1)  # the cache holds all but the newest
    return SearchOutput(ids, model_runs=runs, lengths=lengths)


@dataclass
class _Row:
    """One row of ``_greedy_taking_back``: the tokens it keeps and where they sit."""

    kept: List[int]
    columns: List[int]  # the column of ``ids`` each kept token was written to
    banned: Dict[int, set]  # kept position -> tokens it may no longer start with
    retries: int
    anchor: int  # the column holding the prompt's last token (written again after a take-back)
    seen: set = field(default_factory=set)  # the n-grams of ``kept`` checked so far
    forced: Optional[int] = None  # written next instead of the model's choice
    done: bool = False

    def repeats(self, n: int) -> bool:
        """Whether the newest n kept tokens occur earlier (overlapping them or not)."""
        if not n or len(self.kept) < n:
            return False
        gram = tuple(self.kept[-n:])
        if gram in self.seen:
            return True
        self.seen.add(gram)
        return False

    def would_repeat(self, token: int, n: int, eos: set) -> bool:
        """Whether keeping ``token`` next would make ``repeats`` true (without recording it)."""
        if not n or token in eos or len(self.kept) + 1 < n:
            return False
        return tuple(self.kept[len(self.kept) + 1 - n:] + [token]) in self.seen

    def cut(self, length: int, n: int) -> None:
        del self.kept[length:], self.columns[length:]
        self.seen = {tuple(self.kept[j:j + n]) for j in range(len(self.kept) - n + 1)} if n else set()

    def take_back(self, model: StepModel, state: Any, row: int, start: int, bans: Sequence[int],
                  column: int, n: int) -> Any:
        """Takes back the kept tokens from ``start`` on and bans ``bans`` there; the token
        before them (the prompt's last when ``start`` is 0), hidden with them, has just
        been written again at ``column``, so the next step gives position ``start``'s
        logits."""
        before = self.anchor if start == 0 else self.columns[start - 1]
        state = model.retract(state, row, [before] + self.columns[start:])
        self.banned = {k: v for k, v in self.banned.items() if k <= start}
        self.banned.setdefault(start, set()).update(int(t) for t in bans)
        self.cut(start, n)
        if start == 0:
            self.anchor = column
        else:
            self.columns[start - 1] = column
        return state


def _greedy_taking_back(
    model: StepModel, state: Any, prompt: np.ndarray, config: GenerationConfig,
    *, on_token: Optional[TokenCallback] = None, drafter: Optional[Drafter] = None,
    constraint: Optional[TokenConstraint] = None, on_kept: Optional[KeptCallback] = None,
    stop: Optional[StopRule] = None,
) -> SearchOutput:
    """Greedy search that takes tokens back: repeats, and words a constraint refuses.

    Repeats: with ``n = stop_repeat_ngram_size`` (0: off), a row may not repeat n tokens it
    generated. When a row's newest n tokens equal n earlier ones it keeps the first of them
    (often the full stop both follow) and then, while ``repeat_retries`` last, takes the
    rest back and writes its next-best token where the repeat began; after that, it ends.

    Words (a ``constraint`` whose ``takes_back``, on a model with ``retract``): where
    ``constraint.take_back`` names the position a refused word began at and the tokens
    to ban there, the row takes the word back and writes the token before it again; that
    token's logits are position ``start``'s, where the tokens are now banned. Where
    nothing is taken back, the tokens are ``greedy_search``'s.

    Taking tokens back needs ``model.retract(state, row, columns)``, which hides those
    columns from every later step (an attention mask of 0, so positions skip them too);
    the first step after it feeds the kept token again to get that position's logits back.
    Finished rows are written out without the columns taken back. Tokens reach
    ``on_token`` only once a row has finished, when none can be taken back any more;
    ``on_kept`` is told a row's kept tokens after every step (they may shrink).
    ``min_new_tokens`` counts the columns written, taken back or not.

    A ``drafter`` works as in ``greedy_search``; a run's guesses also end where a row
    takes tokens back (the logits after it saw them), and the cache drops the rejected
    guesses before the row's columns are hidden.

    A ``constraint`` sees each row's kept tokens (not those taken back) and masks after
    the tokens a retry or a take-back bans: a banned token is picked only where every
    allowed one is banned (then the repeat counts again, and the row ends when its retries
    are spent).
    """
    n = config.stop_repeat_ngram_size
    retries = config.repeat_retries if n else 0
    takes_back = _takes_back(model, config, constraint)
    if retries and not hasattr(model, "retract"):
        raise ValueError(f"{type(model).__name__} cannot take tokens back: use repeat_retries=0")
    if retries and (config.no_repeat_ngram_size or config.repetition_penalty != 1.0):
        raise ValueError("repeat_retries does not combine with no_repeat_ngram_size or "
                         "repetition_penalty (they would see the tokens taken back)")
    ids = np.asarray(prompt, dtype=np.int64)
    t0 = ids.shape[1]
    budget = config.total_length(t0) - t0
    eos = set(config.eos_token_id)
    pad = _pad_id(config)
    rows = [_Row(kept=[], columns=[], banned={}, retries=retries, anchor=t0 - 1)
            for _ in range(ids.shape[0])]
    runs, guesses = 0, _Guesses(drafter)
    while any(not r.done for r in rows):
        room = min(budget - len(r.kept) for r in rows if not r.done) - 1
        draft, logits, state = guesses.run(model, ids, state, room=room)
        runs += 1
        for j in range(logits.shape[1]):
            scores = apply_processors(ids, logits[:, j].astype(np.float32, copy=False), config, prompt_length=t0)
            nxt = np.full(len(rows), pad, dtype=np.int64)
            free = [not r.done and r.forced is None for r in rows]  # the model picks their token
            for row, scored, picks in zip(rows, scores, free):
                banned = row.banned.get(len(row.kept)) if picks else None
                if banned:
                    scored[list(banned)] = BIG
            back: List[Any] = [None] * len(rows)  # (where a refused word began, bans there)
            if constraint is not None:
                kept = [r.kept if picks else None for r, picks in zip(rows, free)]
                masked = constraint.mask(kept, scores, keep=1)
                if takes_back:
                    back = [constraint.take_back(i, r.kept, scores[i], masked[i]) if picks else None
                            for i, (r, picks) in enumerate(zip(rows, free))]
                scores = masked
            for i, row in enumerate(rows):
                if row.done:
                    continue
                if row.forced is not None:
                    nxt[i], row.forced = row.forced, None
                elif back[i] is not None:  # the token before the word, written again
                    start = back[i][0]
                    nxt[i] = int(prompt[i, -1]) if start == 0 else row.kept[start - 1]
                else:
                    nxt[i] = int(scores[i].argmax())
            column = ids.shape[1]
            ids = np.concatenate([ids, nxt[:, None]], axis=1)
            live = [i for i, row in enumerate(rows) if not row.done]
            last = (j == draft.shape[1] or any(back[i] is not None for i in live)
                    or any(nxt[i] != draft[i, j] for i in live if int(nxt[i]) not in eos)
                    or any(rows[i].retries and rows[i].would_repeat(int(nxt[i]), n, eos) for i in live))
            if last and draft.shape[1]:
                state = model.truncate(state, ids.shape[1] - 1)  # before any row hides columns
            for i in live:
                row = rows[i]
                if back[i] is not None:
                    state = row.take_back(model, state, i, *back[i], column, n)
                    if on_kept is not None:
                        on_kept(i, list(row.kept))
                    continue
                row.kept.append(int(nxt[i]))
                row.columns.append(column)
                if int(nxt[i]) in eos:
                    row.done = True
                elif row.repeats(n):
                    start = len(row.kept) - n  # where the repeat begins; its first token stays
                    if row.retries:
                        row.retries -= 1
                        state = model.retract(state, i, row.columns[start:])
                        row.banned = {k: v for k, v in row.banned.items() if k <= start + 1}
                        row.banned.setdefault(start + 1, set()).add(row.kept[start + 1])
                        row.forced = row.kept[start]  # fed again: position start + 1's logits
                        row.cut(start, n)
                    else:
                        row.cut(start + 1, n)
                        row.done = True
                if len(row.kept) >= budget and row.forced is None:
                    row.done = True
                if not row.done and row.forced is None and stop is not None and stop(i, list(row.kept)):
                    row.done = True
                if on_kept is not None:
                    on_kept(i, list(row.kept))
                if row.done and on_token is not None:
                    for token in row.kept:
                        on_token(i, token)
            if last or all(r.done for r in rows):
                break
        guesses.kept(draft, j)
    width = max(len(r.kept) for r in rows)
    out = np.full((len(rows), t0 + width), pad, dtype=np.int64)
    out[:, :t0] = prompt
    for i, row in enumerate(rows):
        out[i, t0:t0 + len(row.kept)] = row.kept
    return SearchOutput(out, model_runs=runs, lengths=np.array([len(r.kept) for r in rows], dtype=np.int64))


def cut_at_repeat(tokens: Sequence[int], n: int) -> List[int]:
    """``tokens`` up to the first ``n`` that repeat ``n`` earlier ones, keeping only the
    first of them: what greedy search with ``stop_repeat_ngram_size=n`` keeps."""
    seen = set()
    for end in range(n, len(tokens) + 1):
        gram = tuple(tokens[end - n:end])
        if gram in seen:
            return list(tokens[:end - n + 1])
        seen.add(gram)
    return list(tokens)


def _top_k(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values per row, best first; equal values, also those
    straddling the k-th place, go to the lower index. O(V) per row, no full sort."""
    rows, v = x.shape
    if k >= v:
        return np.lexsort((np.tile(np.arange(v), (rows, 1)), -x), axis=-1)
    kth = np.take_along_axis(x, np.argpartition(-x, k - 1, axis=-1)[:, k - 1 : k], axis=-1)
    greater = x > kth
    ties = x == kth
    need = k - greater.sum(axis=-1, keepdims=True)
    chosen = greater | (ties & (np.cumsum(ties, axis=-1) <= need))
    idx = np.nonzero(chosen)[1].reshape(rows, k)  # row-major: k per row, ascending
    order = np.lexsort((idx, -np.take_along_axis(x, idx, axis=-1)), axis=-1)
    return np.take_along_axis(idx, order, axis=-1)


def _gather(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """x: (B, K, ...), idx: (B, K') -> (B, K', ...)."""
    return np.take_along_axis(x, idx.reshape(idx.shape + (1,) * (x.ndim - 2)), axis=1)


def beam_search(
    model: StepModel, state: Any, prompt: np.ndarray, config: GenerationConfig,
    *, constraint: Optional[TokenConstraint] = None,
) -> SearchOutput:
    """``prompt``: (B, t0); ``state`` must already hold B * num_beams rows, beam-major
    within each batch item (row b * K + k), as transformers expands its inputs. A
    ``constraint`` masks each row's log-probabilities after the processors, as
    transformers applies ``prefix_allowed_tokens_fn``; it keeps each row's best 2K."""
    K = config.num_beams
    B, t0 = prompt.shape
    max_length = config.total_length(t0)
    lp, early = config.length_penalty, config.early_stopping
    eos = np.array(config.eos_token_id, dtype=np.int64)
    keep = max(2, 1 + len(eos)) * K
    top_mask = np.arange(keep) < K
    pad = config.pad_token_id
    fill = pad if pad else (int(eos[0]) if eos.size else -1)  # transformers: `pad or eos[0]`

    running = np.full((B, K, max_length), fill, dtype=np.int64)
    running[:, :, :t0] = prompt[:, None, :]
    sequences = running.copy()
    running_scores = np.zeros((B, K), dtype=np.float32)
    running_scores[:, 1:] = BIG
    beam_scores = np.full((B, K), BIG, dtype=np.float32)
    finished = np.zeros((B, K), dtype=bool)
    improvable = np.ones((B, 1), dtype=bool)
    running_parents = np.full((B, K, max_length - t0), -1, dtype=np.int32)
    parents = running_parents.copy()
    cur = t0
    while True:
        flat = running[:, :, :cur].reshape(B * K, cur)
        logits, state = model.step(flat, state)
        logp = apply_processors(flat, log_softmax(logits), config, prompt_length=t0)
        if constraint is not None:
            logp = constraint.mask(flat[:, t0:], logp, keep=keep, group=K)
        V = logp.shape[-1]
        logp = (logp.reshape(B, K, V) + running_scores[:, :, None]).reshape(B, K * V)

        # c. top-2K continuations over all beams
        top = _top_k(logp, keep)
        top_logp = np.take_along_axis(logp, top, axis=-1)
        beam_of, token = top // V, top % V
        top_parents = _gather(running_parents, beam_of)
        top_seq = _gather(running, beam_of)
        top_seq[:, :, cur] = token
        top_parents[:, :, cur - t0] = beam_of + (np.arange(B)[:, None] * K)

        # d. which continuations stop here (max length or an end token)
        hits = np.full((B, keep), cur + 1 >= max_length) | np.isin(token, eos)

        # e. the best K that go on
        live = top_logp + hits.astype(np.float32) * BIG
        nxt = _top_k(live, K)
        running = _gather(top_seq, nxt)
        running_scores = np.take_along_axis(live, nxt, axis=-1)
        running_parents = _gather(top_parents, nxt)

        # f. merge newly finished hypotheses into the finished set
        just_done = hits & top_mask[None, :]
        cand = top_logp / np.float32((cur + 1 - t0) ** lp)
        full = finished.all(axis=1, keepdims=True) & (early is True)
        cand = cand + full.astype(np.float32) * BIG
        cand = cand + (~improvable).astype(np.float32) * BIG
        cand = cand + (~just_done).astype(np.float32) * BIG
        m_scores = np.concatenate([beam_scores, cand], axis=1)
        best = _top_k(m_scores, K)
        sequences = _gather(np.concatenate([sequences, top_seq], axis=1), best)
        beam_scores = np.take_along_axis(m_scores, best, axis=-1)
        parents = _gather(np.concatenate([parents, top_parents], axis=1), best)
        finished = np.take_along_axis(np.concatenate([finished, just_done], axis=1), best, axis=-1)

        # g. caches follow their beams; stopping rules for the search as a whole
        state = model.reorder(state, running_parents[:, :, cur - t0].reshape(-1))
        cur += 1
        hypo_len = (max_length if (early == "never" and lp > 0.0) else cur) - t0
        best_running = running_scores[:, :1] / np.float32(hypo_len ** lp)
        worst_done = np.where(finished, beam_scores.min(axis=1, keepdims=True), BIG)
        improvable = improvable & (best_running > worst_done).any(axis=-1, keepdims=True)
        open_beams = not (finished.all() and early is True)
        if not (improvable.any() and open_beams and not hits.all()):
            break

    out_parents = parents[:, 0, :]
    lengths = ((out_parents + 1) != 0).sum(axis=1).astype(np.int64)
    generated = int(lengths.max())
    return SearchOutput(sequences[:, 0, : t0 + generated], beam_scores[:, 0], lengths=lengths)


def generate(
    model: StepModel, state: Any, prompt: np.ndarray, config: GenerationConfig,
    *, on_token: Optional[TokenCallback] = None, drafter: Optional[Drafter] = None,
    constraint: Optional[TokenConstraint] = None, on_kept: Optional[KeptCallback] = None,
    stop: Optional[StopRule] = None,
) -> SearchOutput:
    """Greedy when ``num_beams == 1``, else beam search (``on_token``, ``on_kept``, ``stop``
    and ``drafter`` are greedy only: beam search knows its tokens only at the end, and
    stops by its own rules). ``constraint``: see ``runtime/constraints.py``; None (the
    default) decodes exactly as without it."""
    if config.num_beams == 1:
        return greedy_search(model, state, prompt, config, on_token=on_token, drafter=drafter,
                             constraint=constraint, on_kept=on_kept, stop=stop)
    return beam_search(model, state, prompt, config, constraint=constraint)
