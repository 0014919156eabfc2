"""A GGUF Llama (llama.cpp's file format) read with the ``gguf`` package and numpy alone:
its shape, its vocabulary and its weights under Hugging Face's names and in its layout.

What we read is what transformers' GGUF loader reads (``load_gguf_checkpoint`` and
``LlamaTensorProcessor`` in ``modeling_gguf_pytorch_utils.py``, 4.57): every tensor
dequantized to fp32 by ``gguf.quants.dequantize``, GGUF's names mapped to Hugging Face's
(``blk.3.attn_q.weight`` -> ``model.layers.3.self_attn.q_proj.weight``), and the query and
key rows put back in Hugging Face's order. llama.cpp's converter interleaves each head's two
rotary halves (``convert_hf_to_gguf.py``, ``LlamaModel.permute``) for its own rotary
kernel; undone here, the graph rotates halves as transformers does, and its cache holds
keys in the same order as an export through transformers.

``unsupported_reason`` names what this reader does not take, so that the caller can go
through transformers instead: other architectures, SentencePiece vocabularies, rotary
scaling, mixtures of experts, tensors it has no place for (biases, ``rope_freqs``), and
models over 2 GB in fp32 (about 500M parameters: the graph is one ONNX file).
Departure from transformers: transformers converts a file with ``rope.scaling.type`` or a
``rope_freqs`` tensor and ignores both, which gives another model than llama.cpp runs;
here such a file is refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .errors import ExportError

ARCHITECTURE = "llama"
# Byte-level BPE (GPT-2, Llama 3, SmolLM2): the vocabulary written without transformers.
TOKENIZER_MODEL = "gpt2"
# GGUF tensor -> Hugging Face parameter, per layer (``blk.N.<key>.weight``).
LAYER_TENSORS = {
    "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
    "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
}
MODEL_TENSORS = {"token_embd": "model.embed_tokens", "output_norm": "model.norm",
                 "output": "lm_head"}
CONTROL = 3  # tokenizer.ggml.token_type of a special (control) token
# One ONNX file holds at most 2 GB (a protobuf); the graph is written in fp32, without the
# side file of weights that larger exports need.
PROTOBUF_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class LlamaShape:
    """The sizes and constants of the network, from the GGUF header (``llama.*``)."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    context_length: int
    tied_embeddings: bool  # no output.weight: the LM head is the token embedding
    name: Optional[str] = None  # general.name


@dataclass(frozen=True)
class Vocabulary:
    """``tokenizer.ggml.*``: the tokens, their types (3: special), BPE merges ("a b"),
    the special ids, whether a bos is prepended, and the chat template."""

    model: str
    tokens: Tuple[str, ...]
    types: Tuple[int, ...]
    merges: Tuple[str, ...]
    bos_id: Optional[int]
    eos_id: Optional[int]
    unk_id: Optional[int]
    pad_id: Optional[int]
    add_bos: bool
    chat_template: Optional[str]

    def token(self, index: Optional[int]) -> Optional[str]:
        return self.tokens[index] if index is not None and 0 <= index < len(self.tokens) else None


