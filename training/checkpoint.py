"""Resumable checkpoints without pickle: tensors in safetensors files, the rest in JSON.

A checkpoint folder holds

    model.safetensors       every parameter and buffer (shared tensors stored once)
    optimizer.safetensors   the optimizer's per-parameter tensors ("<index>.<name>")
    rng.safetensors         torch's CPU and CUDA generator states
    state.json              the trainer's state (step, data position, best so far, ...),
                            the optimizer's groups and scalars, Python's ``random`` state

``torch.save`` would be shorter but writes pickle, which runs code when loaded; these files
can be opened from anywhere. Folders are written beside their destination and renamed
into place, so a crash leaves the previous checkpoint whole.
"""
from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any, Dict, Tuple

import torch
from safetensors.torch import load_file, load_model, save_file, save_model
from torch import nn

from .errors import TrainingError

MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
RNG_FILE = "rng.safetensors"
STATE_FILE = "state.json"


def save_weights(model: nn.Module, path: Path) -> None:
    """All of the model's tensors (tied ones once) to ``path``, atomically."""
    tmp = path.with_name(f".{path.name}.partial")
    save_model(model, str(tmp))
    os.replace(tmp, path)


def load_weights(model: nn.Module, path: Path) -> None:
    missing, unexpected = load_model(model, str(path), strict=False,
                                     device=str(next(model.parameters()).device))
    if missing or unexpected:
        raise TrainingError(
            f"{path} does not fit this model (missing {sorted(missing)[:3]}, unexpected "
            f"{sorted(unexpected)[:3]})", "Resume with the same --base and LoRA settings")


def save_checkpoint(folder: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer,
                    state: Dict[str, Any]) -> None:
    """Write the checkpoint to ``folder`` (replacing one already there)."""
    folder = Path(folder)
    staging = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    save_model(model, str(staging / MODEL_FILE))
    opt_tensors, opt_meta = _split_optimizer(optimizer.state_dict())
    save_file(opt_tensors, str(staging / OPTIMIZER_FILE))
    rng_tensors, py_random = _rng_state()
    save_file(rng_tensors, str(staging / RNG_FILE))
    full = {"trainer": state, "optimizer": opt_meta, "python_random": py_random}
    (staging / STATE_FILE).write_text(json.dumps(full, indent=1), encoding="utf-8")
    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(staging, folder)
    shutil.rmtree(old, ignore_errors=True)


def find_checkpoint(folder: Path) -> Path | None:
    """``folder``, or the previous checkpoint a crash mid-swap left beside it."""
    folder = Path(folder)
    for candidate in (folder, folder.with_name(f".{folder.name}.old")):
        if (candidate / STATE_FILE).is_file():
            return candidate
    return None


def load_checkpoint(folder: Path, *, model: nn.Module,
                    optimizer: torch.optim.Optimizer) -> Dict[str, Any]:
    """Restore model, optimizer and RNG states in place; returns the trainer's state."""
    folder = Path(folder)
    full = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    load_weights(model, folder / MODEL_FILE)
    optimizer.load_state_dict(_join_optimizer(load_file(str(folder / OPTIMIZER_FILE)),
                                              full["optimizer"]))
    _set_rng_state(load_file(str(folder / RNG_FILE)), full["python_random"])
    return full["trainer"]


def _split_optimizer(sd: Dict[str, Any]) -> Tuple[Dict[str, torch.Tensor], Dict[str, Any]]:
    tensors: Dict[str, torch.Tensor] = {}
    scalars: Dict[str, Dict[str, Any]] = {}
    for idx, per_param in sd["state"].items():
        for name, value in per_param.items():
            if torch.is_tensor(value):
                tensors[f"{idx}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[name] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _join_optimizer(tensors: Dict[str, torch.Tensor], meta: Dict[str, Any]) -> Dict[str, Any]:
    state: Dict[int, Dict[str, Any]] = {}
    for key, value in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    for idx, values in meta["scalars"].items():
        state.setdefault(int(idx), {}).update(values)
    groups = [{**g, **({"betas": tuple(g["betas"])} if "betas" in g else {})}
              for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def _rng_state() -> Tuple[Dict[str, torch.Tensor], list]:
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda_{i}"] = s
    version, internal, gauss = random.getstate()
    return tensors, [version, list(internal), gauss]


def _set_rng_state(tensors: Dict[str, torch.Tensor], py_random: list) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    cuda_keys = sorted((k for k in tensors if k.startswith("torch_cuda_")),
                       key=lambda k: int(k.rsplit("_", 1)[1]))
    cuda = [tensors[k] for k in cuda_keys]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    version, internal, gauss = py_random
    random.setstate((version, tuple(internal), gauss))
