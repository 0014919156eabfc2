"""Batches for the trainer: a seeded order that can be resumed from a position.

The order of epoch ``e`` is a permutation drawn from a generator seeded with
``(seed, e)`` alone, so the data position is two integers, ``(epoch, cursor)``: a resumed
run rebuilds the same order without storing it, and nothing else (dropout, evaluation)
can disturb it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generic, List, Sequence, TypeVar

import torch

T = TypeVar("T")


@dataclass
class Batch:
    """Model inputs and how many target tokens the summed loss is taken over; the trainer
    divides by the tokens of all micro-batches of a step, so accumulation is exact."""

    inputs: Dict[str, torch.Tensor]
    n_targets: int

    def to(self, device: torch.device) -> "Batch":
        return Batch({k: v.to(device, non_blocking=True) for k, v in self.inputs.items()},
                     self.n_targets)


Collate = Callable[[Sequence[Any]], Batch]


class EpochBatches(Generic[T]):
    """Endless micro-batches of ``batch_size`` examples; every epoch reshuffles.

    The last batch of an epoch may be smaller (no example is skipped). ``state()`` and
    ``load_state()`` give and take the data position.
    """

    def __init__(self, examples: Sequence[T], *, batch_size: int, collate: Collate, seed: int,
                 shuffle: bool = True) -> None:
        if not examples:
            raise ValueError("no examples to batch")
        self.examples = examples
        self.batch_size = batch_size
        self.collate = collate
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.cursor = 0  # index into this epoch's order of the next example
        self._order = self.order(0)

    def __len__(self) -> int:
        """Batches per epoch."""
        return math.ceil(len(self.examples) / self.batch_size)

    def order(self, epoch: int) -> List[int]:
        if not self.shuffle:
            return list(range(len(self.examples)))
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.examples), generator=g).tolist()

    def next(self) -> Batch:
        if self.cursor >= len(self._order):
            self.epoch, self.cursor = self.epoch + 1, 0
            self._order = self.order(self.epoch)
        idx = self._order[self.cursor:self.cursor + self.batch_size]
        self.cursor += len(idx)
        return self.collate([self.examples[i] for i in idx])

    def state(self) -> Dict[str, int]:
        return {"epoch": self.epoch, "cursor": self.cursor}

    def load_state(self, state: Dict[str, int]) -> None:
        self.epoch, self.cursor = int(state["epoch"]), int(state["cursor"])
        self._order = self.order(self.epoch)


def fixed_batches(examples: Sequence[T], *, batch_size: int, collate: Collate) -> List[Batch]:
    """Batches in the given order, for evaluation."""
    return [collate(examples[i:i + batch_size]) for i in range(0, len(examples), batch_size)]
