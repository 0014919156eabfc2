"""Tiny random Hugging Face checkpoints for tests: no downloads, built from configs in ~1 s.

    from tests.tiny_models import make_tiny_seq2seq, make_tiny_causal
    folder = make_tiny_seq2seq("bart", tmp_path / "bart")   # or "t5", "encoder-decoder"
    folder = make_tiny_causal("llama", tmp_path / "llama")  # or "gpt2"

Each call writes a folder that ``from_pretrained`` and ``python -m export onnx`` accept:
``config.json``, ``generation_config.json``, ``model.safetensors`` and a fast tokenizer
(``tokenizer.json`` + ``tokenizer_config.json`` + ``special_tokens_map.json``). Weights are
random but seeded (same kind -> same weights), so runtime tests can compare against PyTorch.

The tokenizer is a word-level one trained on ``CORPUS`` (lower-cased, split on whitespace
and punctuation; unknown words map to the unknown token). Its special tokens sit at the ids
each family expects, listed in ``SPECIAL_TOKENS``; the model's vocabulary is ``VOCAB_SIZE``
(larger than the tokenizer's, as in real checkpoints whose embeddings are padded).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    EncoderDecoderConfig,
    EncoderDecoderModel,
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

VOCAB_SIZE = 128
MAX_POSITIONS = 64
SEED = 0

CORPUS = [
    "The council approved the new budget for the city library on Monday.",
    "Heavy rain flooded the river valley and closed two roads near the bridge.",
    "The team won the final match after a late goal in extra time.",
    "Scientists found that the small fish can survive in very cold water.",
    "A new train line will connect the airport with the old town centre.",
    "Prices of bread and milk rose again this month, the report said.",
]

# Special tokens in id order (id 0 first), per tokenizer family, with the roles they play.
SPECIAL_TOKENS: Dict[str, List[Tuple[str, str]]] = {
    "bart": [("bos", "<s>"), ("pad", "<pad>"), ("eos", "</s>"), ("unk", "<unk>")],
    "t5": [("pad", "<pad>"), ("eos", "</s>"), ("unk", "<unk>")],
    "bert": [("pad", "[PAD]"), ("unk", "[UNK]"), ("cls", "[CLS]"), ("sep", "[SEP]"),
             ("mask", "[MASK]")],
    "gpt2": [("eos", "<|endoftext|>")],
    "llama": [("unk", "<unk>"), ("bos", "<s>"), ("eos", "</s>")],
}

# How each family wraps a single text: the template's special tokens.
_TEMPLATES = {
    "bart": "<s> $A </s>",
    "t5": "$A </s>",
    "bert": "[CLS] $A [SEP]",
    "llama": "<s> $A",
}


def special_ids(family: str) -> Dict[str, int]:
    """Role -> id of a family's special tokens, e.g. ``special_ids("t5") == {"pad": 0, ...}``."""
    return {role: i for i, (role, _) in enumerate(SPECIAL_TOKENS[family])}


def make_tokenizer(family: str, path: Path) -> PreTrainedTokenizerFast:
    """Train a word-level tokenizer for ``family`` on ``CORPUS`` and save it to ``path``."""
    specials = SPECIAL_TOKENS[family]
    tokens = [tok for _, tok in specials]
    roles = {role: tok for role, tok in specials}
    unk = roles.get("unk", roles.get("eos"))  # GPT-2 has no unknown token; its eos stands in
    tok = Tokenizer(models.WordLevel(unk_token=unk))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    # The trainer gives special tokens the first ids, in list order: the layout above.
    tok.train_from_iterator(CORPUS, trainers.WordLevelTrainer(special_tokens=tokens))
    if family in _TEMPLATES:
        template = _TEMPLATES[family]
        used = [t for t in tokens if t in template.split()]
        tok.post_processor = processors.TemplateProcessing(
            single=template, special_tokens=[(t, tok.token_to_id(t)) for t in used]
        )
    kwargs = {f"{role}_token": t for role, t in specials}
    if family == "gpt2":  # GPT-2's one special token is its bos, eos and unk at once
        kwargs.update(bos_token=unk, unk_token=unk)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=MAX_POSITIONS, **kwargs)
    fast.save_pretrained(path)
    return fast


