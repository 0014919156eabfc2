"""An exported encoder-decoder (Optimum's file layout) as a step model for ``search``.

Folder: ``encoder_model.onnx``, ``decoder_model.onnx`` and, when the export has a cache,
``decoder_with_past_model.onnx``, plus ``config.json`` and ``generation_config.json``.
The first decoder step runs ``decoder_model`` on the whole decoder prompt and returns
the self-attention and cross-attention key/values (``present.*``); every later step
runs ``decoder_with_past_model`` on the tokens the cache lacks (the newest, or it and
the guesses greedy search checks with it), feeding each ``present.X`` back as
``past_key_values.X``. Names are read from the sessions, never hard-coded, so
any graph that follows that convention works. Without a with-past graph (BERT2BERT
exports) every step re-runs the decoder on the whole prefix.

The cache stays in onnxruntime's own tensors (``OrtValue``) from step to step: feeding
numpy arrays would copy every cross-attention key/value into the session on every step,
which on a 2-core CPU costs a third of a cached step.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from .config import GenerationConfig, read_generation_config, read_json
from .errors import ModelFileError
from .session import (SessionConfig, make_session, providers_for, require_io,
                      takes_several_tokens)

ENCODER, DECODER, DECODER_WITH_PAST = (
    "encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx")


class ModelFolderError(ModelFileError):
    """A folder that is not an exported seq2seq model (files missing). Files that are
    there but broken raise ``ModelFileError`` itself (see ``runtime/session.py`` and
    ``runtime/config.py``)."""


@dataclass
class DecoderState:
    encoder_hidden: np.ndarray  # (N, S, H)
    encoder_mask: np.ndarray  # (N, S) int64
    cache: Dict[str, Any] = field(default_factory=dict)  # past_key_values.* -> OrtValue
    past: int = 0  # how many decoder tokens the self-attention cache holds


def _ort(x: np.ndarray):
    from onnxruntime import OrtValue

    return OrtValue.ortvalue_from_numpy(np.ascontiguousarray(x))  # no copy on the CPU


def _past_name(present: str) -> str:
    return "past_key_values." + present[len("present."):]


class Seq2SeqOnnx:
    """Implements ``step``/``reorder`` of :class:`runtime.search.StepModel`, and
    ``extend``/``truncate`` for guessed tokens."""

    def __init__(self, *, encoder, decoder, decoder_with_past=None,
                 generation_config: GenerationConfig, notes: Tuple[str, ...] = ()) -> None:
        self.encoder = encoder
        self.decoder = decoder
        self.decoder_with_past = decoder_with_past
        self.generation_config = generation_config
        self.notes = notes
        self._decoder_inputs = {i.name for i in decoder.get_inputs()}
        self._present = [o.name for o in decoder.get_outputs() if o.name.startswith("present.")]
        if decoder_with_past is not None:
            self._past_inputs = {i.name for i in decoder_with_past.get_inputs()}
            self._past_outputs = [o.name for o in decoder_with_past.get_outputs()]

    @property
    def has_cache(self) -> bool:
        return self.decoder_with_past is not None and bool(self._present)

    @property
    def can_extend(self) -> bool:
        """Whether a cached step takes several new tokens (guessed ones): not where the
        graph fixes their number to 1, as exports of older Optimum versions do."""
        return not self.has_cache or takes_several_tokens(self.decoder_with_past)

    @classmethod
    def load(cls, path: Union[str, Path], config: SessionConfig = SessionConfig()) -> "Seq2SeqOnnx":
        path = Path(path)
        missing = [f for f in (ENCODER, DECODER) if not (path / f).is_file()]
        if missing:
            raise ModelFolderError(
                path, f"not an exported seq2seq model (missing {', '.join(missing)})",
                f"Export it first: python -m export onnx MODEL --out {path}")
        with_past = path / DECODER_WITH_PAST
        _, note = providers_for(config.device)
        generation_config, limited = read_generation_config(path)  # settings first: cheap
        encoder = make_session(path / ENCODER, config)
        require_io(encoder, path / ENCODER, outputs=())
        decoder = make_session(path / DECODER, config)
        require_io(decoder, path / DECODER)
        cached = None
        if with_past.is_file():
            cached = make_session(with_past, config)
            require_io(cached, with_past)
        return cls(encoder=encoder, decoder=decoder, decoder_with_past=cached,
                   generation_config=generation_config, notes=((note,) if note else ()) + limited)

    # -- encoder -----------------------------------------------------------------------
    def encode(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """(B, S) ids and mask -> (B, S, H) last hidden state."""
        feed = {"input_ids": input_ids.astype(np.int64), "attention_mask": attention_mask.astype(np.int64)}
        names = {i.name for i in self.encoder.get_inputs()}
        return self.encoder.run(None, {k: v for k, v in feed.items() if k in names})[0]

    def start(self, encoder_hidden: np.ndarray, attention_mask: np.ndarray, *, repeat: int = 1) -> DecoderState:
        """Decoder state for ``repeat`` rows per input row (beams, row-major per item)."""
        if repeat > 1:
            encoder_hidden = np.repeat(encoder_hidden, repeat, axis=0)
            attention_mask = np.repeat(attention_mask, repeat, axis=0)
        return DecoderState(encoder_hidden, attention_mask.astype(np.int64))

    # -- decoder steps -----------------------------------------------------------------
    def step(self, ids: np.ndarray, state: DecoderState) -> Tuple[np.ndarray, DecoderState]:
        """ids: (N, t) all decoder tokens so far -> logits (N, V) for position t."""
        logits, state = self.extend(ids, state, 1)
        return logits[:, -1, :], state

    def extend(self, ids: np.ndarray, state: DecoderState, n: int) -> Tuple[np.ndarray, DecoderState]:
        """Runs the tokens of ``ids`` (N, t) that the cache does not hold yet -> logits
        (N, n, V) of the last n positions (the next token after each of the last n)."""
        known = {"encoder_attention_mask": state.encoder_mask, "encoder_hidden_states": state.encoder_hidden}
        if state.cache and self.has_cache:
            known["input_ids"] = ids[:, state.past:].astype(np.int64)
            feed = {k: _ort(v) for k, v in known.items() if k in self._past_inputs}
            feed.update({k: v for k, v in state.cache.items() if k in self._past_inputs})
            outs = dict(zip(self._past_outputs, self.decoder_with_past.run_with_ort_values(self._past_outputs, feed)))
            cache = dict(state.cache)  # cross-attention entries stay from the first step
            cache.update({_past_name(k): v for k, v in outs.items() if k.startswith("present.")})
        else:
            known["input_ids"] = ids.astype(np.int64)
            feed = {k: _ort(v) for k, v in known.items() if k in self._decoder_inputs}
            wanted: List[str] = ["logits"] + (self._present if self.has_cache else [])
            outs = dict(zip(wanted, self.decoder.run_with_ort_values(wanted, feed)))
            cache = {_past_name(k): outs[k] for k in wanted[1:]}
        past = ids.shape[1] if cache else 0
        return outs["logits"].numpy()[:, -n:, :], replace(state, cache=cache, past=past)

    def truncate(self, state: DecoderState, length: int) -> DecoderState:
        """The state for the first ``length`` decoder tokens (guesses the search rejected
        leave the self-attention cache; cross-attention does not depend on them)."""
        if not state.cache or state.past <= length:
            return state
        cache = {k: (_ort(v.numpy()[:, :, :length]) if ".decoder." in k else v)
                 for k, v in state.cache.items()}
        return replace(state, cache=cache, past=length)

    def reorder(self, state: DecoderState, index: np.ndarray) -> DecoderState:
        """Beams move between parents of the same input only, so the encoder output and
        the cross-attention cache (identical for all beams of an input) stay as they are;
        only the decoder's self-attention cache follows the beams."""
        if np.array_equal(index, np.arange(len(index))):
            return state
        cache = {k: (_ort(v.numpy()[index]) if ".decoder." in k else v) for k, v in state.cache.items()}
        return replace(state, cache=cache)


def encoder_max_length(path: Union[str, Path]) -> Optional[int]:
    """The longest input the model was trained for, from its config or tokenizer config."""
    path = Path(path)
    for name, keys in (("config.json", ("max_position_embeddings", "n_positions")),
                       ("tokenizer_config.json", ("model_max_length",))):
        data = read_json(path / name)
        for k in keys:
            v = data.get(k)
            if isinstance(v, int) and not isinstance(v, bool) and 0 < v < 1_000_000:
                return v
    return None
