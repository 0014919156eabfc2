"""LoRA adapter folders: what ``training`` writes and ``export`` merges into a base model.

A LoRA adapter (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") is
a few low-rank matrices per adapted linear layer; shipping it instead of a fine-tuned
model costs megabytes instead of hundreds of them. The folder holds two files:

    adapter.safetensors   "<module>.lora_A" (r, in) and "<module>.lora_B" (out, r), fp32
    adapter_config.json   {"format": "condense-lora", "format_version": 1, "rank": 16,
                           "alpha": 32.0, "modules": ["model.layers.0.self_attn.q_proj", ...],
                           "base": "SmolLM2-135M-Instruct.Q4_1.gguf", ...}

Merging folds each update into its layer, ``W' = W + (alpha / r) B A``, which is what
``training.lora.LoRALinear.merged`` does; the merged model has the base architecture and
exports like any other. safetensors, never pickle: an adapter is data, not code.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Tuple

from .errors import ExportError

WEIGHTS_FILE = "adapter.safetensors"
CONFIG_FILE = "adapter_config.json"
FORMAT = "condense-lora"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class AdapterConfig:
    """``base`` names the model the adapter was trained on (a file or folder name), so a
    merge into another model can be refused; ``notes`` is free text (data, steps)."""

    rank: int
    alpha: float
    modules: Tuple[str, ...]
    base: str
    notes: Dict[str, object] = field(default_factory=dict)

    @property
    def scaling(self) -> float:
        return self.alpha / self.rank


def write_adapter(folder: Path, tensors: Mapping[str, "object"], config: AdapterConfig) -> Path:
    """Write ``tensors`` ("<module>.lora_A"/"lora_B" for each of ``config.modules``) and the
    config into ``folder`` (created)."""
    from safetensors.torch import save_file

    expected = {f"{m}.{k}" for m in config.modules for k in ("lora_A", "lora_B")}
    if set(tensors) != expected:
        missing, extra = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
        raise ExportError(str(folder), f"the adapter tensors do not match its modules "
                          f"(missing {missing[:3]}, extra {extra[:3]})",
                          "Pass one lora_A and one lora_B per adapted module")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().float().contiguous().cpu() for k, v in sorted(tensors.items())},
              str(folder / WEIGHTS_FILE))
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(config),
            "modules": list(config.modules)}
    (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return folder


def read_adapter(folder: Path) -> Tuple[AdapterConfig, Dict[str, "object"]]:
    """The config and tensors of an adapter folder; ``ExportError`` naming the folder when
    a file is missing, of another format, or inconsistent."""
    from safetensors.torch import load_file

    folder = Path(folder)
    cfg_path, weights = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not cfg_path.is_file() or not weights.is_file():
        raise ExportError(str(folder), f"not an adapter folder (needs {CONFIG_FILE} and "
                          f"{WEIGHTS_FILE})", "Pass the adapter/ folder a LoRA training run wrote")
    try:
        meta = json.loads(cfg_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format {meta.get('format')!r} version {meta.get('format_version')!r}")
        config = AdapterConfig(rank=int(meta["rank"]), alpha=float(meta["alpha"]),
                               modules=tuple(meta["modules"]), base=str(meta["base"]),
                               notes=dict(meta.get("notes", {})))
    except (ValueError, KeyError, TypeError) as e:
        raise ExportError(str(cfg_path), f"unreadable adapter config ({e})",
                          f"Expected {FORMAT} version {FORMAT_VERSION}, as training writes") from e
    tensors = load_file(str(weights))
    for m in config.modules:
        a, b = tensors.get(f"{m}.lora_A"), tensors.get(f"{m}.lora_B")
        if a is None or b is None or a.shape[0] != config.rank or b.shape[1] != config.rank:
            raise ExportError(str(weights), f"module {m} has no rank-{config.rank} lora_A/lora_B",
                              "The weights and adapter_config.json come from different runs")
    return config, tensors


def merge_adapter(model, folder: Path, *, base: str | None = None) -> List[str]:
    """Fold the adapter in ``folder`` into ``model``'s linear layers, in place.

    ``base``, when given, must equal the adapter's: a LoRA update is only meaningful on the
    weights it was trained against. Returns the merged module names.
    """
    import torch

    config, tensors = read_adapter(folder)
    if base is not None and base != config.base:
        raise ExportError(str(folder), f"the adapter was trained on {config.base}, not {base}",
                          f"Merge it into {config.base}")
    for name in config.modules:
        try:
            layer = model.get_submodule(name)
        except AttributeError:
            raise ExportError(str(folder), f"the model has no layer {name}",
                              "Merge the adapter into the model it was trained on") from None
        a, b = tensors[f"{name}.lora_A"], tensors[f"{name}.lora_B"]
        weight = getattr(layer, "weight", None)
        if weight is None or tuple(weight.shape) != (b.shape[0], a.shape[1]):
            raise ExportError(str(folder), f"layer {name} does not have the adapter's shape "
                              f"({b.shape[0]} x {a.shape[1]})",
                              "Merge the adapter into the model it was trained on")
        with torch.no_grad():
            delta = (b.to(torch.float32) @ a.to(torch.float32)) * config.scaling
            weight.add_(delta.to(weight.dtype))
    return list(config.modules)


def onnx_residuals(folder: Path) -> Dict[str, Tuple["object", "object"]]:
    """The adapter's updates as factors of ONNX MatMul weights: for each module (whose
    exported MatMul weight is ``W.T``, input x output), ``(U, V)`` with
    ``U @ V == (alpha / r) (B A).T``, numpy fp32. ``export/q4.py`` takes them off the merged
    weight to find the base's 4-bit grid again, and keeps them as a low-rank side product."""
    import numpy as np

    config, tensors = read_adapter(folder)
    out = {}
    for name in config.modules:
        a = tensors[f"{name}.lora_A"].float().numpy()  # (r, in)
        b = tensors[f"{name}.lora_B"].float().numpy()  # (out, r)
        out[name] = (np.ascontiguousarray(a.T), np.ascontiguousarray(b.T * config.scaling))
    return out