def _save(model: torch.nn.Module, generation: GenerationConfig, path: Path) -> Path:
    model.eval()
    model.generation_config = generation
    model.save_pretrained(path, safe_serialization=True)
    return path


def make_tiny_seq2seq(kind: str, path: Path) -> Path:
    """A tiny random encoder-decoder in ``path``: ``kind`` is "bart", "t5" or "encoder-decoder"
    (a BERT2BERT ``EncoderDecoderModel``). Returns ``path``.

    Decoder start token: bart -> eos (2), t5 -> pad (0), encoder-decoder -> [CLS] (2); it is
    in ``config.json`` (``decoder_start_token_id``) and in ``generation_config.json``.
    """
    path = Path(path)
    torch.manual_seed(SEED)
    if kind == "bart":
        ids = special_ids("bart")
        config = BartConfig(
            vocab_size=VOCAB_SIZE, d_model=32, encoder_layers=2, decoder_layers=2,
            encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
            decoder_ffn_dim=64, max_position_embeddings=MAX_POSITIONS, bos_token_id=ids["bos"],
            pad_token_id=ids["pad"], eos_token_id=ids["eos"], decoder_start_token_id=ids["eos"],
            forced_eos_token_id=ids["eos"],
        )
        model = BartForConditionalGeneration(config)
        start, pad, eos = ids["eos"], ids["pad"], ids["eos"]
    elif kind == "t5":
        ids = special_ids("t5")
        config = T5Config(
            vocab_size=VOCAB_SIZE, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2,
            num_heads=4, relative_attention_num_buckets=8, relative_attention_max_distance=32,
            pad_token_id=ids["pad"], eos_token_id=ids["eos"], decoder_start_token_id=ids["pad"],
        )
        model = T5ForConditionalGeneration(config)
        start, pad, eos = ids["pad"], ids["pad"], ids["eos"]
    elif kind == "encoder-decoder":
        ids = special_ids("bert")
        bert = dict(
            vocab_size=VOCAB_SIZE, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64, max_position_embeddings=MAX_POSITIONS, pad_token_id=ids["pad"],
        )
        config = EncoderDecoderConfig.from_encoder_decoder_configs(
            BertConfig(**bert), BertConfig(**bert, is_decoder=True, add_cross_attention=True)
        )
        # EncoderDecoderModel reads these from the top-level config, not from the parts.
        config.decoder_start_token_id = ids["cls"]
        config.pad_token_id = ids["pad"]
        config.eos_token_id = ids["sep"]
        model = EncoderDecoderModel(config=config)
        start, pad, eos = ids["cls"], ids["pad"], ids["sep"]
    else:
        raise ValueError(f"unknown seq2seq kind {kind!r}: use 'bart', 't5' or 'encoder-decoder'")
    family = "bert" if kind == "encoder-decoder" else kind
    make_tokenizer(family, path)
    generation = GenerationConfig(
        decoder_start_token_id=start, pad_token_id=pad, eos_token_id=eos,
        bos_token_id=getattr(config, "bos_token_id", None), max_length=MAX_POSITIONS,
        forced_eos_token_id=eos if kind == "bart" else None,
    )
    return _save(model, generation, path)


def make_tiny_causal(kind: str, path: Path, *, wide: bool = False) -> Path:
    """A tiny random decoder-only model in ``path``: ``kind`` is "gpt2" or "llama" (with
    grouped-query attention: 4 query heads, 2 key/value heads). Returns ``path``.
    ``wide`` (gpt2): 8 layers of 256, slow enough per token that the browser tests see
    text arrive piece by piece (with the 2 layers of 32 all of it came in one message)."""
    path = Path(path)
    torch.manual_seed(SEED)
    if kind == "gpt2":
        eos = special_ids("gpt2")["eos"]
        width, depth = (256, 8) if wide else (32, 2)
        config = GPT2Config(
            vocab_size=VOCAB_SIZE, n_embd=width, n_layer=depth, n_head=4,
            n_positions=MAX_POSITIONS, bos_token_id=eos, eos_token_id=eos,
        )
        model = GPT2LMHeadModel(config)
        generation = GenerationConfig(bos_token_id=eos, eos_token_id=eos, max_length=MAX_POSITIONS)
    elif kind == "llama":
        ids = special_ids("llama")
        config = LlamaConfig(
            vocab_size=VOCAB_SIZE, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=MAX_POSITIONS,
            bos_token_id=ids["bos"], eos_token_id=ids["eos"], pad_token_id=None,
        )
        model = LlamaForCausalLM(config)
        generation = GenerationConfig(
            bos_token_id=ids["bos"], eos_token_id=ids["eos"], max_length=MAX_POSITIONS
        )
    else:
        raise ValueError(f"unknown causal kind {kind!r}: use 'gpt2' or 'llama'")
    make_tokenizer(kind, path)
    return _save(model, generation, path)


