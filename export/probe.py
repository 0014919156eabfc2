"""Run an exported folder's graphs on one input for two decoding steps, with ONNX Runtime.

The quantizer uses this to measure what int8 costs (fp32 logits against int8 logits on the
same sample). It is the smallest faithful use of the graphs: step 1 is the encoder plus the
decoder without past (or the causal model with an empty cache), step 2 feeds one token and
the cache step 1 returned. Input names are read from each session, never hard-coded, so
the same code serves every layout the manifest describes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import onnxruntime as ort

CACHE_IN, CACHE_OUT = "past_key_values.", "present."
_NUMPY_OF_ORT = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
                 "tensor(int64)": np.int64, "tensor(int32)": np.int32}


def open_session(path: Path) -> ort.InferenceSession:
    """A CPU session on one thread, so the numbers do not depend on the machine's cores."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: ORT warns about unused initializers
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _cache_output(input_name: str) -> str:
    """``past_key_values.0.decoder.key`` -> ``present.0.decoder.key``."""
    return CACHE_OUT + input_name[len(CACHE_IN):]


def _feed(session: ort.InferenceSession, known: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Pick each input the session declares from ``known``, cast to the declared type.

    Cache inputs are named ``past_key_values.*`` and filled from the ``present.*`` outputs
    of the previous step (same suffix), which ``known`` carries under their output names.
    """
    feed = {}
    for arg in session.get_inputs():
        key = _cache_output(arg.name) if arg.name.startswith(CACHE_IN) else arg.name
        if key not in known:
            raise KeyError(f"graph input {arg.name!r} has no value (have {sorted(known)})")
        feed[arg.name] = np.asarray(known[key], dtype=_NUMPY_OF_ORT.get(arg.type))
    return feed


def _run(session: ort.InferenceSession, known: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, _feed(session, known)), strict=True))


def _empty_cache(session: ort.InferenceSession) -> Dict[str, np.ndarray]:
    """Zero-length ``present.*`` tensors for a causal graph's first step.

    Shapes come from the declared ``(batch, kv_heads, past_len, head_dim)`` of each cache
    input; the symbolic batch becomes 1 and the symbolic past length 0.
    """
    cache = {}
    for arg in session.get_inputs():
        if arg.name.startswith(CACHE_IN):
            _, heads, _, head_dim = arg.shape
            cache[_cache_output(arg.name)] = np.zeros((1, heads, 0, head_dim),
                                                      dtype=_NUMPY_OF_ORT[arg.type])
    return cache


def _next(logits: np.ndarray, token: Optional[int]) -> np.ndarray:
    """The ``(1, 1)`` token of step 2: the given one, or the argmax of step 1's logits."""
    chosen = int(np.argmax(logits[0])) if token is None else token
    return np.asarray([[chosen]], dtype=np.int64)


def seq2seq_logits(graphs: Mapping[str, Path], *, input_ids: Sequence[int],
                   decoder_start_token_id: int,
                   next_token: Optional[int] = None) -> List[np.ndarray]:
    """Logits ``(1, vocab)`` of the first decoder step and, when a ``decoder_with_past``
    graph is given, of a second step fed ``next_token`` (default: step 1's argmax) and the
    cache step 1 returned. Pass the same ``next_token`` to compare two precisions."""
    ids = np.asarray([input_ids], dtype=np.int64)          # (1, src_len)
    mask = np.ones_like(ids)
    hidden = _run(open_session(graphs["encoder"]), {"input_ids": ids, "attention_mask": mask})
    known = {"encoder_hidden_states": hidden["last_hidden_state"], "encoder_attention_mask": mask,
             "input_ids": np.asarray([[decoder_start_token_id]], dtype=np.int64)}
    first = _run(open_session(graphs["decoder"]), known)
    steps = [first["logits"][:, -1, :]]
    if "decoder_with_past" in graphs:
        token = _next(steps[0], next_token)                # (1, 1)
        session = open_session(graphs["decoder_with_past"])
        second = _run(session, {**known, **first, "input_ids": token})
        steps.append(second["logits"][:, -1, :])
    return steps


def causal_logits(graphs: Mapping[str, Path], *, input_ids: Sequence[int],
                  next_token: Optional[int] = None) -> List[np.ndarray]:
    """Logits ``(1, vocab)`` of the prompt's last position (empty cache) and of one more
    step fed ``next_token`` (default: step 1's argmax) and the cache step 1 returned."""
    session = open_session(graphs["model"])
    ids = np.asarray([input_ids], dtype=np.int64)          # (1, n)
    n = ids.shape[1]
    known = {"input_ids": ids, "attention_mask": np.ones_like(ids),
             "position_ids": np.arange(n, dtype=np.int64)[None, :],
             **_empty_cache(session)}
    first = _run(session, known)
    token = _next(first["logits"][:, -1, :], next_token)
    known = {**first, "input_ids": token, "attention_mask": np.ones((1, n + 1), dtype=np.int64),
             "position_ids": np.asarray([[n]], dtype=np.int64)}
    second = _run(session, known)
    return [first["logits"][:, -1, :], second["logits"][:, -1, :]]
