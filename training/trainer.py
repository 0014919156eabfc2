"""A training loop that knows nothing about the model (minGPT's trainer, nanoGPT's step).

The model is any ``nn.Module``; what to do with a batch is the caller's ``loss_fn(model,
inputs) -> summed loss`` and what to measure besides validation loss is the caller's
``evaluate_fn(model) -> {name: value}`` (ROUGE of generated summaries, for instance).

One optimizer step, in order:

    lr = get_lr(step)                     set on every parameter group
    for each of grad_accum micro-batches: (summed loss / tokens of the whole step).backward()
    clip the global gradient norm         (no loss scaling to undo: bf16 has fp32's range)
    optimizer.step(); zero_grad()

Dividing every micro-batch's summed loss by the target tokens of *all* the step's
micro-batches makes accumulation exact: k micro-batches give the gradient of one batch of
their union, whatever their padding (nanoGPT's ``loss / accum`` is exact only for
equal-sized batches). Under ``out_dir`` the trainer writes ``metrics.jsonl``, ``curves.png``,
``checkpoint/`` (resumable, see ``checkpoint.py``) and ``best/model.safetensors``.
"""
from __future__ import annotations

import json
import logging
import math
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, ContextManager, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn
from tqdm.auto import tqdm

from .checkpoint import find_checkpoint, load_checkpoint, save_checkpoint, save_weights
from .config import TrainConfig
from .errors import TrainingError
from .loader import Batch, EpochBatches
from .report import MetricsLog, plot_curves
from .schedule import get_lr

log = logging.getLogger("training")

LossFn = Callable[[nn.Module, Dict[str, torch.Tensor]], torch.Tensor]  # summed over targets
EvaluateFn = Callable[[nn.Module], Dict[str, float]]

# Settings that may change between a checkpoint and its resumption; any other change would
# make the resumed run differ from an uninterrupted one.
RESUMABLE_CHANGES = ("progress", "out", "patience", "eval_samples", "checkpoint_every")


@dataclass(frozen=True)
class StepStats:
    step: int  # optimizer steps done, this one included
    loss: float  # mean cross-entropy per target token over the step's micro-batches
    lr: float
    grad_norm: float  # global norm before clipping
    tokens: int
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    steps: int
    best_step: Optional[int]
    best_metric: str
    best_value: Optional[float]  # None when nothing was measured: the last weights are "best"
    best_path: Path
    stopped_early: bool
    metrics_path: Path
    curve_path: Path


def autocast_for(precision: str, device: torch.device) -> Callable[[], ContextManager]:
    """``auto``: bf16 autocast on a CUDA device that supports it, plain fp32 elsewhere."""
    if device.type == "cuda" and precision in ("auto", "bf16"):
        if torch.cuda.is_bf16_supported():
            return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
        if precision == "bf16":
            raise TrainingError("this CUDA device does not support bf16",
                                "Use --precision fp32 (or auto, which falls back to it)")
    if precision == "bf16" and device.type == "cpu":
        return lambda: torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext


