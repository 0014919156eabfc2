"""An exported decoder-only language model (GPT-2, Llama, ...) as a step model for ``search``.

Folder layouts, both as Optimum writes them (``python -m export onnx MODEL --task causal-lm``
writes the first):

* ``model.onnx``: one graph that takes the cache as input. The first step feeds the whole
  prompt with a cache of length 0; every later step feeds the tokens the cache lacks (the
  newest, or it and the guesses greedy search checks with it) and the ``present.*``
  tensors of the step before as ``past_key_values.*``;
* ``decoder_model.onnx`` (no cache input) + ``decoder_with_past_model.onnx``: Optimum's
  older layout. The first runs the prompt, the second every later step. A folder with only
  ``decoder_model.onnx`` re-runs the whole prefix at every step.

Batches are padded on the LEFT (padding first, then the prompt), as transformers pads
decoder-only models, so that every row's newest token sits in the last column. The
attention mask grows by one 1 per step and position ids are what transformers computes
(``cumsum(mask) - 1``, padding positions set to 1), so a padded row decodes exactly as it
would alone. Names are read from the sessions, never hard-coded: GPT-2 and Llama exports
order their inputs differently.

As in ``runtime/seq2seq.py`` the cache stays in onnxruntime's own tensors (``OrtValue``)
from step to step instead of round-tripping through numpy.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .config import GenerationConfig, read_generation_config, read_json
from .errors import ModelFileError
from .session import (SessionConfig, make_session, providers_for, require_io,
                      takes_several_tokens)

MERGED = "model.onnx"
DECODER, DECODER_WITH_PAST = "decoder_model.onnx", "decoder_with_past_model.onnx"
PAST, PRESENT = "past_key_values.", "present."
_NUMPY_OF_ORT = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
                 "tensor(double)": np.float64}


class CausalFolderError(ModelFileError):
    """A folder that is not an exported causal language model (files missing, or a graph
    whose cache shape nothing gives). Files that are there but broken raise
    ``ModelFileError`` itself (see ``runtime/session.py`` and ``runtime/config.py``)."""


@dataclass(frozen=True)
class CausalState:
    """Per-call decoding state; never shared between calls.

    ``mask``: (N, T) 1 for real tokens, 0 for left padding, over every position whose
    token has been fed so far; ``past``: how many positions the cache holds (0 before the
    first step); ``cache``: ``past_key_values.*`` -> OrtValue (N, kv_heads, past, head_dim).
    """

    mask: np.ndarray
    past: int = 0
    cache: Mapping[str, Any] = field(default_factory=dict)


def position_ids(mask: np.ndarray) -> np.ndarray:
    """transformers' positions for a left-padded batch: (N, T) int64, real tokens count
    0, 1, 2, ... from each row's first real token; padding positions hold 1."""
    pos = np.cumsum(mask, axis=-1, dtype=np.int64) - 1
    return np.where(mask == 0, 1, pos).astype(np.int64)


def left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> Tuple[np.ndarray, np.ndarray]:
    """(B, T) ids and attention mask of token rows padded on the left, as transformers
    batches decoder-only prompts (each row's last token is the one continued from)."""
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = r
        mask[i, width - len(r):] = 1
    return ids, mask


def _ort(x: np.ndarray):
    from onnxruntime import OrtValue

    return OrtValue.ortvalue_from_numpy(np.ascontiguousarray(x))  # no copy on the CPU


def _present_of(past: str) -> str:
    return PRESENT + past[len(PAST):]


def _past_of(present: str) -> str:
    return PAST + present[len(PRESENT):]


@dataclass(frozen=True)
class _Graph:
    """One session and the interface read from it."""

    session: Any
    inputs: Tuple[str, ...]
    cache_inputs: Tuple[Tuple[str, np.dtype, Tuple[Any, ...]], ...]  # (name, dtype, shape)
    outputs: Tuple[str, ...]

    @classmethod
    def of(cls, session) -> "_Graph":
        ins = session.get_inputs()
        cache = tuple((i.name, np.dtype(_NUMPY_OF_ORT.get(i.type, np.float32)), tuple(i.shape))
                      for i in ins if i.name.startswith(PAST))
        outs = tuple(o.name for o in session.get_outputs())
        return cls(session, tuple(i.name for i in ins), cache, outs)


