"""From a task (model, data, loss) to a trained model folder and its ONNX export.

    task = seq2seq_task("models/bart-base", "pairs.jsonl", config)    # or causal_lm_task
    result = run(task, config, Path("runs/bart"))
    # runs/bart/{train_config.json, data_report.json, metrics.jsonl, curves.png,
    #            checkpoint/, best/, model/ (Hugging Face folder), onnx/ (for the summarizer)}

``run`` wires the collaborators (LoRA, optimizer, batches, trainer) and finishes: the best
weights are loaded, LoRA merged into them, saved with ``save_pretrained`` (safetensors)
and exported with ``export.export_onnx``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from export import ExportConfig, export_onnx
from export.adapter import AdapterConfig, write_adapter
from export.manifest import read_manifest, write_manifest

from .checkpoint import find_checkpoint, load_weights
from .config import TrainConfig
from .errors import TrainingError
from .loader import Collate, EpochBatches, fixed_batches
from .lora import adapter_tensors, apply_lora, load_lora, lora_modules, merge_lora, unfreeze
from .optim import configure_optimizer
from .trainer import EvaluateFn, LossFn, Trainer, TrainResult

log = logging.getLogger("training")
# A task's kind -> PEFT's task_type in the adapter's config (which PeftModel class loads it)
PEFT_TASK_TYPES = {"causal-lm": "CAUSAL_LM", "seq2seq": "SEQ_2_SEQ_LM"}


@dataclass
class Task:
    """What ``run`` needs to know about a model family; the trainer sees only the callables.

    ``new_modules``: name fragments of layers the base checkpoint did not provide (random
    cross-attention of a warm-started encoder-decoder); they are trained even under LoRA.
    """

    kind: str  # the export task: "seq2seq" or "causal-lm"
    model: Any  # a transformers PreTrainedModel
    tokenizer: Any
    train: Sequence[Any]
    validation: Sequence[Any]
    collate: Collate
    loss_fn: LossFn
    data_report: Dict[str, Any]
    evaluate_fn: Optional[EvaluateFn] = None
    new_modules: Tuple[str, ...] = ()
    base: str = ""  # the base model as given, recorded in a LoRA adapter's config
    # Files the model needs beside its weights (name -> text), written into the model,
    # adapter and ONNX folders: the summary prompt format of an LM summarizer, for one.
    extra_files: Dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunResult:
    out: Path
    train: TrainResult
    finished: bool  # False when paused (stop_at) before max_steps
    model_dir: Optional[Path]
    onnx_dir: Optional[Path]
    lora_modules: List[str] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    """Python's and torch's generators (CPU and every CUDA device); numpy's is not used."""
    random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("device cuda was asked for but torch sees no CUDA device",
                            "Use --device cpu or auto")
    return torch.device(name)


def fingerprint(examples: Sequence[Any]) -> str:
    """A hash of the training examples, so a resume on other data is refused."""
    return hashlib.sha256(repr(list(examples)).encode()).hexdigest()[:16]


def run(task: Task, config: TrainConfig, out: Path, *, resume: bool = False,
        export: Optional[ExportConfig] = ExportConfig(),
        stop_at: Optional[int] = None) -> RunResult:
    """Train ``task`` into ``out``; ``resume`` continues from ``out/checkpoint``.

    ``export=None`` skips the ONNX export; ``stop_at`` pauses after that step (checkpoint
    written, nothing exported).
    """
    out = Path(out)
    device = resolve_device(config.device)
    lora_names: List[str] = []
    if config.lora is not None:
        lora_names = apply_lora(task.model, config.lora)
        if config.lora.init and not resume:  # a resume reads its checkpoint's adapters
            load_lora(task.model, config.lora.init)
        unfreeze(task.model, task.new_modules)
    model = task.model.to(device)
    optimizer = configure_optimizer(model, config)
    train = EpochBatches(task.train, batch_size=config.batch_size, collate=task.collate,
                         seed=config.seed)
    validation = fixed_batches(task.validation, batch_size=config.batch_size, collate=task.collate)
    trainer = Trainer(model, optimizer, config, train=train, loss_fn=task.loss_fn, out_dir=out,
                      validation=validation, evaluate_fn=task.evaluate_fn,
                      fingerprint=fingerprint(task.train))
    if resume:
        if not trainer.resume():
            raise TrainingError(f"{out} has no checkpoint to resume from",
                                "Start without --resume, or point --out at the earlier run")
        log.info("resumed at step %d of %d", trainer.step, trainer.config.max_steps)
    elif find_checkpoint(trainer.checkpoint_dir) is not None:
        raise TrainingError(f"{out} already holds a training run",
                            "Pass --resume to continue it, or choose another --out")
    for name, data in (("train_config.json", trainer.config.to_json()),
                       ("data_report.json", task.data_report)):
        (out / name).write_text(json.dumps(data, indent=1), encoding="utf-8")
    result = trainer.fit(stop_at=stop_at)
    if result.steps < trainer.config.max_steps and not result.stopped_early:
        return RunResult(out, result, False, None, None, lora_names)
    model_dir = save_final(task, result.best_path, out / "model", config=trainer.config)
    onnx_dir = None
    if export is not None:
        shutil.rmtree(out / "onnx", ignore_errors=True)
        onnx_dir = export_onnx(model_dir, out=out / "onnx",
                               config=replace(export, task=task.kind)).folder
        if task.extra_files:
            write_extra_files(onnx_dir, task.extra_files)
            manifest = read_manifest(onnx_dir)
            write_manifest(replace(manifest, files=tuple(sorted(set(manifest.files)
                                                                 | set(task.extra_files)))),
                           onnx_dir)
    return RunResult(out, result, True, model_dir, onnx_dir, lora_names)


def write_extra_files(folder: Path, files: Dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def save_final(task: Task, best: Path, folder: Path, *, config: TrainConfig) -> Path:
    """The best weights, LoRA merged, as a Hugging Face folder (safetensors, tokenizer,
    generation config) that ``export`` and ``from_pretrained`` read.

    Under LoRA the adapter alone also goes to ``adapter/`` beside it, in PEFT's layout
    (megabytes, to ship instead of the model; ``python -m export onnx|gguf --adapter`` and
    peft's ``PeftModel.from_pretrained`` load it), unless layers outside the adapters were
    trained too (``new_modules``): then only the model is whole."""
    load_weights(task.model, best)
    if config.lora is not None and not task.new_modules:
        modules = lora_modules(task.model)
        write_adapter(folder.parent / "adapter", adapter_tensors(task.model), AdapterConfig(
            rank=config.lora.rank, alpha=config.lora.alpha, modules=tuple(modules),
            base=task.base, notes={"steps": config.max_steps, "best": best.name},
            dropout=config.lora.dropout, task_type=PEFT_TASK_TYPES.get(task.kind)))
        write_extra_files(folder.parent / "adapter", task.extra_files)
    merge_lora(task.model)
    model = task.model.to("cpu").float().eval()
    staging = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging, safe_serialization=True)
    task.tokenizer.save_pretrained(staging)
    write_extra_files(staging, task.extra_files)
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder
