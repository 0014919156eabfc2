"""A fused ``decoder_with_past`` graph for BART-family models, built from the weights.

A cached decoder step works on one token, so its matrix products are small and the
traced graph's other nodes decide its speed: Optimum's BART decoder-with-past has about
550 nodes after simplification (reshapes and transposes around every attention, per-head
products, shape arithmetic for the dynamic lengths), and they cost a cached step of
bart-small as much as its weights do (docs/BENCHMARKS.md). onnxruntime's transformer
optimizer would fuse them into its attention kernels, but its BART patterns do not match
what transformers 4.57 traces, so nothing is fused.

This module writes the same step directly with onnxruntime's fused kernels (the
``com.microsoft`` domain): per layer one ``MatMul`` for the self-attention's packed Q/K/V
and a ``MultiHeadAttention`` node that appends to the cache itself, a cross-attention
``MultiHeadAttention`` over the encoder keys/values the first step cached, and
``SkipLayerNormalization`` for each residual add + layer norm: 14 nodes a layer. It keeps
Optimum's interface exactly (input and output names, shapes, dtypes), so the runtime,
the quantizer and a folder's manifest treat it like the graph it replaces, and the
exporter keeps it only when it computes Optimum's logits (``fuse_folder``).

The architecture is the Transformer's (Vaswani et al., 2017, "Attention Is All You
Need") as BART (Lewis et al., 2020) and its relatives arrange it: post-LN layers (BART,
Marian) or pre-LN layers with a final layer norm (mBART, Pegasus), learned or sinusoidal
positions. Other families (T5's relative position bias, BERT2BERT without a cache) keep
Optimum's graph.
"""
from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import probe

# model_type -> layers put the layer norm before each block (and a final one after them).
PRE_LN = {"bart": False, "marian": False, "mbart": True, "pegasus": True}
OPSET = 17  # LayerNormalization is in the standard domain from 17
# Largest |logit| difference from Optimum's graph that still counts as the same numbers,
# relative to the largest |logit| (at least 1): only rounding separates the two graphs.
TOLERANCE = 1e-4
_ACTIVATIONS = ("gelu", "relu", "silu", "swish")


@dataclass(frozen=True)
class Fused:
    """What happened to the decoder-with-past graph: node counts of Optimum's graph and of
    ours, and the largest |logit| difference between them on the sample; or why Optimum's
    graph was kept (``kept_because``)."""

    nodes_before: int
    nodes_after: int
    max_abs_logit_diff: Optional[float] = None
    kept_because: Optional[str] = None

    def to_json(self) -> dict:
        return {"nodes_before": self.nodes_before, "nodes_after": self.nodes_after,
                "max_abs_logit_diff": self.max_abs_logit_diff, "kept_because": self.kept_because}


def unsupported_reason(model) -> Optional[str]:
    """None when ``build_decoder_with_past`` can write ``model``'s step, else why not."""
    config = model.config
    if config.model_type not in PRE_LN:
        return f"no fused graph for {config.model_type} (only {', '.join(sorted(PRE_LN))})"
    if config.activation_function not in _ACTIVATIONS:
        return f"activation {config.activation_function!r} has no fused form"
    if config.d_model % config.decoder_attention_heads:
        return "d_model is not a multiple of the attention heads"
    return None


class _Graph:
    """Nodes and initializers under construction, with unique names."""

    def __init__(self) -> None:
        self.nodes: List[onnx.NodeProto] = []
        self.weights: List[onnx.TensorProto] = []
        # ONNX shape inference cannot type the outputs of com.microsoft kernels, and the
        # int8 quantizer needs every MatMul input's type: they are declared float.
        self.typed: List[str] = []

    def weight(self, name: str, value) -> str:
        array = value.detach().float().cpu().numpy() if hasattr(value, "detach") else value
        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: List[str], outputs: List[str], *, ms: bool = False,
             **attributes) -> List[str]:
        self.nodes.append(helper.make_node(
            op, inputs, outputs, name=f"{op}_{len(self.nodes)}",
            domain="com.microsoft" if ms else "", **attributes))
        if ms:
            self.typed.extend(name for name in outputs if name)
        return outputs


def _linear_t(linear) -> np.ndarray:
    """A ``torch.nn.Linear`` weight as MatMul wants it: (in, out)."""
    return linear.weight.detach().float().cpu().numpy().T