class CausalOnnx:
    """Implements ``step``/``reorder`` of :class:`runtime.search.StepModel` for decoder-only
    models; ``start`` makes the state for a (left-padded) prompt batch."""

    def __init__(self, *, first, later=None, generation_config: GenerationConfig,
                 cache_shape: Optional[Tuple[int, int]] = None,
                 notes: Tuple[str, ...] = ()) -> None:
        """``first``: session of the first step (``model.onnx`` or ``decoder_model.onnx``);
        ``later``: session of cached steps (None: ``first`` serves them too, when it takes
        a cache, else every step re-runs the prefix); ``cache_shape``: (kv_heads, head_dim)
        for the empty cache when the graph's input shapes do not say."""
        self.first = _Graph.of(first)
        if later is not None:
            self.later: Optional[_Graph] = _Graph.of(later)
        else:  # model.onnx serves every step; a decoder without cache inputs re-runs the prefix
            self.later = self.first if self.first.cache_inputs else None
        self.generation_config = generation_config
        self.notes = notes
        self._empty = {name: self._empty_shape(name, shape, cache_shape) + (dtype,)
                       for name, dtype, shape in self.first.cache_inputs}

    @staticmethod
    def _empty_shape(name: str, shape: Tuple[Any, ...],
                     fallback: Optional[Tuple[int, int]]) -> Tuple[int, int]:
        if len(shape) != 4:
            raise CausalFolderError(None, f"the cache input {name} has shape {list(shape)}, not "
                                    "(batch, heads, length, head size)", "Re-export the model "
                                    "with `python -m export onnx MODEL --task causal-lm`")
        heads, head_dim = shape[1], shape[3]
        if isinstance(heads, int) and isinstance(head_dim, int):
            return heads, head_dim
        if fallback is None:
            raise CausalFolderError(
                None, f"the cache input {name} has no fixed head count or size and config.json "
                "does not give them", "Re-export the model with "
                "`python -m export onnx MODEL --task causal-lm`")
        return fallback

    @property
    def has_cache(self) -> bool:
        return self.later is not None

    @property
    def can_extend(self) -> bool:
        """Whether a cached step takes several new tokens (guessed ones): not where the
        graph fixes their number to 1, as exports of older Optimum versions do."""
        return self.later is None or takes_several_tokens(self.later.session)

    @classmethod
    def load(cls, path: Union[str, Path], config: SessionConfig = SessionConfig()) -> "CausalOnnx":
        path = Path(path)
        if not ((path / MERGED).is_file() or (path / DECODER).is_file()):
            raise CausalFolderError(
                path, f"not an exported causal language model (no {MERGED} or {DECODER})",
                f"Export it first: python -m export onnx MODEL --task causal-lm --out {path}")
        generation_config, limited = read_generation_config(path)  # settings first: cheap
        cache_shape = cache_shape_from_config(path)
        names = [MERGED] if (path / MERGED).is_file() else [DECODER, DECODER_WITH_PAST]
        sessions = []
        for name in names:
            if (path / name).is_file():
                sessions.append(make_session(path / name, config))
                require_io(sessions[-1], path / name)
        first, later = sessions[0], (sessions[1] if len(sessions) > 1 else None)
        _, note = providers_for(config.device)
        try:
            return cls(first=first, later=later, generation_config=generation_config,
                       cache_shape=cache_shape, notes=((note,) if note else ()) + limited)
        except CausalFolderError as e:  # name the folder the graph came from
            raise CausalFolderError(path, e.problem, e.fix) from e

    # -- decoding ----------------------------------------------------------------------
    def start(self, attention_mask: np.ndarray, *, repeat: int = 1) -> CausalState:
        """State for a prompt batch with mask (B, T), ``repeat`` rows per prompt (beams,
        row b * repeat + k, as transformers expands its inputs)."""
        mask = np.asarray(attention_mask, dtype=np.int64)
        if repeat > 1:
            mask = np.repeat(mask, repeat, axis=0)
        return CausalState(mask=mask)

    def step(self, ids: np.ndarray, state: CausalState) -> Tuple[np.ndarray, CausalState]:
        """ids: (N, t) every token so far, prompt included -> logits (N, V) for position t."""
        logits, state = self.extend(ids, state, 1)
        return logits[:, -1, :], state

    def extend(self, ids: np.ndarray, state: CausalState, last: int) -> Tuple[np.ndarray, CausalState]:
        """Runs the tokens of ``ids`` (N, t) that the cache does not hold yet -> logits
        (N, last, V) of the last ``last`` positions."""
        n, t = ids.shape
        grown = t - state.mask.shape[1]
        mask = state.mask if grown == 0 else np.concatenate(
            [state.mask, np.ones((n, grown), dtype=np.int64)], axis=1)  # generated tokens: 1
        cached = state.past if self.has_cache and state.cache else 0
        graph = self.later if cached else self.first
        known = {"input_ids": ids[:, cached:].astype(np.int64), "attention_mask": mask,
                 "position_ids": position_ids(mask)[:, cached:]}
        feed = {k: _ort(v) for k, v in known.items() if k in graph.inputs}
        if cached:
            feed.update({k: v for k, v in state.cache.items() if k in graph.inputs})
        else:
            for name, (heads, head_dim, dtype) in self._empty.items():
                if name in graph.inputs:
                    feed[name] = _ort(np.zeros((n, heads, 0, head_dim), dtype=dtype))
        wanted: List[str] = ["logits"] + ([o for o in graph.outputs if o.startswith(PRESENT)]
                                          if self.has_cache else [])
        outs = dict(zip(wanted, graph.session.run_with_ort_values(wanted, feed)))
        cache = {_past_of(k): outs[k] for k in wanted[1:]}
        logits = outs["logits"].numpy()[:, -last:, :]
        return logits, CausalState(mask=mask, past=t if cache else 0, cache=cache)

    def truncate(self, state: CausalState, length: int) -> CausalState:
        """The state for the first ``length`` columns (guesses the search rejected leave
        the cache and the mask). Not after ``retract`` in the same run: that may mark a
        column the cache does not hold yet, which this would unmark."""
        if state.cache and state.mask.shape[1] != state.past:
            raise ValueError("truncate after retract: truncate first (greedy search does)")
        if state.mask.shape[1] <= length:
            return state
        cache = {k: _ort(v.numpy()[:, :, :length]) for k, v in state.cache.items()}
        return CausalState(mask=state.mask[:, :length], past=min(state.past, length), cache=cache)

    def retract(self, state: CausalState, row: int, columns: Sequence[int]) -> CausalState:
        """Hide ``columns`` of ``row`` from every later step (greedy search taking a repeat
        back): their attention mask becomes 0, so later tokens neither attend to them nor
        count them in their positions; the cache keeps their entries, masked."""
        if "position_ids" not in self.first.inputs:  # it would count the hidden columns
            raise ValueError("this graph computes positions itself, so it cannot take tokens "
                             "back: use repeat_retries=0")
        width = max(max(columns) + 1, state.mask.shape[1])
        mask = np.concatenate([state.mask, np.ones((state.mask.shape[0], width - state.mask.shape[1]),
                                                    dtype=np.int64)], axis=1)
        mask[row, list(columns)] = 0
        return replace(state, mask=mask)

    def reorder(self, state: CausalState, index: np.ndarray) -> CausalState:
        if np.array_equal(index, np.arange(len(index))):
            return state
        cache = {k: _ort(v.numpy()[index]) for k, v in state.cache.items()}
        return replace(state, mask=state.mask[index], cache=cache)

    def all_logits(self, ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """One pass over whole sequences (N, T) -> logits (N, T, V) for every position
        (scoring, perplexity). Runs the first-step graph with an empty cache."""
        ids = np.asarray(ids, dtype=np.int64)
        mask = np.asarray(attention_mask, dtype=np.int64)
        known = {"input_ids": ids, "attention_mask": mask, "position_ids": position_ids(mask)}
        feed = {k: v for k, v in known.items() if k in self.first.inputs}
        for name, (heads, head_dim, dtype) in self._empty.items():
            feed[name] = np.zeros((ids.shape[0], heads, 0, head_dim), dtype=dtype)
        return self.first.session.run(["logits"], feed)[0]


def cache_shape_from_config(path: Union[str, Path]) -> Optional[Tuple[int, int]]:
    """(kv_heads, head_dim) from ``config.json``: ``num_key_value_heads`` (else the query
    head count) and ``head_dim`` (else hidden size / heads); GPT-2 names them n_head/n_embd."""
    data: Dict[str, Any] = read_json(Path(path) / "config.json")
    heads = _positive(data.get("num_attention_heads") or data.get("n_head"))
    hidden = _positive(data.get("hidden_size") or data.get("n_embd"))
    kv = _positive(data.get("num_key_value_heads")) or heads
    head_dim = _positive(data.get("head_dim")) or (hidden // heads if hidden and heads else None)
    if not (kv and head_dim):
        return None
    return kv, head_dim


def _positive(value: Any) -> Optional[int]:
    """``value`` if it is a whole number above 0 (not a bool, a string or a float), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def context_length(path: Union[str, Path]) -> Optional[int]:
    """The longest sequence the model was trained for (``max_position_embeddings``,
    ``n_positions`` or ``n_ctx`` of config.json), or None."""
    data = read_json(Path(path) / "config.json")
    for key in ("max_position_embeddings", "n_positions", "n_ctx"):
        v = _positive(data.get(key))
        if v and v < 10_000_000:
            return v
    return None