def sharpen(folder: Path, auto_class) -> Path:
    """Redraw every weight matrix of the checkpoint in ``folder`` with std 0.3 (seeded) and
    save it back. Default initialisation (std 0.02) makes next-token scores near-ties, where
    float noise between torch and onnxruntime could flip a choice; parity tests use this.
    ``auto_class``: ``AutoModelForSeq2SeqLM`` or ``AutoModelForCausalLM``."""
    model = auto_class.from_pretrained(folder).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


CHATML = ("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + "
          "'<|im_end|>\\n'}}{% endfor %}{% if add_generation_prompt %}"
          "{{ '<|im_start|>assistant\\n' }}{% endif %}")


def make_tiny_gguf(path: Path, *, q4_1: bool = False, q8_0_embedding: bool = False) -> Path:
    """A 2-layer Llama in GGUF with a byte-level BPE vocabulary and SmolLM2's header quirks:
    eos = <|im_start|> (wrong: replies end with <|im_end|>), add_bos_token false, ChatML.
    ``q4_1``: the layers' weights stored as Q4_1 blocks, as SmolLM2's are;
    ``q8_0_embedding``: the (tied) embedding as Q8_0 blocks, as SmolLM2's is."""
    import gguf
    import numpy as np

    hidden, ffn, layers, heads, kv_heads = 32, 64, 2, 4, 2
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokens = specials + sorted(pre_tokenizers.ByteLevel.alphabet()) + ["Ġt", "he", "Ġthe"]
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(layers)
    w.add_context_length(64)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_rope_dimension_count(hidden // heads)
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([3] * len(specials) + [1] * (len(tokens) - len(specials)))
    w.add_token_merges(["Ġ t", "h e", "Ġt he"])
    w.add_bos_token_id(1)
    w.add_eos_token_id(1)
    w.add_unk_token_id(0)
    w.add_pad_token_id(2)
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML)
    rng = np.random.default_rng(0)

    def weight(*shape):
        return (rng.normal(size=shape) * 0.3).astype(np.float32)

    kv = kv_heads * hidden // heads
    if q8_0_embedding:
        w.add_tensor("token_embd.weight", gguf.quants.quantize(
            weight(len(tokens), hidden), gguf.GGMLQuantizationType.Q8_0),
            raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    else:
        w.add_tensor("token_embd.weight", weight(len(tokens), hidden))
    w.add_tensor("output_norm.weight", np.ones(hidden, np.float32))
    for i in range(layers):
        for name, shape in (("attn_q", (hidden, hidden)), ("attn_k", (kv, hidden)),
                            ("attn_v", (kv, hidden)), ("attn_output", (hidden, hidden)),
                            ("ffn_gate", (ffn, hidden)), ("ffn_up", (ffn, hidden)),
                            ("ffn_down", (hidden, ffn))):
            if q4_1:
                w.add_tensor(f"blk.{i}.{name}.weight",
                             gguf.quants.quantize(weight(*shape), gguf.GGMLQuantizationType.Q4_1),
                             raw_dtype=gguf.GGMLQuantizationType.Q4_1)
            else:
                w.add_tensor(f"blk.{i}.{name}.weight", weight(*shape))
        for name in ("attn_norm", "ffn_norm"):
            w.add_tensor(f"blk.{i}.{name}.weight", np.ones(hidden, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def randomize_lora_b(model, names, *, seed: int, scale: float = 0.5) -> None:
    """Draw each LoRA layer's B from N(0, scale^2): a fresh adapter has B = 0 and would
    change nothing."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name in names:
            layer = model.get_submodule(name)
            layer.lora_B.copy_(torch.randn(layer.lora_B.shape, generator=g) * scale)

