"""AdamW with two parameter groups, as nanoGPT's ``configure_optimizers``.

Every trainable tensor with ``dim >= 2`` (weight matrices, embeddings, LoRA's A and B) is
decayed; biases and normalization scales and shifts (``dim < 2``) are not: decaying them
pulls activations towards zero without regularizing anything. Frozen parameters
(``requires_grad=False``, e.g. the base weights under LoRA) are left out.
"""
from __future__ import annotations

import inspect
from typing import List, Tuple

import torch
from torch import nn

from .config import TrainConfig


def decay_split(model: nn.Module) -> Tuple[List[str], List[str]]:
    """Names of the trainable parameters that are decayed, and of those that are not.

    ``named_parameters`` yields a tied tensor (shared embeddings) once, under its first name.
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(name)
    return decay, no_decay


def configure_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; the fused kernel when they all live on CUDA."""
    params = dict(model.named_parameters())
    decay, no_decay = decay_split(model)
    groups = [
        {"params": [params[n] for n in decay], "weight_decay": cfg.weight_decay},
        {"params": [params[n] for n in no_decay], "weight_decay": 0.0},
    ]
    fused = ("fused" in inspect.signature(torch.optim.AdamW).parameters
             and all(params[n].is_cuda for n in decay + no_decay))
    extra = {"fused": True} if fused else {}
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, **extra)
