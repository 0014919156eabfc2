"""Fused decoder graphs for BART-family models, built from the weights.

A cached decoder step works on one token, so its matrix products are small and the
traced graph's other nodes add up: Optimum's bart-small decoder-with-past has 622 nodes
after simplification (reshapes and transposes around every attention, per-head products,
shape arithmetic for the dynamic lengths). onnxruntime's transformer optimizer would fuse
them into its attention kernels, but its BART patterns do not match what transformers
4.57 traces, so nothing is fused.

This module writes the two decoder graphs of a seq2seq export directly with
onnxruntime's fused kernels (the ``com.microsoft`` domain): per self-attention one
``MatMul`` for the packed Q/K/V and a ``MultiHeadAttention`` node that appends to the
cache itself, a cross-attention ``MultiHeadAttention`` over the encoder keys/values, and
``SkipLayerNormalization`` for each residual add + layer norm; a cached layer is 14
nodes. The first step also writes the cross-attention keys/values every later step reads.
Both keep Optimum's interface (input and output names, order, dtypes), so the runtime,
the quantizer and a folder's manifest treat them like the graphs they replace, and the
exporter keeps them only when they compute Optimum's logits (``fuse_folder``). The encoder
stays Optimum's (simplified): written the same way it measured slower on bart-small (the
attention kernel over 512 tokens is no faster than the per-head products it replaces).
docs/BENCHMARKS.md has what fusion buys: a few percent, since a batch-1 step is bound by
reading the weights.

The architecture is the Transformer's (Vaswani et al., 2017, "Attention Is All You
Need") as BART (Lewis et al., 2020) and its relatives arrange it: post-LN layers (BART,
Marian) or pre-LN layers with a final layer norm (mBART, Pegasus), learned or sinusoidal
positions. Other families (T5's relative position bias, BERT2BERT without a cache) keep
Optimum's graphs.
"""
from __future__ import annotations

import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import probe

log = logging.getLogger(__name__)

ROLES = ("decoder", "decoder_with_past")  # the graphs written here; the encoder stays Optimum's
# model_type -> layers put the layer norm before each block (and a final one after them).
PRE_LN = {"bart": False, "marian": False, "mbart": True, "pegasus": True}
OPSET = 17  # LayerNormalization is in the standard domain from 17
# Largest |logit| difference from Optimum's graphs that still counts as the same numbers,
# relative to the largest |logit| (at least 1): only rounding separates the two.
TOLERANCE = 1e-4
PROTOBUF_LIMIT = 2**31 - 1  # one ONNX file without side files holds at most this
_ACTIVATIONS = ("gelu", "relu", "silu", "swish")


@dataclass(frozen=True)
class Fused:
    """What happened to the decoder graphs: node counts of Optimum's graph (as exported,
    before any simplification) and of ours per role (``nodes``: role -> (before, after)), the largest |logit| difference between the
    two sets on the sample; or why Optimum's graphs were kept (``kept_because``)."""

    nodes: Dict[str, Tuple[int, int]]
    max_abs_logit_diff: Optional[float] = None
    kept_because: Optional[str] = None

    def to_json(self) -> dict:
        return {"graphs": {role: {"nodes_before": b, "nodes_after": a}
                           for role, (b, a) in self.nodes.items()},
                "max_abs_logit_diff": self.max_abs_logit_diff, "kept_because": self.kept_because}


def unsupported_reason(model) -> Optional[str]:
    """None when ``build_graphs`` can write ``model``'s graphs, else why not."""
    config = model.config
    if config.model_type not in PRE_LN:
        return f"no fused graphs for {config.model_type} (only {', '.join(sorted(PRE_LN))})"
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
        """An initializer ``name`` (a torch tensor or numpy array); a name already given is
        shared, not written twice."""
        if any(w.name == name for w in self.weights):
            return name
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

    def model(self, name: str, inputs: List[onnx.ValueInfoProto],
              outputs: List[onnx.ValueInfoProto]) -> onnx.ModelProto:
        declared = {v.name for v in outputs}
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.weights, value_info=[
            _tensor(t, TensorProto.FLOAT, None) for t in self.typed if t not in declared])
        return helper.make_model(graph, producer_name="condense.export.fused", opset_imports=[
            helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)])


def _linear_t(linear) -> np.ndarray:
    """A ``torch.nn.Linear`` weight as MatMul wants it: (in, out)."""
    return linear.weight.detach().float().cpu().numpy().T


def _bias(linear) -> np.ndarray:
    return linear.bias.detach().float().cpu().numpy()