class Trainer:
    """Trains ``model`` with ``optimizer`` on ``train`` batches; see the module docstring."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, config: TrainConfig, *,
                 train: EpochBatches, loss_fn: LossFn, out_dir: Path,
                 validation: Sequence[Batch] = (), evaluate_fn: Optional[EvaluateFn] = None,
                 fingerprint: str = "") -> None:
        self.model = model
        self.optimizer = optimizer
        self.config = config.replace(max_steps=config.steps_for(len(train)))
        self.train = train
        self.loss_fn = loss_fn
        self.validation = list(validation)
        self.evaluate_fn = evaluate_fn
        self.fingerprint = fingerprint  # of the training data, checked on resume
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.metrics = MetricsLog(self.out / "metrics.jsonl")
        self.device = next(model.parameters()).device
        self.autocast = autocast_for(self.config.precision, self.device)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.step = 0
        self.best_step: Optional[int] = None
        self.best_value: Optional[float] = None
        self.bad_evals = 0  # evaluations since the last improvement

    @property
    def checkpoint_dir(self) -> Path:
        return self.out / "checkpoint"

    @property
    def best_path(self) -> Path:
        return self.out / "best" / "model.safetensors"

    # -- one step ---------------------------------------------------------------------
    def accumulate(self, micro: Sequence[Batch]) -> Tuple[float, int]:
        """Forward and backward over ``micro``; gradients add up to those of their union.
        Returns the mean loss per target token and the number of target tokens."""
        tokens = max(1, sum(b.n_targets for b in micro))
        total = torch.zeros((), device=self.device)
        for batch in micro:
            batch = batch.to(self.device)
            with self.autocast():
                loss = self.loss_fn(self.model, batch.inputs).float() / tokens
            loss.backward()
            total += loss.detach()
        return total.item(), tokens

    def train_step(self) -> StepStats:
        t0 = time.perf_counter()
        cfg = self.config
        lr = get_lr(self.step, cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        micro = [self.train.next() for _ in range(cfg.grad_accum)]
        loss, tokens = self.accumulate(micro)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, cfg.clip_norm or math.inf)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return StepStats(step=self.step, loss=loss, lr=lr, grad_norm=float(grad_norm),
                         tokens=tokens, seconds=time.perf_counter() - t0)

    # -- evaluation -------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> Dict[str, float]:
        """Validation loss per target token, plus whatever ``evaluate_fn`` measures."""
        self.model.eval()
        metrics: Dict[str, float] = {}
        try:
            if self.validation:
                total, tokens = 0.0, 0
                for batch in self.validation:
                    batch = batch.to(self.device)
                    with self.autocast():
                        total += self.loss_fn(self.model, batch.inputs).float().item()
                    tokens += batch.n_targets
                metrics["val_loss"] = total / max(1, tokens)
            if self.evaluate_fn is not None:
                with self.autocast():
                    metrics.update(self.evaluate_fn(self.model))
        finally:
            self.model.train()
        return metrics

    def _improved(self, metrics: Dict[str, float]) -> bool:
        """Record the evaluation; save the weights when the chosen metric improved."""
        name = self.config.best_metric
        value = metrics.get(name)
        if value is None:  # nothing to choose by: the latest weights are the best we know
            self.best_step, self.best_value = self.step, None
            save_weights(self.model, self._best_file())
            return True
        minimize = name.endswith("loss")
        better = self.best_value is None or (
            value < self.best_value if minimize else value > self.best_value)
        if better:
            self.best_step, self.best_value, self.bad_evals = self.step, value, 0
            save_weights(self.model, self._best_file())
            (self.best_path.parent / "best.json").write_text(
                json.dumps({"step": self.step, "metric": name, "value": value}), encoding="utf-8")
        else:
            self.bad_evals += 1
        return better

    def _best_file(self) -> Path:
        self.best_path.parent.mkdir(parents=True, exist_ok=True)
        return self.best_path

    # -- the loop ---------------------------------------------------------------------
    def fit(self, *, stop_at: Optional[int] = None) -> TrainResult:
        """Train to ``max_steps`` (or until early stopping). ``stop_at``: pause after that
        step with a checkpoint, as an interruption would; ``resume()`` continues from it."""
        cfg = self.config
        if self.step == 0:
            self.metrics.truncate_after(0)  # a fresh run owns metrics.jsonl
        self.model.train()
        bar = tqdm(total=cfg.max_steps, initial=self.step, disable=not cfg.progress,
                   unit="step", dynamic_ncols=True, desc="training")
        # A resumed run that had already stopped early stays stopped.
        stopped_early = cfg.patience is not None and self.bad_evals >= cfg.patience
        while self.step < cfg.max_steps and not stopped_early:
            stats = self.train_step()
            self.metrics.write({"kind": "train", **asdict(stats)})
            bar.update(1)
            bar.set_postfix(loss=f"{stats.loss:.4f}", lr=f"{stats.lr:.2e}")
            last = self.step == cfg.max_steps
            if self.step % cfg.eval_every == 0 or last:
                metrics = self.evaluate()
                self.metrics.write({"kind": "eval", "step": self.step, **metrics})
                improved = self._improved(metrics)
                shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
                best = " (best)" if improved and metrics else ""
                self._say(f"step {self.step}: {shown}{best}")
                stopped_early = cfg.patience is not None and self.bad_evals >= cfg.patience
            pausing = stop_at is not None and self.step >= stop_at
            if self.step % cfg.checkpoint_every == 0 or last or stopped_early or pausing:
                self.save_checkpoint()
            if stopped_early:
                self._say(f"early stop: no better {cfg.best_metric} "
                          f"in {self.bad_evals} evaluations")
            if stopped_early or pausing:
                break
        bar.close()
        curve = plot_curves(self.metrics.records(), self.out / "curves.png")
        return TrainResult(steps=self.step, best_step=self.best_step, best_metric=cfg.best_metric,
                           best_value=self.best_value, best_path=self.best_path,
                           stopped_early=stopped_early, metrics_path=self.metrics.path,
                           curve_path=curve)

    def _say(self, message: str) -> None:
        if self.config.progress:
            tqdm.write(message)
        else:
            log.info(message)

    # -- checkpoints ------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        state = {"step": self.step, "data": self.train.state(), "best_step": self.best_step,
                 "best_value": self.best_value, "bad_evals": self.bad_evals,
                 "config": self.config.to_json(), "fingerprint": self.fingerprint}
        save_checkpoint(self.checkpoint_dir, model=self.model, optimizer=self.optimizer,
                        state=state)

    def resume(self) -> bool:
        """Continue from ``checkpoint/`` if there is one: model, optimizer, step, data
        position, RNG states and best-so-far all restored. Returns whether it resumed."""
        folder = find_checkpoint(self.checkpoint_dir)
        if folder is None:
            return False
        saved = json.loads((folder / "state.json").read_text(encoding="utf-8"))["trainer"]
        self._check_compatible(saved)
        state = load_checkpoint(folder, model=self.model, optimizer=self.optimizer)
        self.step = state["step"]
        self.train.load_state(state["data"])
        self.best_step, self.best_value = state["best_step"], state["best_value"]
        self.bad_evals = state["bad_evals"]
        self.metrics.truncate_after(self.step)
        return True

    def _check_compatible(self, saved: Dict) -> None:
        now = json.loads(json.dumps(self.config.to_json()))
        changed: List[str] = [k for k in now if k not in RESUMABLE_CHANGES
                              and now[k] != saved["config"].get(k)]
        if changed:
            before = saved["config"]
            diff = ", ".join(f"{k}: {before.get(k)!r} -> {now[k]!r}" for k in changed)
            raise TrainingError(
                f"the checkpoint in {self.checkpoint_dir} was made with other settings ({diff})",
                "Resume with the same settings, or train into a new --out")
        if saved.get("fingerprint") != self.fingerprint:
            raise TrainingError(f"the checkpoint in {self.checkpoint_dir} was made on other data",
                                "Resume with the same data and data settings, or use a new --out")