class LlamaGGUF:
    """One open GGUF file. ``shape`` and ``vocabulary`` raise ``ExportError`` for a file
    that is not a Llama this module reads (check ``unsupported_reason`` first)."""

    def __init__(self, path: Path) -> None:
        from gguf import GGUFReader

        self.path = Path(path)
        if not self.path.is_file():
            raise ExportError(str(path), "no such file", "Pass the path of a .gguf file")
        try:
            self.reader = GGUFReader(str(self.path))
        except (ValueError, OSError) as e:  # bad magic, cut-off file
            raise ExportError(str(path), f"not a GGUF file gguf can read ({e})",
                              "Pass a .gguf file llama.cpp writes") from e
        self.fields: Dict[str, Any] = {k: f.contents() for k, f in self.reader.fields.items()}
        self.tensors = {t.name: t for t in self.reader.tensors}

    def field(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    def unsupported_reason(self) -> Optional[str]:
        """None when this module reads the file, else what it does not take."""
        arch = self.field("general.architecture")
        if arch != ARCHITECTURE:
            return f"architecture {arch!r} (only {ARCHITECTURE!r} is written without transformers)"
        tokenizer = self.field("tokenizer.ggml.model")
        if tokenizer != TOKENIZER_MODEL:
            return (f"tokenizer model {tokenizer!r} (only byte-level BPE, {TOKENIZER_MODEL!r}, "
                    "is written without transformers)")
        for key in ("llama.rope.scaling.type", "llama.expert_count"):
            value = self.field(key)
            if value not in (None, "none", 0):
                return f"{key} = {value!r}"
        heads = self.field("llama.attention.head_count")
        hidden = self.field("llama.embedding_length")
        if not heads or not hidden or hidden % heads:
            return f"embedding length {hidden} is not a multiple of the head count {heads}"
        for key in ("llama.rope.dimension_count", "llama.attention.key_length",
                    "llama.attention.value_length"):
            if self.field(key) not in (None, hidden // heads):
                return f"{key} = {self.field(key)} differs from the head size {hidden // heads}"
        known = set(self._names())
        extra = sorted(set(self.tensors) - known)
        if extra:
            return f"tensors this reader has no place for ({', '.join(extra[:3])})"
        fp32 = 4 * sum(int(t.n_elements) for t in self.tensors.values())
        embedding = self.tensors.get("token_embd.weight")
        if "output.weight" not in self.tensors and embedding is not None:
            fp32 += 4 * int(embedding.n_elements)  # the tied LM head is written again
        if fp32 > PROTOBUF_LIMIT:
            return f"{fp32 / 1e9:.1f} GB of fp32 weights (one ONNX file holds 2 GB)"
        return None

    @property
    def shape(self) -> LlamaShape:
        f, heads = self.field, int(self.field("llama.attention.head_count"))
        hidden = int(f("llama.embedding_length"))
        vocab = f("llama.vocab_size") or len(f("tokenizer.ggml.tokens") or ())
        return LlamaShape(
            vocab_size=int(vocab), hidden_size=hidden,
            intermediate_size=int(f("llama.feed_forward_length")),
            num_layers=int(f("llama.block_count")), num_heads=heads,
            num_kv_heads=int(f("llama.attention.head_count_kv", heads)),
            head_dim=hidden // heads,
            rms_norm_eps=float(f("llama.attention.layer_norm_rms_epsilon")),
            rope_theta=float(f("llama.rope.freq_base", 10000.0)),
            context_length=int(f("llama.context_length")),
            tied_embeddings="output.weight" not in self.tensors,
            name=f("general.name"))

    @property
    def vocabulary(self) -> Vocabulary:
        f = self.field

        def index(key: str) -> Optional[int]:
            value = f(f"tokenizer.ggml.{key}")
            return None if value is None else int(value)

        return Vocabulary(
            model=f("tokenizer.ggml.model"), tokens=tuple(f("tokenizer.ggml.tokens") or ()),
            types=tuple(int(t) for t in f("tokenizer.ggml.token_type") or ()),
            merges=tuple(f("tokenizer.ggml.merges") or ()), bos_id=index("bos_token_id"),
            eos_id=index("eos_token_id"), unk_id=index("unknown_token_id"),
            pad_id=index("padding_token_id"),
            add_bos=bool(f("tokenizer.ggml.add_bos_token", False)),
            chat_template=f("tokenizer.chat_template"))

    def _names(self) -> Dict[str, str]:
        """GGUF tensor name -> Hugging Face parameter name, for every tensor a Llama has."""
        names = {f"{g}.weight": f"{h}.weight" for g, h in MODEL_TENSORS.items()}
        for i in range(int(self.field("llama.block_count", 0))):
            names.update({f"blk.{i}.{g}.weight": f"model.layers.{i}.{h}.weight"
                          for g, h in LAYER_TENSORS.items()})
        return names

    def weights(self) -> Dict[str, np.ndarray]:
        """Hugging Face parameter name -> fp32 array in its layout (a linear layer's weight
        is (out, in)), as transformers loads the file."""
        from gguf.quants import dequantize

        shape = self.shape
        out = {}
        for gguf_name, hf_name in self._names().items():
            tensor = self.tensors.get(gguf_name)
            if tensor is None:
                if gguf_name == "output.weight":
                    continue  # tied to the embedding
                raise ExportError(str(self.path), f"tensor {gguf_name} is missing",
                                  "Convert the model to GGUF again with llama.cpp")
            # a copy: an F32 tensor comes back as a read-only view of the file
            weight = np.array(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32)
            if ".attn_q." in gguf_name:
                weight = unpermute_rotary(weight, shape.num_heads)
            elif ".attn_k." in gguf_name:
                weight = unpermute_rotary(weight, shape.num_kv_heads)
            out[hf_name] = weight
        return out


def unpermute_rotary(weight: np.ndarray, heads: int) -> np.ndarray:
    """Undo llama.cpp's ``permute`` of a query or key projection (out, in): in each head,
    rows 2j and 2j + 1 (a rotary pair) go back to rows j and j + head_dim / 2
    (transformers' ``_reverse_permute_weights``)."""
    half = weight.shape[0] // heads // 2
    pairs = weight.reshape(heads, half, 2, *weight.shape[1:])
    return np.ascontiguousarray(pairs.swapaxes(2, 1).reshape(weight.shape))