def build_graphs(model) -> Dict[str, onnx.ModelProto]:
    """role -> fused graph (``decoder`` for the first step, ``decoder_with_past``) of
    ``model``, a BART-family ``...ForConditionalGeneration`` (see ``unsupported_reason``)."""
    reason = unsupported_reason(model)
    if reason:
        raise ValueError(reason)
    return {role: _decoder(model, cached=role == "decoder_with_past") for role in ROLES}


def _decoder(model, *, cached: bool) -> onnx.ModelProto:
    """The first decoder step (``cached=False``: reads ``encoder_hidden_states``, returns
    both caches) or a later one (reads the caches, returns the decoder's own)."""
    config, decoder = model.config, model.get_decoder()
    heads = config.decoder_attention_heads
    head_dim = config.d_model // heads
    g = _Graph()
    x = _embeddings(g, config, decoder, past="past_key_values.0.decoder.key" if cached else None)
    mask = g.node("Cast", ["encoder_attention_mask"], ["encoder_mask_i32"],
                  to=TensorProto.INT32)[0]
    blocks: List[_Block] = []
    present: List[str] = []
    for i, layer in enumerate(decoder.layers):
        own = (f"present.{i}.decoder.key", f"present.{i}.decoder.value")
        past = (f"past_key_values.{i}.decoder.key", f"past_key_values.{i}.decoder.value")
        if cached:
            cross = (f"past_key_values.{i}.encoder.key", f"past_key_values.{i}.encoder.value")
            present.extend(own)
        else:
            cross = _cross_cache(g, i, layer.encoder_attn, heads)
            present.extend([*own, *cross])
        blocks.append(_Block(f"l{i}.self", layer.self_attn_layer_norm, _self_attention(
            g, f"l{i}.self", layer.self_attn, heads, past=past if cached else None, present=own)))
        blocks.append(_Block(f"l{i}.cross", layer.encoder_attn_layer_norm,
                             _cross_attention(g, f"l{i}.cross", layer.encoder_attn, heads,
                                              cross, mask)))
        blocks.append(_Block(f"l{i}.ffn", layer.final_layer_norm,
                             _feed_forward(g, f"l{i}.ffn", layer, config.activation_function)))
    x = _stack(g, x, blocks, PRE_LN[config.model_type], getattr(decoder, "layer_norm", None))
    logits = g.node("MatMul", [x, g.weight("lm_head.w", _linear_t(model.lm_head))], ["logits0"])[0]
    bias = getattr(model, "final_logits_bias", None)
    if bias is not None:
        g.node("Add", [logits, g.weight("final_logits_bias", bias.reshape(-1))], ["logits"])
    else:
        g.node("Identity", [logits], ["logits"])

    ids = ("batch_size", "decoder_sequence_length")
    enc = ("batch_size", "encoder_sequence_length")
    inputs = [_tensor("encoder_attention_mask", TensorProto.INT64, enc),
              _tensor("input_ids", TensorProto.INT64, ids)]
    length = "past_decoder_sequence_length + decoder_sequence_length" if cached else ids[1]
    shapes = {"decoder": ("batch_size", heads, length, head_dim),
              "encoder": ("batch_size", heads, enc[1], head_dim)}
    if cached:
        for i in range(len(decoder.layers)):
            for part, shape in (("decoder", ("batch_size", heads, "past_decoder_sequence_length",
                                             head_dim)), ("encoder", shapes["encoder"])):
                inputs += [_tensor(f"past_key_values.{i}.{part}.{kind}", TensorProto.FLOAT, shape)
                           for kind in ("key", "value")]
    else:
        inputs.append(_tensor("encoder_hidden_states", TensorProto.FLOAT, (*enc, config.d_model)))
    outputs = [_tensor("logits", TensorProto.FLOAT, (*ids, config.vocab_size))]
    outputs += [_tensor(name, TensorProto.FLOAT, shapes[name.split(".")[2]]) for name in present]
    return g.model("decoder_with_past_fused" if cached else "decoder_fused", inputs, outputs)


def _tensor(name: str, dtype: int, shape: Sequence) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


