"""Per-call decoding settings and the sampling loop over a step model.

``Decoding`` holds everything one ``generate`` call can set; it is frozen, so a default
instance can be shared by threads. ``sample_steps`` is the token loop for greedy and
sampled decoding (beam search is ``runtime.search.beam_search``): each step runs the model
once for every row and yields the rows' next tokens, so a caller can stream text as it is
made and end rows early (stop strings) by marking them in ``done``.

With ``temperature == 0`` it picks the argmax of the processed logits, which is exactly
``runtime.search.greedy_search`` (and transformers' greedy ``generate``).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Iterator, Optional, Sequence, Tuple, TypedDict, Union

import numpy as np

from runtime.config import DecodingLimits, GenerationConfig
from runtime.processors import ban_eos
from runtime.search import StepModel

from .errors import GenerationError
from .sampling import SamplingConfig, sample_next


@dataclass(frozen=True)
class Decoding:
    """What one call generates: length, sampling, beams, stop strings and seed.

    ``temperature`` 0 is greedy; ``num_beams`` > 1 is beam search, which is deterministic
    (it needs temperature 0). ``seed`` None draws fresh entropy: set it to reproduce.
    The field defaults are Condense's own, used only where the model folder says nothing
    (``generation/defaults.py`` gives the order settings come from)."""

    max_new_tokens: int = 128
    min_new_tokens: int = 0
    temperature: float = 0.7
    top_k: int = 50
    top_p: float = 0.9
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    num_beams: int = 1
    stop: Tuple[str, ...] = ()
    seed: Optional[int] = None

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise GenerationError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise GenerationError("min_new_tokens must be between 0 and max_new_tokens, "
                                  f"got {self.min_new_tokens}")
        beams = DecodingLimits().max_beams
        if not 1 <= self.num_beams <= beams:
            raise GenerationError(f"num_beams must be from 1 to {beams} (each beam is another "
                                  f"row through the model at every step), got {self.num_beams}")
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)
                                      or self.seed < 0):
            raise GenerationError(f"seed must be a whole number from 0 up, got {self.seed!r}: "
                                  "give another seed, or none for a fresh one")
        if self.num_beams > 1 and self.temperature != 0:
            raise GenerationError(
                f"beam search is deterministic: with num_beams={self.num_beams} use temperature 0 "
                "(or num_beams 1 to sample)")
        object.__setattr__(self, "stop", _stops(self.stop))
        try:
            self.sampling()
        except ValueError as e:
            raise GenerationError(str(e)) from e

    def sampling(self) -> SamplingConfig:
        return SamplingConfig(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
                              repetition_penalty=self.repetition_penalty,
                              no_repeat_ngram_size=self.no_repeat_ngram_size)

    def override(self, **changes: Any) -> "Decoding":
        """A copy with the given fields changed; None values are ignored. Asking for beams
        without a temperature switches sampling off (beam search is deterministic), and
        asking to sample without a number of beams switches beams off (the defaults may
        come from a model that asks for beam search)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise GenerationError(f"unknown decoding setting(s) {unknown}: use {sorted(known)}")
        given = {k: v for k, v in changes.items() if v is not None}
        if given.get("num_beams", 1) > 1 and "temperature" not in given:
            given["temperature"] = 0.0
        if given.get("temperature", 0) > 0 and "num_beams" not in given:
            given["num_beams"] = 1
        return replace(self, **given)

    def search_config(self, base: GenerationConfig, *, pad: int) -> GenerationConfig:
        """The beam-search settings: the model's own (length penalty, early stopping)
        with this call's length, penalties and beams."""
        return base.override(num_beams=self.num_beams, max_new_tokens=self.max_new_tokens,
                             min_new_tokens=self.min_new_tokens,
                             repetition_penalty=self.repetition_penalty,
                             no_repeat_ngram_size=self.no_repeat_ngram_size, pad_token_id=pad)


class Settings(TypedDict, total=False):
    """The keyword arguments of ``Generator.generate`` and friends: ``Decoding`` fields."""

    max_new_tokens: int
    min_new_tokens: int
    temperature: float
    top_k: int
    top_p: float
    repetition_penalty: float
    no_repeat_ngram_size: int
    num_beams: int
    stop: Union[str, Sequence[str]]
    seed: Optional[int]


def _stops(stop: Union[str, Sequence[str]]) -> Tuple[str, ...]:
    stops = (stop,) if isinstance(stop, str) else tuple(stop)
    if not all(isinstance(s, str) for s in stops):
        raise GenerationError(f"stop must be a string or a list of strings, got {stop!r}")
    return tuple(s for s in stops if s)


def sample_steps(model: StepModel, state: Any, prompt: np.ndarray, *, decoding: Decoding,
                 eos: Sequence[int], pad: int, rng: np.random.Generator,
                 done: np.ndarray) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """Yield ``(tokens, active)`` once per step: (N,) next tokens and the (N,) rows that
    were still generating at this step (finished rows get ``pad``, as transformers pads).

    ``prompt``: (N, t0) left-padded ids; ``state`` the model's state for it. A row is done
    after an ``eos`` token; the caller may also set ``done[row] = True`` between steps
    (a stop string). The loop ends at ``max_new_tokens`` or when every row is done.
    """
    ids = np.asarray(prompt, dtype=np.int64)
    eos_ids = np.asarray(list(eos), dtype=np.int64)
    sampling = decoding.sampling()
    for step in range(decoding.max_new_tokens):
        if done.all():
            return
        logits, state = model.step(ids, state)
        logits = logits.astype(np.float32, copy=False)
        if step < decoding.min_new_tokens and eos_ids.size:
            logits = ban_eos(logits, tuple(eos_ids.tolist()))
        tokens = sample_next(logits, ids, sampling, rng)
        active = ~done
        tokens = np.where(active, tokens, pad)
        ids = np.concatenate([ids, tokens[:, None]], axis=1)
        if eos_ids.size:
            done |= active & np.isin(tokens, eos_ids)
        yield tokens, active
