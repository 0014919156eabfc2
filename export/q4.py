"""Weight-only 4-bit MatMuls that keep a GGUF Q4_1 model's weights exact.

llama.cpp's Q4_1 stores each block of 32 weights (along the input dimension) as
``w = d * q + m``: a scale ``d``, a minimum ``m`` and 4-bit codes ``q`` in 0..15
(Gerganov et al., ggml, ``ggml-quants.c``). SmolLM2 reaches us that way, so its fp32 export
holds weights that are exactly such grids. onnxruntime's ``MatMulNBits`` stores
``w = scale * (q - zero_point)`` with an *integer* zero point; forcing ``m / d`` to an
integer moves every weight by up to half a step, and a float zero point runs on a slow
path (dequantized at every call). Instead the block minimum goes into a small side product:

    y = x @ W = MatMulNBits(x; codes q - 8, scale d)  +  (x @ E) @ O

where ``E`` (K x K/32, ones) sums ``x`` over each block and ``O`` (K/32 x N) holds each
block's offset ``m + 8d``. For Q4_1 weights the result equals the fp32 graph up to float
rounding; for any other weights it is round-to-nearest asymmetric 4-bit with an exact block
minimum (what Q4_1 itself does), and ``Q4Report.max_weight_error`` says how far it moved
them. The output layer (the MatMul that writes ``logits``) stays fp32 by default, or
(``output="q8"``) becomes 8-bit blocks of 32 with one scale each, ``w = d * q``: llama.cpp's
Q8_0, in which GGUF files commonly store the (tied) embedding and output matrix, so this
too keeps such weights exactly. ``output_accuracy_level`` 4 quantizes its activations to
int8 per block, as llama.cpp's Q8_0 dot product does; MatMulNBits' 8-bit fp32 path is slow.

A model with a LoRA adapter merged in (Hu et al. 2021) is no longer on the grid, but the
update is known and low-rank: given ``residuals`` (``export.adapter.onnx_residuals``), the
update ``U @ V`` is taken off each merged weight, the base is quantized (exactly, for a
Q4_1 base) and the update stays fp32 as ``(x @ U) @ V``, so the merged model is kept exact
too at a few percent more bytes.

``accuracy_level`` is ``MatMulNBits``'s: 0 computes in fp32; 4 quantizes the activations to
int8 per block first (faster; llama.cpp's own Q4_1 kernels do the same with Q8_1).

MatMuls that read the same input with the same K (a layer's q, k and v projections; gate
and up) are fused (``Q4Config.fuse``): their weights side by side in one ``MatMulNBits``,
one side product, then a ``Split``. The numbers are the same (each output column is
still its own dot products); a Llama layer then runs 4 quantized products instead of 7,
and the per-node cost of onnxruntime, which a one-token decoding step is made of, falls
with the node count (SmolLM2: 1,073 nodes -> 863). A low-rank residual stays per module,
added to its slice after the split.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Tuple

import numpy as np
import onnx
from onnx import helper, numpy_helper

BITS = 4
LEVELS = 2 ** BITS - 1
MIDPOINT = 2 ** (BITS - 1)  # MatMulNBits' zero point when none is given


@dataclass(frozen=True)
class Q4Config:
    block_size: int = 32
    accuracy_level: int = 0
    # The MatMul that writes a graph output (the LM head): "fp32" (kept), "q4" (like the
    # rest) or "q8" (8-bit symmetric blocks).
    output: str = "fp32"
    output_accuracy_level: int = 4
    # MatMuls that read one input (a layer's q, k and v; gate and up) in one MatMulNBits
    fuse: bool = True

    def __post_init__(self) -> None:
        if self.output not in ("fp32", "q4", "q8"):
            raise ValueError(f"output must be fp32, q4 or q8, got {self.output!r}")


@dataclass(frozen=True)
class Q4Report:
    matmuls: int  # MatMuls converted
    residuals: int  # of which kept a low-rank fp32 update beside the 4-bit base
    skipped: Tuple[str, ...]  # MatMuls with a constant weight left in fp32, and why
    max_weight_error: float  # largest |w - w_4bit| / (block scale), 0 for Q4_1 grids
    weights_exact: bool  # every converted block was already a 4-bit grid


def module_name(node_name: str) -> str:
    """``/model/layers.0/mlp/up_proj/MatMul`` -> ``model.layers.0.mlp.up_proj``."""
    return node_name.strip("/").rsplit("/", 1)[0].replace("/", ".")


def quantize_blocks(weight: np.ndarray, block_size: int) -> Tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray, float]:
    """(packed codes [N, K/bs, bs/2], scales [N, K/bs], offsets [K/bs, N], error) of a
    MatMul weight ``[K, N]``; error is the largest |w - w_hat| in units of the block scale."""
    k, n = weight.shape
    blocks = weight.T.reshape(n, k // block_size, block_size).astype(np.float64)
    low, high = blocks.min(-1), blocks.max(-1)
    scale = (high - low) / LEVELS
    scale = np.where(scale > 0, scale, 1.0)  # a constant block: codes 0, offset = its value
    codes = np.clip(np.rint((blocks - low[..., None]) / scale[..., None]), 0, LEVELS)
    rebuilt = codes * scale[..., None] + low[..., None]
    error = float(np.max(np.abs(rebuilt - blocks) / scale[..., None]))
    q = codes.astype(np.uint8)
    packed = q[..., 0::2] | (q[..., 1::2] << 4)  # low nibble first, as MatMulNBits reads
    offsets = (low + MIDPOINT * scale).T  # codes are read as q - 8
    return packed, scale.astype(np.float32), offsets.astype(np.float32), error


def quantize_blocks8(weight: np.ndarray, block_size: int) -> Tuple[np.ndarray, np.ndarray, float]:
    """(codes [N, K/bs, bs] uint8, scales [N, K/bs], error) of a MatMul weight ``[K, N]`` as
    symmetric 8-bit blocks, ``w = d * (code - 128)`` with ``d = max|w| / 127`` (Q8_0's
    rule, so Q8_0 weights come back exactly); error as in ``quantize_blocks``."""
    k, n = weight.shape
    blocks = weight.T.reshape(n, k // block_size, block_size).astype(np.float64)
    scale = np.abs(blocks).max(-1) / 127
    scale = np.where(scale > 0, scale, 1.0)  # an all-zero block: codes 128
    q = np.clip(np.rint(blocks / scale[..., None]), -127, 127)
    error = float(np.max(np.abs(q * scale[..., None] - blocks) / scale[..., None]))
    return (q + 128).astype(np.uint8), scale.astype(np.float32), error


def _q8_matmul(node: onnx.NodeProto, weight: np.ndarray, block_size: int, accuracy_level: int
               ) -> Tuple[onnx.NodeProto, List[onnx.TensorProto], float]:
    """``node`` (x @ weight) as an 8-bit ``MatMulNBits`` (its zero point defaults to 128),
    its two initializers, and the weights' error (``quantize_blocks8``)."""
    k, n = weight.shape
    codes, scale, error = quantize_blocks8(weight, block_size)
    base = node.name.strip("/").replace("/", "_") or node.output[0]
    weights = [numpy_helper.from_array(codes, f"{base}_q8_codes"),
               numpy_helper.from_array(scale.reshape(-1), f"{base}_q8_scales")]
    q8 = helper.make_node("MatMulNBits", [node.input[0], weights[0].name, weights[1].name],
                          list(node.output), name=f"{node.name or node.output[0]}_q8",
                          domain="com.microsoft",
                          K=k, N=n, bits=8, block_size=block_size, accuracy_level=accuracy_level)
    return q8, weights, error


