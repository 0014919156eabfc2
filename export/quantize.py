"""Quantization of an exported folder, with the error it costs: dynamic int8, or weight-only
4-bit blocks (``q4.py``, which keeps a GGUF Q4_1 model's weights exact).

Every graph is quantized on its own (``quantize_dynamic``: int8 weights, activations
quantized at run time from their observed range), which is why the export keeps the
decoders separate: Optimum's merged decoder (an ``If`` node around two subgraphs) does not
quantize. The int8 graphs replace the fp32 ones under the same file names, so a runtime
loads a folder the same way whatever its precision; the manifest says which it is.

Following llama2.c's ``export.py``, quantization reports its own error: the largest
absolute logit difference between the fp32 and int8 folders on one sample input, over the
steps ``probe`` runs (encoder + first decoder step, then one cached step).
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np
import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic

from . import probe

METHODS = {"int8": "dynamic-int8", "q4": "weight-only-4bit-block32"}


@dataclass(frozen=True)
class QuantizeConfig:
    """``method``: "int8" or "q4". ``per_channel`` (int8): one scale per output channel of
    each weight instead of one per tensor; usually more accurate, slightly larger files.
    ``residuals`` (q4): low-rank updates merged into the weights, kept fp32 beside the 4-bit
    base (``export.adapter.onnx_residuals``). ``q4_output`` (q4): the output layer in
    "fp32", "q8" or "q4" (``q4.Q4Config.output``); ``q4_accuracy_level`` (q4): 0 or 4
    (``q4.Q4Config.accuracy_level``)."""

    method: str = "int8"
    per_channel: bool = False
    residuals: Mapping[str, Tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    q4_output: str = "fp32"
    q4_accuracy_level: int = 0


@dataclass(frozen=True)
class QuantizationReport:
    """What int8 cost on ``sample``: ``max_abs_logit_diff`` over ``steps``, next to the
    largest fp32 logit magnitude (``max_abs_logit``) for scale."""

    method: str
    per_channel: bool
    max_abs_logit_diff: float
    max_abs_logit: float
    sample: str
    steps: Tuple[str, ...]
    files: Tuple[str, ...]
    weights_exact: Optional[bool] = None  # q4: every 4-bit block reproduces its weights
    output_layer: Optional[str] = None  # q4: fp32, q8 or q4
    accuracy_level: Optional[int] = None  # q4: of the 4-bit layers (0: fp32 compute)

    def to_json(self) -> dict:
        return {**asdict(self), "steps": list(self.steps), "files": list(self.files)}


@dataclass(frozen=True)
class Sample:
    """The input the error is measured on: the text and its token ids, plus what the
    graphs need to start decoding (seq2seq only)."""

    text: str
    input_ids: Tuple[int, ...]
    decoder_start_token_id: Optional[int] = None


def _logits(graphs: Mapping[str, Path], sample: Sample,
            next_token: Optional[int]) -> List[np.ndarray]:
    if "model" in graphs:
        return probe.causal_logits(graphs, input_ids=sample.input_ids, next_token=next_token)
    return probe.seq2seq_logits(graphs, input_ids=sample.input_ids, next_token=next_token,
                                decoder_start_token_id=sample.decoder_start_token_id)


def _step_names(graphs: Mapping[str, Path]) -> Tuple[str, ...]:
    if "model" in graphs:
        return ("model (empty cache)", "model (cached step)")
    first = ("encoder+decoder",)
    return first + (("decoder_with_past",) if "decoder_with_past" in graphs else ())


def quantize_folder(folder: Path, *, graphs: Mapping[str, str], sample: Sample,
                    config: QuantizeConfig = QuantizeConfig()) -> QuantizationReport:
    """Quantize each graph file of ``folder`` (``graphs``: role -> file name) in place and
    return the fp32-vs-quantized error on ``sample``.

    The int8 files are written to ``folder/.int8/`` under their final names (so a side file
    of weights keeps the name its graph points to) and moved in only after both precisions
    have run: a failure leaves the fp32 folder as it was.
    """
    staging = folder / ".int8"
    shutil.rmtree(staging, ignore_errors=True)  # left by an interrupted run
    staging.mkdir()
    fp32 = {role: folder / name for role, name in graphs.items()}
    int8 = {role: staging / name for role, name in graphs.items()}
    exact = []
    try:
        for role, path in fp32.items():
            if config.method == "q4":
                exact.append(_q4_file(path, int8[role], config))
            else:
                _quantize_file(path, int8[role], per_channel=config.per_channel)
        reference = _logits(fp32, sample, next_token=None)
        # Step 2 is fed the token fp32 chose, so both precisions see the same history.
        chosen = int(np.argmax(reference[0][0]))
        quantized = _logits(int8, sample, next_token=chosen)
        for name in graphs.values():  # fp32 side files of weights would be stale
            for old in folder.glob(f"{name}?data"):
                old.unlink()
        for path in staging.iterdir():
            os.replace(path, folder / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    diff = max(float(np.max(np.abs(r - q))) for r, q in zip(reference, quantized, strict=True))
    return QuantizationReport(
        method=METHODS[config.method], per_channel=config.per_channel, max_abs_logit_diff=diff,
        max_abs_logit=max(float(np.max(np.abs(r))) for r in reference), sample=sample.text,
        steps=_step_names(graphs), files=tuple(sorted(graphs.values())),
        weights_exact=all(exact) if exact else None,
        output_layer=config.q4_output if config.method == "q4" else None,
        accuracy_level=config.q4_accuracy_level if config.method == "q4" else None,
    )


def _q4_file(source: Path, target: Path, config: QuantizeConfig) -> bool:
    """``q4.quantize_q4`` on one graph file; True when its weights were kept exactly."""
    from .q4 import Q4Config, quantize_q4

    q4 = Q4Config(output=config.q4_output, accuracy_level=config.q4_accuracy_level)
    model, report = quantize_q4(onnx.load(str(source)), q4, residuals=config.residuals, copy=False)
    if any(source.parent.glob(f"{source.name}?data")):  # past 2 GB: weights in a side file
        onnx.save(model, str(target), save_as_external_data=True, location=f"{target.name}_data")
    else:
        onnx.save(model, str(target))
    return report.weights_exact


def _quantize_file(source: Path, target: Path, *, per_channel: bool) -> None:
    """int8 weights (``QInt8``, symmetric) for MatMul, Gather, Attention and the like.

    Graphs whose weights live in a side file (Optimum writes ``*.onnx_data`` past 2 GB)
    are written the same way, as one protobuf cannot hold them.
    """
    from onnxruntime.quantization.registry import IntegerOpsRegistry

    external = any(source.parent.glob(f"{source.name}?data"))
    # The quantizer knows "Attention" only as onnxruntime's own (com.microsoft) kernel and
    # would turn ONNX's standard Attention (opset 23, export/llama_graph.py) into its
    # QAttention, which does not take a cache: that one stays fp32 (its inputs are
    # activations; the projections around it are quantized as MatMuls).
    nodes = onnx.load(str(source), load_external_data=False).graph.node
    standard_attention = any(n.op_type == "Attention" and n.domain in ("", "ai.onnx")
                             for n in nodes)
    ops = [op for op in IntegerOpsRegistry if not (op == "Attention" and standard_attention)]
    root = logging.getLogger()
    level = root.level
    # ORT advises pre-processing on the root logger at WARNING; the result does not need it.
    root.setLevel(max(level, logging.ERROR))
    try:
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=per_channel,
                         use_external_data_format=external, op_types_to_quantize=ops)
    finally:
        root.setLevel(level)


# Node types that only appear in a quantized graph (DequantizeLinear: int8 embeddings;
# MatMulNBits: q4).
QUANTIZED_OPS: Tuple[str, ...] = ("DynamicQuantizeLinear", "MatMulInteger", "ConvInteger",
                                  "DynamicQuantizeMatMul", "QAttention", "DequantizeLinear",
                                  "MatMulNBits")


def quantized_op_counts(path: Path) -> Dict[str, int]:
    """How many nodes of each quantized op type a graph holds (empty for an fp32 graph)."""
    model = onnx.load(str(path), load_external_data=False)
    counts: Dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type in QUANTIZED_OPS:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts

