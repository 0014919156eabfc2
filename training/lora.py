"""LoRA: low-rank adapters on ``nn.Linear`` layers (Hu et al. 2021, "LoRA: Low-Rank
Adaptation of Large Language Models").

A frozen layer ``y = x W^T + b`` gets a trainable update of rank r:

    y = x W^T + b + (alpha / r) * dropout(x) A^T B^T        W: (out, in), A: (r, in), B: (out, r)

A starts Kaiming-uniform and B at zero, so training starts from the base model exactly
(the paper's section 4.1). After training, ``merge_lora`` folds the update into the weight,
``W' = W + (alpha / r) B A``, and puts plain ``nn.Linear`` layers back: the merged model
has the base architecture, saves with ``save_pretrained`` and exports like any other.

Departures from the paper: dropout on the adapter input (as in the authors' loralib), and
the default targets are the query and value projections of every family we train (the
paper's best budget split, section 7.1), found by leaf name.
"""
from __future__ import annotations

import math
from typing import Dict, List, Sequence

import torch
from torch import nn

from .config import LoraConfig
from .errors import ConfigError

# Query and value projections: BART/Marian/Pegasus/Llama ("q_proj", "v_proj"), BERT
# ("query", "value"), T5 ("q", "v"). GPT-2 uses Conv1D, not nn.Linear: name its layers
# explicitly or fine-tune it fully.
DEFAULT_TARGETS = ("q_proj", "v_proj", "query", "value", "q", "v")


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable rank-``rank`` update."""

    def __init__(self, base: nn.Linear, *, rank: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__()
        self.base = base
        self.base.weight.requires_grad_(False)
        if self.base.bias is not None:
            self.base.bias.requires_grad_(False)
        self.rank = rank
        self.scaling = alpha / rank
        dev, dt = base.weight.device, base.weight.dtype
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features, device=dev, dtype=dt))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, device=dev, dtype=dt))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # nn.Linear's own init
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (..., in) -> (..., out); the update never forms the (out, in) matrix.
        update = (self.dropout(x) @ self.lora_A.T) @ self.lora_B.T
        return self.base(x) + update * self.scaling

    def delta_weight(self) -> torch.Tensor:
        """(out, in): the update in weight form, ``(alpha / r) B A``."""
        return (self.lora_B @ self.lora_A) * self.scaling

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` computing the same function (up to float rounding)."""
        base = self.base
        out = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None,
                        device=base.weight.device, dtype=base.weight.dtype)
        with torch.no_grad():
            out.weight.copy_(base.weight + self.delta_weight())
            if base.bias is not None:
                out.bias.copy_(base.bias)
        return out


def apply_lora(model: nn.Module, cfg: LoraConfig) -> List[str]:
    """Freeze ``model`` and wrap each targeted ``nn.Linear`` in a ``LoRALinear``, in place.

    Returns the wrapped modules' names. Raises ``ConfigError`` when nothing matches, listing
    the leaf names of the model's linear layers so the targets can be fixed.
    """
    targets = tuple(cfg.targets or DEFAULT_TARGETS)
    for p in model.parameters():
        p.requires_grad_(False)
    names = [n for n, m in model.named_modules()
             if isinstance(m, nn.Linear) and n.rsplit(".", 1)[-1] in targets]
    if not names:
        leaves = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules()
                         if isinstance(m, nn.Linear)})
        raise ConfigError(f"no nn.Linear layer is named {' or '.join(targets)}",
                          f"Set lora.targets to some of: {', '.join(leaves) or '(none)'}")
    for name in names:
        parent, leaf = _parent(model, name)
        setattr(parent, leaf, LoRALinear(getattr(parent, leaf), rank=cfg.rank, alpha=cfg.alpha,
                                         dropout=cfg.dropout))
    return names


def load_lora(model: nn.Module, folder) -> List[str]:
    """Start every ``LoRALinear`` of ``model`` from the adapter in ``folder`` (a training
    run's ``adapter/`` or peft's layout): training continues from that adapter, on new data
    or a new prompt format, instead of from zero. The adapter must hold exactly these
    modules at these ranks (``ConfigError`` otherwise); B is rescaled where its alpha / r
    differs, so the update ``(alpha / r) B A`` is the adapter's own. Returns the modules."""
    from export.adapter import read_adapter  # numpy-only reader, as export merges it

    config, tensors = read_adapter(folder)
    ours = lora_modules(model)
    if set(ours) != set(config.modules):
        missing = sorted(set(ours) ^ set(config.modules))[:3]
        raise ConfigError(f"the adapter in {folder} does not adapt the same layers (e.g. "
                          f"{', '.join(missing)})", "Set lora.targets to the adapter's layers")
    with torch.no_grad():
        for name in ours:
            layer = model.get_submodule(name)
            if config.rank_of(name) != layer.rank:
                raise ConfigError(f"the adapter in {folder} has rank {config.rank_of(name)} at "
                                  f"{name}, this run {layer.rank}", "Set lora.rank to match it")
            a = torch.as_tensor(tensors[f"{name}.lora_A"], dtype=layer.lora_A.dtype)
            b = torch.as_tensor(tensors[f"{name}.lora_B"], dtype=layer.lora_B.dtype)
            if a.shape != layer.lora_A.shape or b.shape != layer.lora_B.shape:
                raise ConfigError(f"the adapter in {folder} has {name} of shapes "
                                  f"{tuple(a.shape)}, {tuple(b.shape)}", "Use the adapter "
                                  "of a run on this base model")
            layer.lora_A.copy_(a)
            layer.lora_B.copy_(b * (config.scaling_of(name) / layer.scaling))
    return ours


def merge_lora(model: nn.Module) -> int:
    """Replace every ``LoRALinear`` by its merged ``nn.Linear``, in place; returns how many."""
    names = lora_modules(model)
    for name in names:
        parent, leaf = _parent(model, name)
        setattr(parent, leaf, getattr(parent, leaf).merged())
    return len(names)


def adapter_tensors(model: nn.Module) -> Dict[str, torch.Tensor]:
    """``{"<module>.lora_A": A, "<module>.lora_B": B}`` of every ``LoRALinear``: the adapter
    alone, as ``export.adapter.write_adapter`` stores it."""
    return {f"{name}.{key}": getattr(model.get_submodule(name), key).detach()
            for name in lora_modules(model) for key in ("lora_A", "lora_B")}


def lora_modules(model: nn.Module) -> List[str]:
    return [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]


def unfreeze(model: nn.Module, substrings: Sequence[str]) -> int:
    """Make the parameters whose names contain any of ``substrings`` trainable again
    (layers the base checkpoint did not provide, such as new cross-attention)."""
    n = 0
    for name, p in model.named_parameters():
        if any(s in name for s in substrings) and not name.endswith((".lora_A", ".lora_B")):
            p.requires_grad_(True)
            n += 1
    return n


def _parent(model: nn.Module, name: str):
    parent_name, _, leaf = name.rpartition(".")
    return (model.get_submodule(parent_name) if parent_name else model), leaf
