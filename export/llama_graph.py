"""The ONNX graph of a Llama causal LM, written from its weights (numpy, Hugging Face's
names and layout) without torch: what ``python -m export gguf`` writes for a GGUF Llama.

The network is Llama's (Touvron et al., 2023, "LLaMA: Open and Efficient Foundation
Language Models"): pre-norm layers with RMSNorm (Zhang & Sennrich, 2019), rotary position
embeddings on queries and keys (Su et al., 2021, "RoFormer"; the two-halves form of
transformers' ``rotate_half``), grouped-query attention (Ainslie et al., 2023) and a SwiGLU
feed-forward block (Shazeer, 2020), as transformers' ``LlamaForCausalLM`` computes it. It is
written with ONNX's own ops for these (opset 23: ``RMSNormalization``, ``RotaryEmbedding``,
``Attention``), so a layer is 17 nodes: SmolLM2-135M has 533 in fp32 and 863 in q4,
where the export traced through transformers and Optimum has 2,916 and 3,456 after
simplification. Decoding is about 1.2x faster for it (docs/BENCHMARKS.md, "GGUF -> ONNX").

The interface is the traced export's, which ``runtime/causal.py`` reads: inputs
``input_ids``, ``attention_mask`` (B, past + S), ``position_ids`` and
``past_key_values.{i}.key/value`` (B, kv_heads, past, head_dim); outputs ``logits``
(B, S, vocab) and ``present.{i}.key/value`` (B, kv_heads, past + S, head_dim), keys after
the rotation. Each projection is one ``MatMul`` named as the traced export names it
(``/model/layers.0/self_attn/q_proj/MatMul``, ``/lm_head/MatMul``), so ``q4.py`` finds the
module of each weight (a LoRA adapter's residuals) and the layer that writes the logits.

Departure from the traced graph: a position that may attend to nothing (a query inside a
row's left padding) gets the largest negative float, not -inf, in its mask, so its
attention averages the values instead of giving NaN, which the traced graph then replaced
by 0. Only padding positions' outputs differ (their logits and cache entries, which no
other position reads); every other position computes the same numbers up to float rounding
(``tests/test_gguf_llama.py``: logits and cache within 1e-4 of the traced export).
"""
from __future__ import annotations

import math
from typing import List, Mapping

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .gguf_llama import LlamaShape

OPSET = 23  # RMSNormalization, RotaryEmbedding and Attention are standard ops from 23
# The file format that came with opset 23 (onnx 1.18), not the newest onnx writes (14): any
# onnxruntime that runs the opset-23 ops reads it.
IR_VERSION = 11
BATCH, SEQ, PAST = "batch_size", "sequence_length", "past_sequence_length"
TOTAL = f"{PAST} + {SEQ}"


class _Graph:
    """Nodes and initializers under construction."""

    def __init__(self) -> None:
        self.nodes: List[onnx.NodeProto] = []
        self.weights: List[onnx.TensorProto] = []

    def weight(self, name: str, value: np.ndarray) -> str:
        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: List[str], outputs: List[str], name: str,
             **attributes) -> List[str]:
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **attributes))
        return outputs


def inverse_frequencies(shape: LlamaShape) -> np.ndarray:
    """theta^(-2j/d) for each rotary pair j, (head_dim / 2,) fp32, as transformers computes
    them in fp32 (``_compute_default_rope_parameters``): the power rounded once to fp32 (as
    torch's is; numpy's fp32 power is one unit in the last place off for a third of them),
    then an fp32 reciprocal. Bit for bit transformers' (``tests/test_gguf_llama.py``)."""
    d = shape.head_dim
    exponent = np.arange(0, d, 2, dtype=np.int64).astype(np.float32) / np.float32(d)
    power = (np.float64(shape.rope_theta) ** exponent.astype(np.float64)).astype(np.float32)
    return (np.float32(1.0) / power).astype(np.float32)


