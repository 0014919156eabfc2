"""Tiny abstractive summarizer folders for the Summarize tests: no downloads, built in
seconds from ``tests/tiny_models.py``.

A tiny random model mostly writes ids past its word-level tokenizer's vocabulary (the model's
vocabulary is padded to ``VOCAB_SIZE``), which decode to nothing: an empty summary proves
nothing about streaming. Here those ids' embedding rows (tied to the output layer) are
zero, so their scores are 0 while the words' are spread wide (weights redrawn with std 0.3,
``sharpen``): the model writes words.

    bart = bart_summarizer(tmp / "bart")                           # encoder-decoder export
    lm = lm_summarizer(tmp / "lm", max_source_tokens=24)           # decoder-only + prompt
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

from export import ExportConfig, export_onnx
from tests.tiny_models import make_tiny_causal, make_tiny_seq2seq, sharpen


def _speak(checkpoint: Path, auto_class) -> Path:
    """Zero the embedding rows of the ids the tokenizer does not have (see the module)."""
    words = Tokenizer.from_file(str(checkpoint / "tokenizer.json")).get_vocab_size()
    model = auto_class.from_pretrained(checkpoint).eval()
    with torch.no_grad():
        model.get_input_embeddings().weight[words:] = 0.0
    model.save_pretrained(checkpoint, safe_serialization=True)
    return checkpoint


def bart_summarizer(root: Path) -> Path:
    """An exported tiny BART (64 positions) that writes words."""
    ckpt = _speak(sharpen(make_tiny_seq2seq("bart", root / "ckpt"), AutoModelForSeq2SeqLM),
                  AutoModelForSeq2SeqLM)
    return export_onnx(str(ckpt), out=root / "onnx", config=ExportConfig(validate=False)).folder


def lm_summarizer(root: Path, *, max_source_tokens: int = 40, max_target_tokens: int = 8,
                  wide: bool = False) -> Path:
    """An exported tiny GPT-2 with a summary prompt format (``condense_summary.json``):
    articles longer than ``max_source_tokens`` go through parts. ``wide``: 8 layers of 256,
    slow enough per token that a browser sees the text arrive piece by piece."""
    ckpt = root / "ckpt"
    make_tiny_causal("gpt2", ckpt, wide=wide)
    _speak(sharpen(ckpt, AutoModelForCausalLM), AutoModelForCausalLM)
    folder = export_onnx(str(ckpt), out=root / "onnx",
                         config=ExportConfig(task="causal-lm", validate=False)).folder
    (folder / "condense_summary.json").write_text(json.dumps(
        {"format": "condense-summary-prompt", "format_version": 2, "prefix": "",
         "suffix": " summary :", "max_source_tokens": max_source_tokens,
         "max_target_tokens": max_target_tokens, "article_whitespace": "collapse"}))
    return folder