def build_decoder_with_past(model) -> onnx.ModelProto:
    """The cached decoder step of ``model`` (a BART-family ``...ForConditionalGeneration``;
    see ``unsupported_reason``) as one fused ONNX graph with Optimum's interface."""
    reason = unsupported_reason(model)
    if reason:
        raise ValueError(reason)
    config = model.config
    decoder = model.get_decoder()
    layers = decoder.layers
    heads = config.decoder_attention_heads
    pre_ln = PRE_LN[config.model_type]
    g = _Graph()

    x = _embeddings(g, model)
    enc_mask = g.node("Cast", ["encoder_attention_mask"], ["encoder_mask_i32"],
                      to=TensorProto.INT32)[0]

    # Pre-LN keeps the residual stream and normalizes a copy before each block; post-LN
    # normalizes the stream itself after each residual add. SkipLayerNormalization gives
    # both: output 0 = LN(input + skip + bias), output 3 = input + skip + bias.
    stream = x
    block_in = _layer_norm(g, x, layers[0].self_attn_layer_norm, "l0.ln_self") if pre_ln else x
    present: List[str] = []
    for i, layer in enumerate(layers):
        p = f"l{i}"
        norms = [layer.self_attn_layer_norm, layer.encoder_attn_layer_norm, layer.final_layer_norm]
        if pre_ln:  # the norm after block j is the one before block j + 1
            nxt = layers[i + 1].self_attn_layer_norm if i + 1 < len(layers) else decoder.layer_norm
            after = [norms[1], norms[2], nxt]
        else:
            after = norms

        a = layer.self_attn
        qkv = g.node("MatMul", [block_in, g.weight(f"{p}.qkv.w", np.concatenate(
            [_linear_t(a.q_proj), _linear_t(a.k_proj), _linear_t(a.v_proj)], axis=1))],
            [f"{p}.qkv"])[0]
        q, k, v = g.node("Split", [qkv], [f"{p}.q", f"{p}.k", f"{p}.v"], axis=-1)
        bias = np.concatenate([t.bias.detach().float().cpu().numpy()
                               for t in (a.q_proj, a.k_proj, a.v_proj)])
        keys = (f"present.{i}.decoder.key", f"present.{i}.decoder.value")
        out = g.node("MultiHeadAttention",
                     [q, k, v, g.weight(f"{p}.qkv.b", bias), "", "",
                      f"past_key_values.{i}.decoder.key", f"past_key_values.{i}.decoder.value"],
                     [f"{p}.self", *keys], ms=True, num_heads=heads, unidirectional=1)[0]
        present.extend(keys)
        stream, block_in = _residual(g, f"{p}.self", out, stream, a.out_proj, after[0],
                                     pre_ln)

        c = layer.encoder_attn
        q = g.node("MatMul", [block_in, g.weight(f"{p}.cross.q.w", _linear_t(c.q_proj))],
                   [f"{p}.cross.q0"])[0]
        q = g.node("Add", [q, g.weight(f"{p}.cross.q.b", c.q_proj.bias)], [f"{p}.cross.q"])[0]
        out = g.node("MultiHeadAttention",
                     [q, f"past_key_values.{i}.encoder.key", f"past_key_values.{i}.encoder.value",
                      "", enc_mask], [f"{p}.cross"], ms=True, num_heads=heads)[0]
        stream, block_in = _residual(g, f"{p}.cross", out, stream, c.out_proj, after[1],
                                     pre_ln)

        h = g.node("MatMul", [block_in, g.weight(f"{p}.fc1.w", _linear_t(layer.fc1))],
                   [f"{p}.fc1"])[0]
        h = _activation(g, config.activation_function, h, g.weight(f"{p}.fc1.b", layer.fc1.bias),
                        f"{p}.act")
        stream, block_in = _residual(g, f"{p}.ffn", h, stream, layer.fc2, after[2],
                                     pre_ln)

    # block_in is the last layer's output after its final norm in either arrangement.
    logits = g.node("MatMul", [block_in, g.weight("lm_head.w", model.lm_head.weight.detach()
                                                  .float().cpu().numpy().T)], ["logits0"])[0]
    bias = getattr(model, "final_logits_bias", None)
    if bias is not None:
        g.node("Add", [logits, g.weight("final_logits_bias", bias.reshape(-1))], ["logits"])
    else:
        g.node("Identity", [logits], ["logits"])

    inputs, outputs = _interface(config, len(layers), present)
    declared = {v.name for v in outputs}
    graph = helper.make_graph(g.nodes, "decoder_with_past_fused", inputs, outputs, g.weights,
                              value_info=[helper.make_tensor_value_info(name, TensorProto.FLOAT, None)
                                          for name in g.typed if name not in declared])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                   helper.make_opsetid("com.microsoft", 1)],
                             producer_name="condense.export.fused")


def _embeddings(g: _Graph, model) -> str:
    """Token embedding (times sqrt(d_model) where the config scales it) plus the positions
    past_len + offset ... past_len + offset + S - 1, then BART's embedding layer norm."""
    config, decoder = model.config, model.get_decoder()
    x = g.node("Gather", [g.weight("embed_tokens", decoder.embed_tokens.weight), "input_ids"],
               ["tokens"])[0]
    if config.scale_embedding:
        x = g.node("Mul", [x, g.weight("embed_scale", np.array(math.sqrt(config.d_model),
                                                                np.float32))],
                   ["tokens_scaled"])[0]
    offset = getattr(decoder.embed_positions, "offset", 0)  # BART's learned table starts at 2
    past = g.node("Shape", ["past_key_values.0.decoder.key"], ["past_len"], start=2, end=3)[0]
    length = g.node("Shape", ["input_ids"], ["seq_len"], start=1, end=2)[0]
    first = g.node("Add", [past, g.weight("position_offset", np.array([offset], np.int64))],
                   ["position_first"])[0]
    last = g.node("Add", [first, length], ["position_end"])[0]
    positions = g.node("Slice", [g.weight("embed_positions", decoder.embed_positions.weight),
                                 first, last, g.weight("axis0", np.array([0], np.int64))],
                       ["positions"])[0]
    x = g.node("Add", [x, positions], ["embedded"])[0]
    norm = getattr(decoder, "layernorm_embedding", None)
    if norm is not None:
        x = _layer_norm(g, x, norm, "ln_embed")
    return x


