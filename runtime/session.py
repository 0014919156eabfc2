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

A graph onnxruntime will not load (an empty file, random bytes, a cut-off download, an
operator or opset it does not know, weights stored outside the model folder) raises a
``ModelFileError`` naming the file, what onnxruntime said and the fix, never onnxruntime's
own exception types: the command lines turn it into ``error: ...`` and exit status 2, the
app shows it.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple, Union

from .errors import ModelFileError

log = logging.getLogger(__name__)

DEVICES = ("cpu", "cuda")
STOP_SPINNING = "session.force_spinning_stop"
REEXPORT = ("Export the model again (python -m export onnx MODEL --out FOLDER) or copy the "
            "file again")
# onnxruntime's Python exceptions (onnxruntime.capi.onnxruntime_pybind11_state); each is a
# plain Exception subclass, one per status code. Read by name: the set differs by version.
_ORT_ERRORS = ("Fail", "InvalidArgument", "NoSuchFile", "NoModel", "EngineError",
               "RuntimeException", "InvalidProtobuf", "ModelLoaded", "NotImplemented",
               "InvalidGraph", "EPFail", "ModelLoadCanceled", "ModelRequiresCompilation",
               "NotFound")


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


def ort_errors() -> Tuple[type, ...]:
    """The exception types onnxruntime raises when it refuses a model or a run."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    return tuple(getattr(state, name) for name in _ORT_ERRORS if hasattr(state, name))


def _ort_message(error: Exception) -> str:
    """onnxruntime's message without its "[ONNXRuntimeError] : 1 : FAIL : " prefix, the
    model path it repeats, or source locations; one line, at most 300 characters."""
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", str(error).strip())
    text = re.sub(r"^Load model from .*? failed:", "", text)
    text = re.sub(r"/onnxruntime_src/\S+ ", "", text)
    text = " ".join(text.split())
    return text[:300] + ("…" if len(text) > 300 else "")


def refused(path: Union[str, Path], error: Exception, fix: str = REEXPORT) -> ModelFileError:
    """The typed error for a graph file onnxruntime refused with ``error``."""
    said = _ort_message(error)
    name = type(error).__name__
    if "External data path" in said and ("escapes" in said or "Absolute path" in said):
        return ModelFileError(
            path, f"its weights point outside the model folder, which onnxruntime refuses "
            f"({said})", "Keep the .onnx file and its external data files together in one "
            "folder, or export the model again (python -m export onnx MODEL --out FOLDER)")
    if "External data path does not exist" in said:
        return ModelFileError(path, f"a file of its weights is missing ({said})",
                              "Copy the graph's data files (.onnx_data, .data) next to it, or "
                              "export the model again")
    if name == "InvalidProtobuf":
        return ModelFileError(path, "is not an ONNX graph: onnxruntime cannot parse it (the file "
                              "is damaged, cut short or of another kind)", fix)
    return ModelFileError(path, f"onnxruntime cannot load it ({name}: {said})",
                          f"{fix}; a graph that needs newer operators needs a newer onnxruntime")


def make_session(path: Union[str, Path], config: SessionConfig = SessionConfig(), *,
                 fix: str = REEXPORT):
    """An InferenceSession for one graph, with the providers and threads of ``config``.
    Raises ``ModelFileError`` (naming ``path``, saying ``fix``) for a file onnxruntime
    refuses."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = config.intra_op_threads
    options.inter_op_num_threads = config.inter_op_threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry(STOP_SPINNING, "1")  # see the module docstring
    providers, note = providers_for(config.device)
    if note:
        log.warning(note)
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ModelFileError(path, "is empty (0 bytes)", fix)
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except OSError as e:  # gone since the caller looked, or unreadable
        raise ModelFileError(path, f"cannot be read ({e.strerror or e})", fix) from e
    except ort_errors() as e:
        raise refused(path, e, fix) from e


def require_io(session, path: Union[str, Path], *, inputs=("input_ids",), outputs=("logits",),
               fix: str = REEXPORT) -> None:
    """``ModelFileError`` unless the graph at ``path`` has these input and output names
    (a graph that loads but is not the kind the folder layout promises would otherwise
    fail with a KeyError or an onnxruntime error at the first step)."""
    have_in = {i.name for i in session.get_inputs()}
    have_out = {o.name for o in session.get_outputs()}
    missing = [n for n in inputs if n not in have_in] + [n for n in outputs if n not in have_out]
    if missing:
        raise ModelFileError(path, f"is not the graph this file name stands for: it lacks "
                             f"{', '.join(missing)} (it has inputs {sorted(have_in)}, outputs "
                             f"{sorted(have_out)[:6]})", fix)


def takes_several_tokens(session) -> bool:
    """Whether the session's ``input_ids`` has a second axis other than a fixed 1 (a
    cached decoder step that can run guessed tokens with the newest one)."""
    shape = next((i.shape for i in session.get_inputs() if i.name == "input_ids"), None)
    return not (shape is not None and len(shape) > 1 and shape[1] == 1)