def quantize_q4(model: onnx.ModelProto, config: Q4Config = Q4Config(), *,
                residuals: Mapping[str, Tuple[np.ndarray, np.ndarray]] = {},
                copy: bool = True) -> Tuple[onnx.ModelProto, Q4Report]:
    """A copy of ``model`` with every eligible MatMul in 4 bits (see the module docstring);
    ``residuals``: module name -> (U, V), a low-rank part of that module's weight kept in
    fp32; the exporter names a module's MatMul ``/model/layers.0/mlp/up_proj/MatMul`` for
    the module ``model.layers.0.mlp.up_proj``. ``copy=False`` changes ``model`` itself
    (a graph loaded only to be quantized: the copy of SmolLM2's weights costs seconds).
    With ``config.fuse``, MatMuls that read the same input (q, k and v; gate and up) become
    one ``MatMulNBits`` and one side product, split after (see ``Q4Config.fuse``)."""
    if copy:
        model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    inits: Dict[str, onnx.TensorProto] = {t.name: t for t in graph.initializer}
    outputs = {o.name for o in graph.output}
    bs = config.block_size
    uses: Dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    skipped: List[str] = []
    # by position in the graph (names need not be unique, or given at all)
    q4_nodes: Dict[int, onnx.NodeProto] = {}  # MatMuls to convert to 4 bits
    q8_nodes: Dict[int, onnx.NodeProto] = {}
    for at, node in enumerate(graph.node):
        weight = inits.get(node.input[1]) if node.op_type == "MatMul" else None
        if weight is None:
            continue
        reason = None
        if len(weight.dims) != 2 or weight.data_type != onnx.TensorProto.FLOAT:
            reason = "not a 2-D fp32 weight"
        elif weight.dims[0] % bs:
            reason = f"input size {weight.dims[0]} is not a multiple of {bs}"
        elif config.output == "fp32" and set(node.output) & outputs:
            reason = "writes a graph output (kept fp32)"
        if reason:
            skipped.append(f"{node.name}: {reason}")
        elif config.output == "q8" and set(node.output) & outputs:
            if module_name(node.name) in residuals:
                raise ValueError(f"{node.name}: a low-rank residual on the output layer needs "
                                 "output='fp32' or 'q4'")
            q8_nodes[at] = node
        else:
            q4_nodes[at] = node
    # MatMuls converted together: those reading one input with the same K (one group each
    # without fusion); a group is written where its first member was, which keeps the
    # nodes sorted, since every member needs only that input
    groups: Dict[Tuple[str, int], List[int]] = {}
    for at, node in q4_nodes.items():
        key = (node.input[0], inits[node.input[1]].dims[0]) if config.fuse else (str(at), 0)
        groups.setdefault(key, []).append(at)
    first_of = {members[0]: [q4_nodes[m] for m in members] for members in groups.values()}
    nodes: List[onnx.NodeProto] = []
    worst, used, converted = 0.0, 0, 0
    block_sums: Dict[int, str] = {}  # K -> name of its E matrix (shared across layers)
    sums_of: Dict[str, str] = {}  # MatMul input -> its block sums (x @ E)
    split_sizes: set = set()  # names of the Split sizes written so far
    split_opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    for at, node in enumerate(graph.node):
        if at in q8_nodes:
            values = numpy_helper.to_array(inits[node.input[1]])
            q8_node, q8_weights, error = _q8_matmul(node, values, bs, config.output_accuracy_level)
            worst = max(worst, error)
            graph.initializer.extend(q8_weights)
            nodes.append(q8_node)
            converted += 1
        elif at in first_of:
            members = first_of[at]
            weights, updates = [], []
            for m in members:
                values = numpy_helper.to_array(inits[m.input[1]])
                low_rank = residuals.get(module_name(m.name))
                if low_rank is not None:
                    u, v = low_rank
                    if u.shape[0] != values.shape[0] or v.shape[1] != values.shape[1]:
                        raise ValueError(f"{m.name}: residual {u.shape} x {v.shape} does not fit "
                                         f"its weight {values.shape[0]} x {values.shape[1]}")
                    values = values.astype(np.float64) - u.astype(np.float64) @ v.astype(np.float64)
                weights.append(values)
                updates.append(low_rank)
            k = weights[0].shape[0]
            packed, scale, offsets, error = quantize_blocks(np.concatenate(weights, axis=1), bs)
            worst = max(worst, error)
            base = node.name.strip("/").replace("/", "_") or node.output[0]
            label = node.name or node.output[0]  # new nodes' names: unique, as outputs are
            names = {x: f"{base}_q4_{x}" for x in ("codes", "scales", "offsets", "main", "sums",
                                                    "side", "grid")}
            graph.initializer.extend([numpy_helper.from_array(packed, names["codes"]),
                                      numpy_helper.from_array(scale.reshape(-1), names["scales"]),
                                      numpy_helper.from_array(offsets, names["offsets"])])
            if k not in block_sums:
                ones = np.kron(np.eye(k // bs, dtype=np.float32), np.ones((bs, 1), np.float32))
                block_sums[k] = f"q4_block_sums_{k}"
                graph.initializer.append(numpy_helper.from_array(ones, block_sums[k]))
            x = node.input[0]
            # each member's 4-bit product: its output, or a name the low-rank update adds to
            grids = [m.output[0] if lr is None else f"{names['grid']}_{i}"
                     for i, (m, lr) in enumerate(zip(members, updates))]
            fused = len(members) > 1
            nodes.append(helper.make_node(
                "MatMulNBits", [x, names["codes"], names["scales"]], [names["main"]],
                name=f"{label}_q4", domain="com.microsoft", K=k, N=offsets.shape[1], bits=BITS,
                block_size=bs, accuracy_level=config.accuracy_level))
            if x not in sums_of:  # one block sum per input, shared by every reader of it
                sums_of[x] = names["sums"]
                nodes.append(helper.make_node("MatMul", [x, block_sums[k]], [names["sums"]],
                                              name=f"{label}_q4_sums"))
            nodes += [
                helper.make_node("MatMul", [sums_of[x], names["offsets"]], [names["side"]],
                                 name=f"{label}_q4_side"),
                helper.make_node("Add", [names["main"], names["side"]],
                                 [names["grid"] if fused else grids[0]], name=f"{label}_q4_add"),
            ]
            if fused:
                sizes = [w.shape[1] for w in weights]
                if split_opset >= 13:
                    sizes_name = "q4_split_" + "_".join(map(str, sizes))  # shared across layers
                    if sizes_name not in split_sizes:
                        split_sizes.add(sizes_name)
                        graph.initializer.append(numpy_helper.from_array(np.array(sizes, np.int64),
                                                                         sizes_name))
                    nodes.append(helper.make_node("Split", [names["grid"], sizes_name], grids,
                                                  name=f"{label}_q4_split", axis=-1))
                else:
                    nodes.append(helper.make_node("Split", [names["grid"]], grids,
                                                  name=f"{label}_q4_split", axis=-1, split=sizes))
            for m, grid, low_rank in zip(members, grids, updates):
                if low_rank is None:
                    continue
                # y = grid + (x @ U) @ V, after the grid (nodes stay sorted)
                u, v = low_rank
                mb = m.name.strip("/").replace("/", "_") or m.output[0]
                ml = m.name or m.output[0]
                graph.initializer.extend([
                    numpy_helper.from_array(u.astype(np.float32), f"{mb}_q4_u"),
                    numpy_helper.from_array(v.astype(np.float32), f"{mb}_q4_v")])
                nodes += [
                    helper.make_node("MatMul", [x, f"{mb}_q4_u"], [f"{mb}_q4_xu"],
                                     name=f"{ml}_q4_u"),
                    helper.make_node("MatMul", [f"{mb}_q4_xu", f"{mb}_q4_v"], [f"{mb}_q4_update"],
                                     name=f"{ml}_q4_v"),
                    helper.make_node("Add", [grid, f"{mb}_q4_update"], [m.output[0]],
                                     name=f"{ml}_q4_update"),
                ]
                used += 1
            converted += len(members)
        elif at not in q4_nodes:
            nodes.append(node)
    for node in (*q4_nodes.values(), *q8_nodes.values()):
        weight = node.input[1]
        if uses.get(weight, 0) == 1 and weight in inits:  # tied weights stay for their other users
            graph.initializer.remove(inits.pop(weight))
    missing = set(residuals) - {module_name(n.name) for n in graph.node}
    if missing:
        raise ValueError(f"no MatMul named {sorted(missing)[:3]} for the low-rank residuals")
    del graph.node[:]
    graph.node.extend(nodes)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model, Q4Report(matmuls=converted, residuals=used, skipped=tuple(skipped),
                           max_weight_error=worst, weights_exact=worst < 1e-3)