def _embeddings(g: _Graph, config, stack, *, past: Optional[str]) -> str:
    """Token embedding (times sqrt(d_model) where the config scales it) plus the positions
    P + offset ... P + offset + S - 1 (P: the length of the cache input ``past``, 0 without
    one), then BART's embedding layer norm. ``stack``: the encoder or the decoder."""
    x = g.node("Gather", [g.weight("embed_tokens", stack.embed_tokens.weight), "input_ids"],
               ["tokens"])[0]
    if config.scale_embedding:
        x = g.node("Mul", [x, g.weight("embed_scale", np.array(math.sqrt(config.d_model),
                                                                np.float32))],
                   ["tokens_scaled"])[0]
    offset = getattr(stack.embed_positions, "offset", 0)  # BART's learned table starts at 2
    first = g.weight("position_offset", np.array([offset], np.int64))
    if past is not None:
        length = g.node("Shape", [past], ["past_len"], start=2, end=3)[0]
        first = g.node("Add", [length, first], ["position_first"])[0]
    length = g.node("Shape", ["input_ids"], ["seq_len"], start=1, end=2)[0]
    last = g.node("Add", [first, length], ["position_end"])[0]
    positions = g.node("Slice", [g.weight("embed_positions", stack.embed_positions.weight),
                                 first, last, g.weight("axis0", np.array([0], np.int64))],
                       ["positions"])[0]
    x = g.node("Add", [x, positions], ["embedded"])[0]
    norm = getattr(stack, "layernorm_embedding", None)
    if norm is not None:
        x = _layer_norm(g, x, norm, "ln_embed")
    return x


# A block reads its (normalized) input and returns its output before the projection back
# to d_model, and that projection; ``_stack`` adds the residuals and the norms.
_BlockFn = Callable[[str], Tuple[str, object]]


@dataclass(frozen=True)
class _Block:
    name: str
    norm: object  # the block's own torch LayerNorm
    run: _BlockFn


def _stack(g: _Graph, x: str, blocks: Sequence[_Block], pre_ln: bool, final_norm) -> str:
    """Residual blocks in order; returns the last block's normalized output.

    Post-LN normalizes the residual stream after each add with the block's own norm.
    Pre-LN keeps the stream and normalizes a copy before each block, so the norm fused
    after block j is block j + 1's (the stack's final norm after the last block).
    SkipLayerNormalization gives both: output 0 = LN(input + skip + bias), output 3 the
    sum itself."""
    stream = x
    block_in = _layer_norm(g, x, blocks[0].norm, f"{blocks[0].name}.pre_ln") if pre_ln else x
    for j, block in enumerate(blocks):
        out, projection = block.run(block_in)
        if pre_ln:
            after = blocks[j + 1].norm if j + 1 < len(blocks) else final_norm
        else:
            after = block.norm
        stream, block_in = _residual(g, block.name, out, stream, projection, after, pre_ln)
    return block_in


def _self_attention(g: _Graph, p: str, attn, heads: int, *, past: Optional[Tuple[str, str]],
                    present: Tuple[str, str]) -> _BlockFn:
    """The decoder's causal self-attention; its keys/values, after ``past`` when given,
    are the cache outputs ``present``. (Decoder rows are never padded: finished rows
    go on with pad tokens, as in transformers.)"""
    def run(x: str):
        qkv = g.node("MatMul", [x, g.weight(f"{p}.qkv.w", np.concatenate(
            [_linear_t(attn.q_proj), _linear_t(attn.k_proj), _linear_t(attn.v_proj)], axis=1))],
            [f"{p}.qkv"])[0]
        q, k, v = g.node("Split", [qkv], [f"{p}.q", f"{p}.k", f"{p}.v"], axis=-1)
        bias = g.weight(f"{p}.qkv.b", np.concatenate(
            [_bias(attn.q_proj), _bias(attn.k_proj), _bias(attn.v_proj)]))
        inputs = [q, k, v, bias, "", "", *(past or ("", ""))]
        out = g.node("MultiHeadAttention", inputs, [f"{p}.attn", *present], ms=True,
                     num_heads=heads, unidirectional=1)[0]
        return out, attn.out_proj
    return run


def _cross_attention(g: _Graph, p: str, attn, heads: int, cache: Tuple[str, str],
                     mask: str) -> _BlockFn:
    """Attention over the encoder's keys/values ``cache`` (batch, heads, length, head_dim)."""
    def run(x: str):
        q = g.node("MatMul", [x, g.weight(f"{p}.q.w", _linear_t(attn.q_proj))], [f"{p}.q0"])[0]
        q = g.node("Add", [q, g.weight(f"{p}.q.b", _bias(attn.q_proj))], [f"{p}.q"])[0]
        out = g.node("MultiHeadAttention", [q, *cache, "", mask], [f"{p}.attn"], ms=True,
                     num_heads=heads)[0]
        return out, attn.out_proj
    return run


