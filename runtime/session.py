"""ONNX Runtime sessions: execution providers and thread counts in one place.

Every session stops its threads spinning when a run ends. A seq2seq model is three
sessions run in turn (encoder, first decoder step, cached steps), each with its own
pool, and by default the workers of the one that just ran keep spinning, waiting for
more work, while the next one runs: on a 2-core machine they take a core from it.
Measured on bart-small int8 (``python bench/session_spin.py``, docs/BENCHMARKS.md): the
encoder took 66 ms right after a decoder step against 44 ms with the spinning stopped,
and a whole generation 0.30 s against 0.23 s. (onnxruntime's process-wide pool does about
as well, 0.22 s, but once it exists every session in the process must use it, other
libraries' included.)
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple, Union

log = logging.getLogger(__name__)

DEVICES = ("cpu", "cuda")
STOP_SPINNING = "session.force_spinning_stop"


@dataclass(frozen=True)
class SessionConfig:
    device: str = "cpu"  # "cuda" uses the CUDA provider when this onnxruntime has it
    intra_op_threads: int = 0  # 0 lets onnxruntime choose (one per physical core)
    inter_op_threads: int = 0

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")


def providers_for(device: str) -> Tuple[List[str], Optional[str]]:
    """Providers to ask for, and a note when the request cannot be met."""
    import onnxruntime as ort

    if device == "cuda":
        if "CUDAExecutionProvider" in ort.get_available_providers():
            return ["CUDAExecutionProvider", "CPUExecutionProvider"], None
        return ["CPUExecutionProvider"], (
            "CUDA was requested but this onnxruntime has no CUDA provider "
            "(install onnxruntime-gpu on a machine with a GPU); running on the CPU"
        )
    return ["CPUExecutionProvider"], None


def make_session(path: Union[str, Path], config: SessionConfig = SessionConfig()):
    """An InferenceSession for one graph, with the providers and threads of ``config``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = config.intra_op_threads
    options.inter_op_num_threads = config.inter_op_threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry(STOP_SPINNING, "1")  # see the module docstring
    providers, note = providers_for(config.device)
    if note:
        log.warning(note)
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)


def takes_several_tokens(session) -> bool:
    """Whether the session's ``input_ids`` has a second axis other than a fixed 1 (a
    cached decoder step that can run guessed tokens with the newest one)."""
    shape = next((i.shape for i in session.get_inputs() if i.name == "input_ids"), None)
    return not (shape is not None and len(shape) > 1 and shape[1] == 1)
