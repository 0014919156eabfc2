"""The text files of a model folder written from a GGUF Llama, without transformers: the
fast tokenizer (``tokenizer.json`` and the files beside it), ``config.json`` and
``generation_config.json``.

They are the files transformers writes for the same GGUF (``AutoTokenizer`` and
``AutoModelForCausalLM.from_pretrained(..., gguf_file=...)``, 4.57, then
``save_pretrained``), with the corrections ``export/gguf.py`` made to them when it went
through transformers; ``tests/test_gguf_llama.py`` compares the two routes file by file.
The vocabulary is byte-level BPE (``tokenizer.ggml.model = gpt2``), built as transformers'
``GGUFLlamaConverter`` builds a Llama 3 style one: a ``BPE`` model with every token and
merge of the file (``fuse_unk``, ``byte_fallback``), the file's control tokens (type 3) as
special added tokens, an empty normalizer and ``ByteLevel`` pre-tokenization. Then, as
``export/gguf.py`` fixed it:

* a bos token is prepended only when the file says ``tokenizer.ggml.add_bos_token``;
* decoding is ``ByteLevel`` alone (transformers puts SentencePiece's steps in front);
* a ChatML template (``<|im_start|>``/``<|im_end|>``) ends replies with ``<|im_end|>``.

Departure: without ChatML or ``eos_token``, transformers takes the bos token for the eos
(``GGUFLlamaConverter.tokenizer`` reads ``bos_token_id`` for both) and generation would
stop at the wrong token; here the eos is ``tokenizer.ggml.eos_token_id``'s token.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from .errors import ExportError
from .gguf_llama import CONTROL, LlamaShape, Vocabulary

CHATML_START, CHATML_END = "<|im_start|>", "<|im_end|>"


def reply_end(template: Optional[str], eos_token: Optional[str],
              file_eos: Optional[str]) -> Optional[str]:
    """The token that ends a reply: ``eos_token`` when given, ``<|im_end|>`` under a
    ChatML ``template``, else the file's eos."""
    template = template or ""
    if eos_token is None and CHATML_START in template and CHATML_END in template:
        return CHATML_END
    return eos_token or file_eos


def end_token(vocab: Vocabulary, eos_token: Optional[str]) -> Optional[str]:
    """``reply_end`` of the GGUF file's own template and eos."""
    return reply_end(vocab.chat_template, eos_token, vocab.token(vocab.eos_id))


def byte_level_post_processor(bos: Optional[str], bos_id: Optional[int], add_bos: bool):
    """Byte-level post-processing, with ``bos`` put first when the file asks for it
    (``tokenizer.ggml.add_bos_token``), as llama.cpp tokenizes."""
    from tokenizers import processors

    if add_bos and bos is not None:
        return processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                          special_tokens=[(bos, bos_id)])])
    return processors.ByteLevel(trim_offsets=False)


def build_tokenizer(vocab: Vocabulary, specials: List[str]):
    """The ``tokenizers.Tokenizer`` of ``vocab``; ``specials``: tokens that must be special
    added tokens besides the control ones (bos, eos, unk, pad: transformers'
    ``PreTrainedTokenizerFast`` adds those it does not find among the added tokens)."""
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE

    ids = {token: i for i, token in enumerate(vocab.tokens)}
    merges = [tuple(m.split(" ")) for m in vocab.merges]
    tok = Tokenizer(BPE(ids, merges, unk_token=vocab.token(vocab.unk_id), fuse_unk=True,
                        byte_fallback=True))
    control = [t for t, kind in zip(vocab.tokens, vocab.types) if kind == CONTROL]
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in control])
    have = set(control)
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True)
                            for t in dict.fromkeys(specials) if t not in have])
    tok.normalizer = normalizers.Sequence([])
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False,
                                                 use_regex=True)
    tok.post_processor = byte_level_post_processor(vocab.token(vocab.bos_id), vocab.bos_id,
                                                   vocab.add_bos)
    tok.decoder = decoders.ByteLevel()
    return tok


def write_model_files(out: Path, *, source: Path, shape: LlamaShape, vocab: Vocabulary,
                      eos_token: Optional[str] = None) -> int:
    """Write the tokenizer files, ``config.json`` and ``generation_config.json`` of the
    GGUF ``source`` into ``out``; returns the eos id."""
    eos = end_token(vocab, eos_token)
    eos_id = None if eos is None else (vocab.tokens.index(eos) if eos in vocab.tokens else None)
    if eos_id is None:
        raise ExportError(str(source), f"the end token {eos!r} is not in its vocabulary",
                          "Pass --eos-token with a token the model ends its turns with")
    bos, unk = vocab.token(vocab.bos_id), vocab.token(vocab.unk_id)
    specials = {"bos_token": bos, "eos_token": eos, "unk_token": unk, "pad_token": eos}
    tokenizer = build_tokenizer(vocab, [t for t in specials.values() if t is not None])
    tokenizer.save(str(out / "tokenizer.json"))
    decoder = {str(i): {"content": t.content, "lstrip": t.lstrip, "normalized": t.normalized,
                        "rstrip": t.rstrip, "single_word": t.single_word, "special": t.special}
               for i, t in sorted(tokenizer.get_added_tokens_decoder().items())}
    _json(out / "tokenizer_config.json", {
        "added_tokens_decoder": decoder, **{k: v for k, v in specials.items() if v is not None},
        "clean_up_tokenization_spaces": False, "extra_special_tokens": {},
        "model_max_length": shape.context_length, "tokenizer_class": "PreTrainedTokenizerFast"})
    _json(out / "special_tokens_map.json", {  # as save_pretrained writes AddedTokens
        k: {"content": v, "lstrip": False, "normalized": False, "rstrip": False,
            "single_word": False} for k, v in specials.items() if v is not None})
    if vocab.chat_template:
        (out / "chat_template.jinja").write_text(vocab.chat_template, encoding="utf-8")
    pad_id = vocab.pad_id
    _json(out / "config.json", {
        **({"_model_name_or_path": shape.name} if shape.name else {}),
        "architectures": ["LlamaForCausalLM"], "attention_bias": False,
        "attention_dropout": 0.0, **_ids(bos=vocab.bos_id, eos=eos_id), "dtype": "float32",
        "head_dim": shape.head_dim, "hidden_act": "silu", "hidden_size": shape.hidden_size,
        "initializer_range": 0.02, "intermediate_size": shape.intermediate_size,
        "max_position_embeddings": shape.context_length, "mlp_bias": False,
        "model_type": "llama", "num_attention_heads": shape.num_heads,
        "num_hidden_layers": shape.num_layers, "num_key_value_heads": shape.num_kv_heads,
        **_ids(pad=pad_id), "pretraining_tp": 1, "rms_norm_eps": shape.rms_norm_eps,
        "rope_scaling": None, "rope_theta": shape.rope_theta,
        "tie_word_embeddings": shape.tied_embeddings, **_ids(unk=vocab.unk_id),
        "use_cache": True, "vocab_size": shape.vocab_size})
    # GenerationConfig.from_model_config, then export/gguf.py's eos and pad
    _json(out / "generation_config.json", {
        "_from_model_config": True,
        **_ids(bos=vocab.bos_id, eos=eos_id, pad=eos_id if pad_id is None else pad_id)})
    return eos_id


def _ids(**ids: Optional[int]) -> Dict[str, int]:
    """``{"<name>_token_id": id}`` for the ids that are set (transformers leaves the others
    out of the file)."""
    return {f"{name}_token_id": i for name, i in ids.items() if i is not None}


def _json(path: Path, data: Dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")
