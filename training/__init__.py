"""Fine-tuning: summarizers (seq2seq) and causal LMs, exported to ONNX for the runtime.

    python -m training seq2seq --base minilm2minilm --data pairs.jsonl --out runs/minilm

    from training import TrainConfig, train_seq2seq
    result = train_seq2seq("minilm2minilm", "pairs.jsonl", "runs/minilm",
                           TrainConfig(max_steps=2000, lr=5e-5))
    result.onnx_dir   # -> python -m summarizer summarize FILE --method abstractive --model it

Pieces, one concept per module: ``config`` (TrainConfig, LoraConfig), ``schedule``
(get_lr), ``optim`` (configure_optimizer), ``data`` (preparation and reports), ``loader``
(seeded, resumable batches), ``trainer`` (the model-agnostic loop), ``checkpoint``
(pickle-free resumable state), ``report`` (metrics JSONL, curves PNG), ``lora``,
``seq2seq`` and ``causal`` (task glue), ``run`` (wiring, final save and export).

This package may import torch and transformers (requirements-train.txt, not in the light
install); summarizer/, runtime/ and generation/ never import it.
"""
from importlib.util import find_spec as _find_spec

# Without torch and transformers (the light install: they are requirements-train.txt) the
# package imports empty, so that `python -m training` can say what to install instead of
# failing at the first import (training/__main__.py checks before it imports the rest).
if _find_spec("torch") is not None and _find_spec("transformers") is not None:
    from .causal import train_causal_lm
    from .config import LoraConfig, TrainConfig, load_config
    from .errors import ConfigError, TrainingError
    from .loader import Batch, EpochBatches
    from .lora import LoRALinear, apply_lora, merge_lora
    from .optim import configure_optimizer, decay_split
    from .run import RunResult, Task, run
    from .schedule import get_lr
    from .seq2seq import MINILM2MINILM, train_seq2seq
    from .trainer import StepStats, Trainer, TrainResult

__all__ = [
    "MINILM2MINILM",
    "Batch",
    "ConfigError",
    "EpochBatches",
    "LoRALinear",
    "LoraConfig",
    "RunResult",
    "StepStats",
    "Task",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingError",
    "apply_lora",
    "configure_optimizer",
    "decay_split",
    "get_lr",
    "load_config",
    "merge_lora",
    "run",
    "train_causal_lm",
    "train_seq2seq",
]
