"""Training settings: one typed dataclass, read from a JSON or TOML file, overridden by flags.

    config = load_config("train.toml", overrides={"lr": 3e-5, "max_steps": 2000})
    config = TrainConfig(lr=1e-4, lora=LoraConfig(rank=8, alpha=16))

File keys are the field names below (a ``[lora]`` table / ``"lora": {...}`` for the adapter);
``python -m training`` turns every field into a flag (``--max-steps``, ``--lora-rank``).
Values are checked here, at the edge, and a bad one raises ``ConfigError`` naming the field.
"""
from __future__ import annotations

import json
import math
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from .errors import ConfigError

SCHEDULES = ("linear", "cosine")
PRECISIONS = ("auto", "fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda")
AUGMENTS = ("none", "shuffle")
# Metrics the best checkpoint can be chosen by; losses are minimised, ROUGE maximised.
BEST_METRICS = ("val_loss", "rouge1", "rouge2", "rougeL", "rougeLsum")


def _help(text: str, default: Any = None, **kw: Any) -> Any:
    return field(default=default, metadata={"help": text}, **kw)


@dataclass(frozen=True)
class LoraConfig:
    """Low-rank adapters (see ``lora.py``). ``targets``: leaf names of the nn.Linear layers
    to adapt; None adapts the attention query and value projections of every family."""

    rank: int = _help("adapter rank r", 8)
    alpha: float = _help("scale numerator: the update is (alpha / rank) * B A", 16.0)
    dropout: float = _help("dropout on the adapter's input", 0.0)
    targets: Optional[Tuple[str, ...]] = _help("comma-separated nn.Linear names to adapt")
    init: Optional[str] = _help("adapter folder the adapters start from (continued training)")

    def __post_init__(self) -> None:
        _check(self.rank >= 1, "lora.rank", self.rank, "a positive integer")
        _check(self.alpha > 0, "lora.alpha", self.alpha, "a positive number")
        _check(0 <= self.dropout < 1, "lora.dropout", self.dropout, "in [0, 1)")
        if self.targets is not None:
            object.__setattr__(self, "targets", tuple(self.targets))
            _check(len(self.targets) > 0, "lora.targets", self.targets, "a non-empty list")