def build_llama_graph(shape: LlamaShape, weights: Mapping[str, np.ndarray]) -> onnx.ModelProto:
    """The graph of the model whose parameters are ``weights`` (name -> fp32 array, a
    linear layer's weight (out, in), as ``LlamaGGUF.weights`` returns them)."""
    g = _Graph()
    heads, kv, d = shape.num_heads, shape.num_kv_heads, shape.head_dim
    cos, sin = _rotary_angles(g, shape)
    x = g.node("Gather", [g.weight("model.embed_tokens.weight",
                                   weights["model.embed_tokens.weight"]), "input_ids"],
               ["/model/embed_tokens/output"], "/model/embed_tokens/Gather")[0]
    bias = _attention_bias(g)
    present: List[str] = []
    for i in range(shape.num_layers):
        p, pre = f"/model/layers.{i}", f"model.layers.{i}"

        def linear(module: str, h: str) -> str:
            name = f"{pre}.{module}.weight"
            return g.node("MatMul", [h, g.weight(name, weights[name].T)],
                          [f"{p}/{module.replace('.', '/')}/output"],
                          f"{p}/{module.replace('.', '/')}/MatMul")[0]

        h = _rms_norm(g, x, weights, f"{pre}.input_layernorm", f"{p}/input_layernorm", shape)
        q, k, v = (linear(f"self_attn.{m}_proj", h) for m in "qkv")
        q = g.node("RotaryEmbedding", [q, cos, sin], [f"{p}/self_attn/q_rotated"],
                   f"{p}/self_attn/q_rotary", num_heads=heads)[0]
        k = g.node("RotaryEmbedding", [k, cos, sin], [f"{p}/self_attn/k_rotated"],
                   f"{p}/self_attn/k_rotary", num_heads=kv)[0]
        cache = [f"present.{i}.key", f"present.{i}.value"]
        attended = g.node("Attention", [q, k, v, bias, f"past_key_values.{i}.key",
                                        f"past_key_values.{i}.value"],
                          [f"{p}/self_attn/output", *cache], f"{p}/self_attn/Attention",
                          q_num_heads=heads, kv_num_heads=kv, scale=1.0 / math.sqrt(d))[0]
        present += cache
        x = g.node("Add", [x, linear("self_attn.o_proj", attended)], [f"{p}/attn_residual"],
                   f"{p}/Add")[0]
        h = _rms_norm(g, x, weights, f"{pre}.post_attention_layernorm",
                      f"{p}/post_attention_layernorm", shape)
        gate, up = linear("mlp.gate_proj", h), linear("mlp.up_proj", h)
        sig = g.node("Sigmoid", [gate], [f"{p}/mlp/sigmoid"], f"{p}/mlp/act_fn/Sigmoid")[0]
        silu = g.node("Mul", [gate, sig], [f"{p}/mlp/silu"], f"{p}/mlp/act_fn/Mul")[0]
        both = g.node("Mul", [silu, up], [f"{p}/mlp/gated"], f"{p}/mlp/Mul")[0]
        x = g.node("Add", [x, linear("mlp.down_proj", both)], [f"{p}/mlp_residual"],
                   f"{p}/Add_1")[0]
    h = _rms_norm(g, x, weights, "model.norm", "/model/norm", shape)
    head = weights.get("lm_head.weight", weights["model.embed_tokens.weight"])
    g.node("MatMul", [h, g.weight("lm_head.weight", head.T)], ["logits"], "/lm_head/MatMul")

    def tensor(name: str, dtype: int, dims) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, dtype, dims)

    inputs = [tensor("input_ids", TensorProto.INT64, (BATCH, SEQ)),
              tensor("attention_mask", TensorProto.INT64, (BATCH, TOTAL)),
              tensor("position_ids", TensorProto.INT64, (BATCH, SEQ))]
    inputs += [tensor(f"past_key_values.{i}.{kind}", TensorProto.FLOAT, (BATCH, kv, PAST, d))
               for i in range(shape.num_layers) for kind in ("key", "value")]
    outputs = [tensor("logits", TensorProto.FLOAT, (BATCH, SEQ, shape.vocab_size))]
    outputs += [tensor(name, TensorProto.FLOAT, (BATCH, kv, TOTAL, d)) for name in present]
    graph = helper.make_graph(g.nodes, "llama", inputs, outputs, g.weights)
    model = helper.make_model(graph, producer_name="condense.export.llama_graph",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def _rotary_angles(g: _Graph, shape: LlamaShape) -> tuple:
    """(cos, sin), each (B, S, head_dim / 2): of position_ids times the inverse
    frequencies in fp32, once for every layer, as the traced graph computes them (so any
    position works, also past the context length, as there)."""
    positions = g.node("Cast", ["position_ids"], ["rotary/positions"], "/rotary/Cast",
                       to=TensorProto.FLOAT)[0]
    positions = g.node("Unsqueeze", [positions, g.weight("rotary/axis", np.array([-1], np.int64))],
                       ["rotary/positions_3d"], "/rotary/Unsqueeze")[0]
    angles = g.node("Mul", [positions, g.weight("rotary/inv_freq", inverse_frequencies(shape))],
                    ["rotary/angles"], "/rotary/Mul")[0]
    return (g.node("Cos", [angles], ["rotary/cos"], "/rotary/Cos")[0],
            g.node("Sin", [angles], ["rotary/sin"], "/rotary/Sin")[0])


def _rms_norm(g: _Graph, x: str, weights: Mapping[str, np.ndarray], module: str, path: str,
              shape: LlamaShape) -> str:
    """x / sqrt(mean(x^2) + eps) * weight over the last axis, computed in fp32."""
    scale = g.weight(f"{module}.weight", weights[f"{module}.weight"])
    return g.node("RMSNormalization", [x, scale], [f"{path}/output"], f"{path}/RMSNormalization",
                  axis=-1, epsilon=shape.rms_norm_eps)[0]


def _attention_bias(g: _Graph) -> str:
    """(B, 1, S, T) fp32, 0 where query s (position past + s) may attend to column t, the
    lowest float elsewhere: t must not be later (causal) and the attention mask must be 1
    there (left padding, and columns greedy search took back)."""
    def const(name: str, value) -> str:
        return g.weight(name, np.asarray(value))

    past = g.node("Shape", ["past_key_values.0.key"], ["mask/past"], "/mask/past", start=2,
                  end=3)[0]
    seq = g.node("Shape", ["input_ids"], ["mask/seq"], "/mask/seq", start=1, end=2)[0]
    total = g.node("Shape", ["attention_mask"], ["mask/total"], "/mask/total", start=1, end=2)[0]
    end = g.node("Add", [past, seq], ["mask/end"], "/mask/end")[0]
    one, zero = const("mask/one", np.int64(1)), const("mask/zero", np.int64(0))
    scalars = [g.node("Squeeze", [t], [f"{t}_scalar"], f"/{t}_scalar")[0]
               for t in (past, end, total)]
    rows = g.node("Range", [scalars[0], scalars[1], one], ["mask/rows"], "/mask/rows")[0]
    cols = g.node("Range", [zero, scalars[2], one], ["mask/cols"], "/mask/cols")[0]
    rows = g.node("Unsqueeze", [rows, const("mask/axis1", np.array([1], np.int64))],
                  ["mask/rows_2d"], "/mask/rows_2d")[0]
    causal = g.node("LessOrEqual", [cols, rows], ["mask/causal"], "/mask/causal")[0]  # (S, T)
    kept = g.node("Cast", ["attention_mask"], ["mask/kept"], "/mask/kept", to=TensorProto.BOOL)[0]
    kept = g.node("Unsqueeze", [kept, const("mask/axes12", np.array([1, 2], np.int64))],
                  ["mask/kept_4d"], "/mask/kept_4d")[0]  # (B, 1, 1, T)
    allowed = g.node("And", [causal, kept], ["mask/allowed"], "/mask/allowed")[0]
    return g.node("Where", [allowed, const("mask/open", np.float32(0.0)),
                            const("mask/closed", np.finfo(np.float32).min)],
                  ["mask/bias"], "/mask/bias")[0]