def _interface(config, layers: int, present: List[str]):
    """Optimum's decoder-with-past inputs and outputs: the same names, order, dtypes and
    shapes (but for the logits' length, which Optimum declares as "1")."""
    heads = config.decoder_attention_heads
    head_dim = config.d_model // heads
    ids = ("batch_size", "decoder_sequence_length")
    cache = ("batch_size", heads, "past_decoder_sequence_length", head_dim)
    cross = ("batch_size", heads, "encoder_sequence_length", head_dim)
    inputs = [helper.make_tensor_value_info("encoder_attention_mask", TensorProto.INT64,
                                            ("batch_size", "encoder_sequence_length")),
              helper.make_tensor_value_info("input_ids", TensorProto.INT64, ids)]
    for i in range(layers):
        for part, shape in (("decoder", cache), ("encoder", cross)):
            for kind in ("key", "value"):
                inputs.append(helper.make_tensor_value_info(
                    f"past_key_values.{i}.{part}.{kind}", TensorProto.FLOAT, shape))
    total = ("batch_size", heads, "past_decoder_sequence_length + decoder_sequence_length", head_dim)
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                             (*ids, config.vocab_size))]
    outputs += [helper.make_tensor_value_info(name, TensorProto.FLOAT, total) for name in present]
    return inputs, outputs


def _layer_norm(g: _Graph, x: str, norm, name: str) -> str:
    return g.node("LayerNormalization", [x, g.weight(f"{name}.g", norm.weight),
                                         g.weight(f"{name}.b", norm.bias)],
                  [name], epsilon=norm.eps)[0]


def _residual(g: _Graph, name: str, block_out: str, stream: str, projection, norm,
              pre_ln: bool):
    """``projection(block_out)`` added to the residual ``stream`` and normalized by
    ``norm``; returns (residual stream, next block's input). Post-LN: both are the
    normalized sum."""
    y = g.node("MatMul", [block_out, g.weight(f"{name}.out.w", _linear_t(projection))],
               [f"{name}.out"])[0]
    outs = g.node("SkipLayerNormalization",
                  [y, stream, g.weight(f"{name}.ln.g", norm.weight),
                   g.weight(f"{name}.ln.b", norm.bias),
                   g.weight(f"{name}.out.b", projection.bias)],
                  [f"{name}.ln", "", "", f"{name}.sum"], ms=True, epsilon=norm.eps)
    return (outs[3], outs[0]) if pre_ln else (outs[0], outs[0])


def _activation(g: _Graph, kind: str, x: str, bias: str, name: str) -> str:
    if kind == "gelu":  # exact (erf) GELU, as torch's default
        return g.node("BiasGelu", [x, bias], [name], ms=True)[0]
    x = g.node("Add", [x, bias], [f"{name}.in"])[0]
    if kind == "relu":
        return g.node("Relu", [x], [name])[0]
    gate = g.node("Sigmoid", [x], [f"{name}.gate"])[0]  # silu / swish: x * sigmoid(x)
    return g.node("Mul", [x, gate], [name])[0]


def fuse_folder(folder: Path, model, *, decoder_with_past: str, graphs: Mapping[str, str],
                input_ids, decoder_start_token_id: int) -> Fused:
    """Replace ``folder/decoder_with_past`` (Optimum's graph) with the fused one when it
    computes the same logits on the sample (``input_ids``); otherwise keep Optimum's and
    say why. ``graphs``: role -> file name of the folder's graphs."""
    original = folder / decoder_with_past
    before = len(onnx.load(str(original), load_external_data=False).graph.node)
    reason = unsupported_reason(model)
    if reason:
        return Fused(before, before, kept_because=reason)
    staging = folder / ".fused"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        fused = build_decoder_with_past(model)
        candidate = staging / decoder_with_past
        onnx.save(fused, str(candidate))
        paths: Dict[str, Path] = {role: folder / name for role, name in graphs.items()}
        reference = probe.seq2seq_logits(paths, input_ids=input_ids,
                                         decoder_start_token_id=decoder_start_token_id)
        chosen = int(np.argmax(reference[0][0]))
        ours = probe.seq2seq_logits({**paths, "decoder_with_past": candidate},
                                    input_ids=input_ids, next_token=chosen,
                                    decoder_start_token_id=decoder_start_token_id)
        diff = float(np.max(np.abs(reference[-1] - ours[-1])))
        scale = max(1.0, float(np.max(np.abs(reference[-1]))))
        if not diff <= TOLERANCE * scale:  # also catches NaN
            return Fused(before, before, diff, f"fused graph differs by {diff:.3g} on the sample")
        shutil.move(str(candidate), str(original))
        return Fused(before, len(fused.graph.node), diff)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