@dataclass(frozen=True)
class TrainConfig:
    # -- optimizer (AdamW, decoupled weight decay on matrices only) --
    lr: float = _help("peak learning rate", 5e-5)
    weight_decay: float = _help("AdamW weight decay (tensors with dim >= 2 only)", 0.01)
    betas: Tuple[float, float] = _help("AdamW betas, e.g. 0.9,0.999", (0.9, 0.999))
    # -- schedule: linear warmup, then linear or cosine decay to min_lr at max_steps --
    warmup_steps: int = _help("optimizer steps of linear warmup", 100)
    schedule: str = _help(f"decay after warmup: {'|'.join(SCHEDULES)}", "linear")
    min_lr: float = _help("learning rate reached at max_steps", 0.0)
    max_steps: Optional[int] = _help("optimizer steps to run (wins over epochs)")
    epochs: float = _help("passes over the training split when max_steps is not set", 3.0)
    # -- batches: one optimizer step sees batch_size * grad_accum examples --
    batch_size: int = _help("examples per micro-batch", 4)
    grad_accum: int = _help("micro-batches per optimizer step", 8)
    clip_norm: Optional[float] = _help("clip the global gradient norm to this (none: no clip)", 1.0)
    seed: int = _help("seeds model init, data order, dropout", 1337)
    # -- evaluation, best checkpoint, early stopping, checkpoints --
    eval_every: int = _help("optimizer steps between evaluations", 200)
    eval_samples: int = _help("validation pairs summarized for ROUGE at each evaluation", 16)
    best_metric: str = _help(f"keep the best checkpoint by: {'|'.join(BEST_METRICS)}", "val_loss")
    patience: Optional[int] = _help("stop after this many evaluations without improvement")
    checkpoint_every: int = _help("optimizer steps between resumable checkpoints", 100)
    # -- data --
    max_source_tokens: int = _help("source tokens kept (seq2seq) / block size (causal LM)", 512)
    max_target_tokens: int = _help("summary tokens kept; also the generation length", 128)
    augment: str = _help(f"training-split augmentation: {'|'.join(AUGMENTS)}", "none")
    # -- model and hardware --
    lora: Optional[LoraConfig] = _help("low-rank adapters instead of full fine-tuning")
    precision: str = _help("auto: bf16 autocast on CUDA when supported, else fp32", "auto")
    device: str = _help(f"{'|'.join(DEVICES)}", "auto")
    progress: bool = _help("show a progress bar", True)
    out: Optional[str] = _help("output folder")

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        _check(self.lr > 0, "lr", self.lr, "a positive number")
        _check(0 <= self.min_lr <= self.lr, "min_lr", self.min_lr, "between 0 and lr")
        _check(self.weight_decay >= 0, "weight_decay", self.weight_decay, "0 or more")
        _check(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "betas",
               self.betas, "two numbers in [0, 1)")
        _check(self.warmup_steps >= 0, "warmup_steps", self.warmup_steps, "0 or more")
        _check(self.schedule in SCHEDULES, "schedule", self.schedule, " or ".join(SCHEDULES))
        _check(self.max_steps is None or self.max_steps >= 1, "max_steps", self.max_steps,
               "a positive integer")
        _check(self.epochs > 0, "epochs", self.epochs, "a positive number")
        for name in ("batch_size", "grad_accum", "eval_every", "checkpoint_every",
                     "max_source_tokens", "max_target_tokens"):
            _check(getattr(self, name) >= 1, name, getattr(self, name), "a positive integer")
        _check(self.eval_samples >= 0, "eval_samples", self.eval_samples, "0 or more")
        _check(self.clip_norm is None or self.clip_norm > 0, "clip_norm", self.clip_norm,
               "a positive number, or none")
        _check(self.patience is None or self.patience >= 1, "patience", self.patience,
               "a positive integer, or none")
        _check(self.best_metric in BEST_METRICS, "best_metric", self.best_metric,
               " or ".join(BEST_METRICS))
        _check(self.augment in AUGMENTS, "augment", self.augment, " or ".join(AUGMENTS))
        _check(self.precision in PRECISIONS, "precision", self.precision, " or ".join(PRECISIONS))
        _check(self.device in DEVICES, "device", self.device, " or ".join(DEVICES))

    def steps_for(self, batches_per_epoch: int) -> int:
        """Optimizer steps of the run: ``max_steps``, or ``epochs`` over the data."""
        if self.max_steps is not None:
            return self.max_steps
        return max(1, math.ceil(self.epochs * batches_per_epoch / self.grad_accum))

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    def replace(self, **changes: Any) -> "TrainConfig":
        return from_dict({**self.to_json(), **changes})


def from_dict(data: Mapping[str, Any]) -> TrainConfig:
    """A config from plain values (parsed JSON/TOML); unknown keys are an error."""
    data = dict(data)
    _check_keys(data, TrainConfig, "")
    lora = data.get("lora")
    if isinstance(lora, Mapping):
        _check_keys(lora, LoraConfig, "lora.")
        data["lora"] = LoraConfig(**lora)
    elif lora is not None and not isinstance(lora, LoraConfig):
        raise ConfigError(f"lora must be a table of {', '.join(_names(LoraConfig))}, got {lora!r}",
                          "Write [lora] rank = 8 ... in TOML, or \"lora\": {\"rank\": 8} in JSON")
    try:
        return TrainConfig(**data)
    except TypeError as e:  # a value of the wrong type compared or iterated above
        raise ConfigError(f"a setting has the wrong type ({e})", "Check the values' types") from e


def load_config(path: Union[str, Path, None] = None, *,
                overrides: Optional[Mapping[str, Any]] = None) -> TrainConfig:
    """Defaults, then the file (``.json`` or ``.toml``), then ``overrides``."""
    data: Dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file", "Check the path given to --config")
        try:
            if path.suffix == ".toml":
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".json":
                data = json.loads(path.read_text(encoding="utf-8"))
            else:
                raise ConfigError(f"{path}: config files must be .json or .toml",
                                  "Rename it, or write it in one of those formats")
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"{path}: cannot be parsed ({e})", "Fix its syntax") from e
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a table/object",
                              "Write key = value pairs")
    data.update(overrides or {})  # an overriding lora table replaces the file's whole table
    return from_dict(data)


def _names(cls) -> Tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _check_keys(data: Mapping[str, Any], cls, prefix: str) -> None:
    unknown = sorted(set(data) - set(_names(cls)))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(prefix + k for k in unknown)}",
                          f"Known {prefix or 'top-level '}settings: {', '.join(_names(cls))}")


def _check(ok: bool, name: str, value: Any, wanted: str) -> None:
    if not ok:
        raise ConfigError(f"{name} = {value!r} is out of range", f"Set {name} to {wanted}")