def _cross_cache(g: _Graph, i: int, attn, heads: int) -> Tuple[str, str]:
    """The cross-attention keys and values of layer ``i`` from ``encoder_hidden_states``, as
    the cache outputs ``present.{i}.encoder.key/value`` (batch, heads, length, head_dim)."""
    split = g.weight("heads_shape", np.array([0, -1, heads, attn.head_dim], np.int64))
    names = []
    for kind, proj in (("key", attn.k_proj), ("value", attn.v_proj)):
        p = f"l{i}.cross.{kind}"
        y = g.node("MatMul", ["encoder_hidden_states", g.weight(f"{p}.w", _linear_t(proj))],
                   [f"{p}.0"])[0]
        y = g.node("Add", [y, g.weight(f"{p}.b", _bias(proj))], [f"{p}.1"])[0]
        y = g.node("Reshape", [y, split], [f"{p}.2"])[0]
        names += g.node("Transpose", [y], [f"present.{i}.encoder.{kind}"], perm=[0, 2, 1, 3])
    return names[0], names[1]


def _feed_forward(g: _Graph, p: str, layer, activation: str) -> _BlockFn:
    def run(x: str):
        h = g.node("MatMul", [x, g.weight(f"{p}.fc1.w", _linear_t(layer.fc1))], [f"{p}.fc1"])[0]
        return _activation(g, activation, h, g.weight(f"{p}.fc1.b", _bias(layer.fc1)),
                           f"{p}.act"), layer.fc2
    return run


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


def fuse_folder(folder: Path, model, *, graphs: Mapping[str, str], input_ids,
                decoder_start_token_id: int) -> Fused:
    """Replace the folder's decoder graphs (``graphs``: role -> file name of every graph, as
    Optimum wrote them) with the fused ones when those compute the same logits on the
    sample (``input_ids``: the first step and a cached step); otherwise keep Optimum's and
    say why."""
    before = {role: len(onnx.load(str(folder / graphs[role]), load_external_data=False)
                        .graph.node) for role in ROLES}
    kept = {role: (n, n) for role, n in before.items()}
    reason = unsupported_reason(model)
    if any(any(folder.glob(f"{graphs[role]}?data")) for role in ROLES):
        reason = reason or "weights over 2 GB (Optimum wrote them to side files)"
    if reason:
        return Fused(kept, kept_because=reason)
    staging = folder / ".fused"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        return _check_and_move(folder, staging, model, graphs, before, input_ids,
                               decoder_start_token_id)
    # An optimization, never a requirement: whatever goes wrong, Optimum's graphs stay.
    except Exception as e:  # noqa: BLE001
        log.warning("fused graphs not used: %s: %s", type(e).__name__, e)
        return Fused(kept, kept_because=f"fused graphs failed: {type(e).__name__}: {e}"[:300])
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_and_move(folder: Path, staging: Path, model, graphs: Mapping[str, str],
                    before: Mapping[str, int], input_ids, decoder_start_token_id: int) -> Fused:
    """Build the fused graphs into ``staging``, run both sets on the sample, and move ours
    into ``folder`` only when the logits agree."""
    kept = {role: (n, n) for role, n in before.items()}
    fused = build_graphs(model)
    for role, graph in fused.items():
        if graph.ByteSize() > PROTOBUF_LIMIT:
            return Fused(kept, kept_because="weights over 2 GB (one protobuf cannot hold them)")
        onnx.save(graph, str(staging / graphs[role]))
    paths = {role: folder / name for role, name in graphs.items()}
    reference = probe.seq2seq_logits(paths, input_ids=input_ids,
                                     decoder_start_token_id=decoder_start_token_id)
    chosen = int(np.argmax(reference[0][0]))  # both sets are fed the same second token
    ours = probe.seq2seq_logits({**paths, **{r: staging / graphs[r] for r in ROLES}},
                                input_ids=input_ids, next_token=chosen,
                                decoder_start_token_id=decoder_start_token_id)
    diff = max(float(np.max(np.abs(r - o))) for r, o in zip(reference, ours, strict=True))
    scale = max(1.0, max(float(np.max(np.abs(r))) for r in reference))
    if not diff <= TOLERANCE * scale:  # also catches NaN
        return Fused(kept, diff, f"fused graphs differ by {diff:.3g} on the sample")
    for role in ROLES:
        shutil.move(str(staging / graphs[role]), str(folder / graphs[role]))
    return Fused({role: (before[role], len(fused[role].graph.node)) for role in ROLES}, diff)
