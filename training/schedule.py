"""The learning-rate schedule: a pure function of the step (nanoGPT's ``get_lr``).

Linear warmup from ``lr / (warmup_steps + 1)`` to ``lr``, then a linear or cosine decay
that reaches ``min_lr`` at ``max_steps`` and stays there. Step numbers count optimizer
steps from 0 (the step about to be taken).
"""
from __future__ import annotations

import math

from .config import TrainConfig


def get_lr(step: int, cfg: TrainConfig) -> float:
    """Learning rate for optimizer step ``step`` (0-based) of a run of ``cfg.max_steps``."""
    assert cfg.max_steps is not None, "resolve max_steps first (TrainConfig.steps_for)"
    if step < cfg.warmup_steps:
        # (step + 1) so the first step does not have a learning rate of 0.
        return cfg.lr * (step + 1) / (cfg.warmup_steps + 1)
    if step >= cfg.max_steps:
        return cfg.min_lr
    ratio = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)  # in [0, 1)
    if cfg.schedule == "cosine":
        coeff = 0.5 * (1.0 + math.cos(math.pi * ratio))  # 1 -> 0
    else:
        coeff = 1.0 - ratio
    return cfg.min_lr + coeff * (cfg.lr - cfg.min_lr)
