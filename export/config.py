"""What an export is asked to do (``ExportConfig``) and what it wrote (``ExportResult``).

Apart from ``onnx_export.py`` so that the routes without torch (a GGUF Llama written
directly, ``gguf_llama.py``) and the command line can use them without importing
transformers.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # quantize.py imports onnxruntime's quantizer: only for the annotation
    from .manifest import Manifest
    from .quantize import QuantizationReport

QUANTIZE_CHOICES = ("int8", "q4")
DEFAULT_SAMPLE = "The city council met on Monday and approved a new budget for the public library."
SAMPLE_MAX_TOKENS = 64


@dataclass(frozen=True)
class ExportConfig:
    """``task``: "seq2seq" or "causal-lm", None to infer from the config; ``quantize``:
    None, "int8" (dynamic) or "q4" (weight-only 4-bit blocks; see ``quantize.py``);
    ``validate``: let Optimum compare ONNX and PyTorch outputs on dummy inputs (it warns, it
    does not fail); ``fuse``: replace a BART-family model's decoder graphs with the fused
    ones of ``fused.py`` when they compute the same logits; ``simplify``: fold the traced
    shape arithmetic (``simplify.py``) after quantization, same numbers and fewer nodes;
    ``sample_text``: what the quantization error and the fused graph are checked on;
    ``quiet``: silence Optimum's and the tracer's chatter. A GGUF Llama written directly
    (``gguf_llama.py``) has no tracer, Optimum or shape arithmetic: it reads ``quantize``,
    ``per_channel``, ``q4_output``, ``q4_accuracy_level`` and ``sample_text`` only."""

    task: Optional[str] = None
    quantize: Optional[str] = None
    per_channel: bool = False
    q4_output: str = "fp32"  # with quantize="q4": the output layer's precision (q4.Q4Config)
    # with quantize="q4": 0 computes the 4-bit layers in fp32 (exact), 4 rounds their inputs
    # to int8 per block first (faster; q4.Q4Config.accuracy_level)
    q4_accuracy_level: int = 0
    opset: Optional[int] = None
    validate: bool = True
    fuse: bool = True
    simplify: bool = True
    sample_text: str = DEFAULT_SAMPLE
    quiet: bool = True


@dataclass(frozen=True)
class ExportResult:
    """The written folder, its manifest, and the quantization error report (None for fp32)."""

    folder: Path
    manifest: "Manifest"
    quantization: Optional["QuantizationReport"]
