"""Causal language modelling: base model, packed blocks, collate and loss for the trainer.

    python -m training causal-lm --base MODEL --corpus DIR|FILE.jsonl --out DIR

Documents are packed into blocks of ``max_source_tokens`` (see ``data.prepare_corpus``), so
every batch is full and needs no padding; the model learns to predict token t+1 from
tokens up to t. Evaluation is validation loss (its exp is the perplexity).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from export import ExportConfig
from export import checkpoint as hf

from .config import TrainConfig
from .data import CorpusData, Ids, prepare_corpus
from .errors import TrainingError
from .loader import Batch
from .run import RunResult, Task, run, seed_everything


def load_causal(base: str):
    """(model, tokenizer) of a decoder-only checkpoint, safetensors only."""
    folder = hf.local_folder(base)
    if folder is not None:
        hf.check_weights(folder, base)
    config = hf.load_config(base)
    hf.resolve_task(config, hf.CAUSAL_LM, base)
    tokenizer = hf.load_tokenizer(base, folder)
    model = hf.load_model(base, hf.CAUSAL_LM)
    model.generation_config = hf.generation_config(model, hf.CAUSAL_LM, base)
    return model, tokenizer


def collate_blocks(blocks: Sequence[Ids]) -> Batch:
    ids = torch.tensor(blocks, dtype=torch.long)  # (B, T)
    return Batch({"input_ids": ids}, n_targets=ids.shape[0] * (ids.shape[1] - 1))


def causal_loss(model: nn.Module, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
    """Next-token cross-entropy summed over the block's T - 1 predictions."""
    ids = inputs["input_ids"]
    logits = model(input_ids=ids, use_cache=False).logits  # (B, T, V)
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), ids[:, 1:].flatten(),
                           reduction="sum")


def causal_lm_task(base: str, corpus: str | Path, config: TrainConfig) -> Tuple[Task, CorpusData]:
    model, tokenizer = load_causal(base)
    limit = (getattr(model.config, "max_position_embeddings", None)
             or getattr(model.config, "n_positions", None))
    if limit is not None and config.max_source_tokens > limit:
        raise TrainingError(f"the block size (max_source_tokens) {config.max_source_tokens} is "
                            f"over {base}'s {limit} positions", f"Set it to at most {limit}")
    eos = tokenizer.eos_token_id
    if eos is None:
        raise TrainingError(f"{base}'s tokenizer has no end-of-text token",
                            "Set eos_token in its tokenizer_config.json")
    prepared = prepare_corpus(corpus, tokenizer, block_size=config.max_source_tokens,
                              eos_token_id=eos)
    task = Task(kind="causal-lm", base=str(base), model=model, tokenizer=tokenizer, train=prepared.train,
                validation=prepared.validation, collate=collate_blocks, loss_fn=causal_loss,
                data_report=prepared.report.to_json())
    return task, prepared


def train_causal_lm(base: str, corpus: str | Path, out: str | Path, config: TrainConfig, *,
                    resume: bool = False, export: ExportConfig | None = ExportConfig(),
                    stop_at: int | None = None) -> RunResult:
    seed_everything(config.seed)
    task, _ = causal_lm_task(base, corpus, config)
    return run(task, config, Path(out), resume=resume, export=export, stop_at=stop_at)
