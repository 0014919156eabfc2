"""LoRA adapter folders: what ``training`` writes and ``export`` merges into a base model.

A LoRA adapter (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") is
a few low-rank matrices per adapted linear layer; shipping it instead of a fine-tuned
model costs megabytes instead of hundreds of them. Two layouts are read, told apart by
the schema of ``adapter_config.json``:

PEFT's (Hugging Face ``peft``, the layout adapters are shared in; what training writes, so
``PeftModel.from_pretrained(base, folder)`` loads our adapters):

    adapter_model.safetensors  "base_model.model.<module>.lora_A.weight" (r, in) and
                               "base_model.model.<module>.lora_B.weight" (out, r)
    adapter_config.json        {"peft_type": "LORA", "r": 16, "lora_alpha": 32,
                                "target_modules": [...], "base_model_name_or_path": ...,
                                "use_rslora": false, "rank_pattern": {}, ...}

ours before (``condense-lora`` version 1, as the adapters in ``assets/`` are stored):

    adapter.safetensors        "<module>.lora_A" (r, in) and "<module>.lora_B" (out, r)
    adapter_config.json        {"format": "condense-lora", "format_version": 1, "rank": 16,
                                "alpha": 32.0, "modules": [...], "base": ..., "notes": {}}

Merging folds each update into its layer, ``W' = W + s B A`` with ``s = alpha / r``, as
``training.lora.LoRALinear.merged`` and peft's ``merge_and_unload`` do; PEFT's
``rank_pattern``/``alpha_pattern`` give some modules their own r and alpha, rank-stabilized
LoRA (``use_rslora``, Kalajdzievski 2023) scales by ``alpha / sqrt(r)``, and a layer that
stores its weight (in, out) (GPT-2's ``Conv1D``) gets ``(B A)^T``: peft decides that by
the layer's type whatever ``fan_in_fan_out`` says, and so do we. The merged model has the
base architecture and exports like any other. ``merge_weights`` does the same on numpy
arrays (a GGUF Llama's weights, ``export/gguf_llama.py``): reading and merging an adapter
needs no torch, so the light install prepares the built-in models with their adapters.

Refused, naming the file and the way out (merge with peft, export the merged model):
other ``peft_type``s, LoRA variants whose update is not ``s B A`` (DoRA, QALoRA, aLoRA,
...), adapters whose initialization changed the base weights (PiSSA, OLoRA, CorDA, LoftQ
unless saved converted), full weights (``modules_to_save``, trained biases, trainable
tokens), LoRA on embeddings or convolutions, and pickled weights (``adapter_model.bin``):
an adapter is data, not code.
"""
from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from .errors import ExportError

WEIGHTS_FILE = "adapter_model.safetensors"  # PEFT's name: what we write
CONFIG_FILE = "adapter_config.json"
LEGACY_WEIGHTS_FILE = "adapter.safetensors"  # condense-lora version 1
PICKLE_FILE = "adapter_model.bin"  # PEFT's older default: refused
ADAPTER_FILES = (WEIGHTS_FILE, CONFIG_FILE, LEGACY_WEIGHTS_FILE, PICKLE_FILE)
FORMAT = "condense-lora"
FORMAT_VERSION = 1
PEFT_PREFIX = "base_model.model."
_PEFT_KEY = re.compile(r"(?P<module>.+)\.lora_(?P<ab>[AB])\.weight")
# init_lora_weights values that leave the base weights alone (the others, PiSSA, OLoRA,
# CorDA, LoftQ, LoRA-GA, rewrite them, and the adapter only fits the rewritten base).
_PLAIN_INITS = (True, False, "gaussian", "eva", "orthogonal", "mica")
# *_config keys that only steer initialization (checked through init_lora_weights).
_INIT_CONFIGS = ("eva_config", "corda_config", "loftq_config", "lora_ga_config")
_WAY_OUT = ("merge it with peft instead (PeftModel.from_pretrained(base, folder)"
            ".merge_and_unload().save_pretrained(DIR)) and export DIR")
_MERGE_WITH_PEFT = _WAY_OUT[0].upper() + _WAY_OUT[1:]


@dataclass(frozen=True)
class AdapterConfig:
    """``base`` names the model the adapter was trained on (a file or folder name, or a hub
    id), so a merge into another model can be refused; ``notes`` is free text (data,
    steps). ``ranks``/``alphas``: the modules whose r or alpha differ from ``rank``/
    ``alpha`` (PEFT's patterns, resolved per module). ``task_type`` is PEFT's
    ("CAUSAL_LM", "SEQ_2_SEQ_LM"); ``dropout`` only matters to whoever trains on."""

    rank: int
    alpha: float
    modules: Tuple[str, ...]
    base: str
    notes: Dict[str, object] = field(default_factory=dict)
    use_rslora: bool = False
    ranks: Dict[str, int] = field(default_factory=dict)
    alphas: Dict[str, float] = field(default_factory=dict)
    dropout: float = 0.0
    task_type: Optional[str] = None

    @property
    def scaling(self) -> float:
        """The scale of a module without its own r or alpha."""
        return self._scale(self.rank, self.alpha)

    def rank_of(self, module: str) -> int:
        return self.ranks.get(module, self.rank)

    def scaling_of(self, module: str) -> float:
        return self._scale(self.rank_of(module), self.alphas.get(module, self.alpha))

    def _scale(self, rank: int, alpha: float) -> float:
        return alpha / math.sqrt(rank) if self.use_rslora else alpha / rank


# -- writing ---------------------------------------------------------------------------

def write_adapter(folder: Path, tensors: Mapping[str, "object"], config: AdapterConfig) -> Path:
    """Write ``tensors`` ("<module>.lora_A"/"lora_B" for each of ``config.modules``, torch
    tensors or numpy arrays) and the config into ``folder`` (created), in PEFT's layout;
    ``notes`` go in the safetensors header, where peft does not look."""
    import torch
    from safetensors.torch import save_file

    folder = Path(folder)
    expected = {f"{m}.{k}" for m in config.modules for k in ("lora_A", "lora_B")}
    if set(tensors) != expected:
        missing, extra = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
        raise ExportError(str(folder), f"the adapter tensors do not match its modules "
                          f"(missing {missing[:3]}, extra {extra[:3]})",
                          "Pass one lora_A and one lora_B per adapted module")
    folder.mkdir(parents=True, exist_ok=True)
    def as_torch(v) -> "torch.Tensor":
        return torch.from_numpy(np.array(v, np.float32)) if isinstance(v, np.ndarray) else v

    save_file({f"{PEFT_PREFIX}{k}.weight": as_torch(v).detach().float().contiguous().cpu()
               for k, v in sorted(tensors.items())}, str(folder / WEIGHTS_FILE),
              metadata={"format": "pt", "condense_notes": json.dumps(config.notes)})
    (folder / LEGACY_WEIGHTS_FILE).unlink(missing_ok=True)  # an older run's, now stale
    meta = {
        "peft_type": "LORA", "task_type": config.task_type,
        "base_model_name_or_path": config.base, "revision": None,
        "r": config.rank, "lora_alpha": config.alpha, "lora_dropout": config.dropout,
        # full module names: peft matches a list entry by equality or ".<entry>" suffix
        "target_modules": list(config.modules),
        "rank_pattern": dict(config.ranks), "alpha_pattern": dict(config.alphas),
        "use_rslora": config.use_rslora, "fan_in_fan_out": False, "bias": "none",
        "use_dora": False, "modules_to_save": None, "init_lora_weights": True,
        "inference_mode": True, "layers_to_transform": None, "layers_pattern": None,
    }
    (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return folder


# -- reading ---------------------------------------------------------------------------

def read_adapter(folder: Path) -> Tuple[AdapterConfig, Dict[str, "object"]]:
    """The config and tensors ("<module>.lora_A" (r, in), "<module>.lora_B" (out, r), fp32
    numpy arrays) of an adapter folder in either layout; ``ExportError`` naming the file
    when one is missing, unsupported or inconsistent."""
    folder = Path(folder)
    cfg_path = folder / CONFIG_FILE
    if not cfg_path.is_file():
        raise ExportError(str(folder), f"not an adapter folder (needs {CONFIG_FILE} and "
                          f"{WEIGHTS_FILE})", "Pass the adapter/ folder a LoRA training run "
                          "wrote, or one peft's save_pretrained wrote")
    try:
        meta = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ExportError(str(cfg_path), f"unreadable adapter config ({e})",
                          "Restore the file its training run wrote") from e
    if isinstance(meta, dict) and meta.get("format") == FORMAT:
        config, tensors = _read_legacy(folder, meta)
    elif isinstance(meta, dict) and "peft_type" in meta:
        config, tensors = _read_peft(folder, meta)
    else:
        raise ExportError(str(cfg_path), "unreadable adapter config (neither PEFT's schema, "
                          f"with peft_type, nor {FORMAT} version {FORMAT_VERSION})",
                          "Pass a folder peft's save_pretrained or a LoRA training run wrote")
    for m in config.modules:
        a, b, r = tensors.get(f"{m}.lora_A"), tensors.get(f"{m}.lora_B"), config.rank_of(m)
        if a is None or b is None or a.ndim != 2 or b.ndim != 2 or a.shape[0] != r \
                or b.shape[1] != r:
            raise ExportError(str(folder), f"module {m} has no rank-{r} lora_A/lora_B",
                              f"The weights and {CONFIG_FILE} come from different runs")
    return config, tensors


def _read_legacy(folder: Path, meta: dict) -> Tuple[AdapterConfig, Dict[str, "object"]]:
    cfg_path, weights = folder / CONFIG_FILE, folder / LEGACY_WEIGHTS_FILE
    try:
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format {FORMAT} version {meta.get('format_version')!r}")
        config = AdapterConfig(rank=int(meta["rank"]), alpha=float(meta["alpha"]),
                               modules=tuple(meta["modules"]), base=str(meta["base"]),
                               notes=dict(meta.get("notes", {})))
    except (ValueError, KeyError, TypeError) as e:
        raise ExportError(str(cfg_path), f"unreadable adapter config ({e})",
                          f"Expected {FORMAT} version {FORMAT_VERSION}, or PEFT's schema") from e
    if not weights.is_file():
        raise ExportError(str(folder), f"not an adapter folder ({FORMAT} needs "
                          f"{LEGACY_WEIGHTS_FILE} beside {CONFIG_FILE})",
                          "Restore the weights file of the training run")
    return config, load_safetensors(weights)[0]


def _read_peft(folder: Path, meta: dict) -> Tuple[AdapterConfig, Dict[str, "object"]]:
    cfg_path, weights = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    _refuse_unsupported(cfg_path, meta)
    if not weights.is_file():
        if (folder / PICKLE_FILE).is_file():
            raise ExportError(str(folder / PICKLE_FILE), "adapter weights in pickle format "
                              "are not loaded (unpickling can run code)",
                              "Convert them to safetensors: PeftModel.from_pretrained(base, "
                              "folder).save_pretrained(folder, safe_serialization=True), or "
                              f"safetensors.torch.save_file(torch.load(f, weights_only=True), "
                              f"'{WEIGHTS_FILE}') where you trust the file")
        raise ExportError(str(folder), f"not an adapter folder (needs {WEIGHTS_FILE} beside "
                          f"{CONFIG_FILE})", "Restore the weights file peft saved")
    raw, header = load_safetensors(weights)
    tensors: Dict[str, object] = {}
    for key, value in raw.items():
        found = _PEFT_KEY.fullmatch(key[len(PEFT_PREFIX):] if key.startswith(PEFT_PREFIX) else key)
        if found is None or value.ndim != 2:
            raise ExportError(str(weights), f"tensor {key} is not the A or B matrix of a LoRA "
                              "on a linear layer (DoRA magnitudes, modules_to_save, trained "
                              "biases, embedding or convolution LoRA do not merge here)",
                              _MERGE_WITH_PEFT)
        tensors[f"{found['module']}.lora_{found['ab']}"] = value
    names = {k.rsplit(".", 1)[0] for k in tensors}
    listed = meta.get("target_modules")
    if isinstance(listed, list) and names <= set(listed):
        modules = tuple(m for m in listed if m in names)  # ours: the order it was written in
    else:
        modules = tuple(sorted(names, key=_natural))
    try:
        r, alpha = int(meta["r"]), float(meta["lora_alpha"])
        rank_pattern = meta.get("rank_pattern") or {}
        alpha_pattern = meta.get("alpha_pattern") or {}
        ranks = {m: int(v) for m in modules if (v := _pattern_value(rank_pattern, m, r)) != r}
        alphas = {m: float(v) for m in modules
                  if (v := _pattern_value(alpha_pattern, m, alpha)) != alpha}
        notes = json.loads(header.get("condense_notes", "{}"))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ExportError(str(cfg_path), f"unreadable adapter config ({e!r})",
                          "Restore the file peft's save_pretrained wrote") from e
    if not modules:
        raise ExportError(str(weights), "the adapter holds no LoRA matrices",
                          "Pass the folder of a trained adapter")
    return AdapterConfig(rank=r, alpha=alpha, modules=modules,
                         base=str(meta.get("base_model_name_or_path") or ""), notes=notes,
                         use_rslora=bool(meta.get("use_rslora")), ranks=ranks, alphas=alphas,
                         dropout=float(meta.get("lora_dropout") or 0.0),
                         task_type=meta.get("task_type")), tensors


def _refuse_unsupported(cfg_path: Path, meta: dict) -> None:
    """Everything in a PEFT config that makes the update something other than
    ``s B A`` on the listed linear layers."""
    def refuse(problem: str, fix: str = "") -> None:
        way_out = f"{fix}, or {_WAY_OUT}" if fix else _MERGE_WITH_PEFT
        raise ExportError(str(cfg_path), problem, way_out)

    kind = meta.get("peft_type")
    if kind != "LORA":
        refuse(f"peft_type {kind!r}: only LoRA adapters are merged here")
    if meta.get("use_dora"):
        refuse("a DoRA adapter (use_dora): its update rescales each weight column, it is "
               "not W + s B A")
    for key, value in sorted(meta.items()):
        variant = (key.startswith("use_") and key != "use_rslora") or (
            key.endswith("_config") and key not in _INIT_CONFIGS)
        if variant and value:
            refuse(f"a LoRA variant ({key} = {value!r}) whose update is not W + s B A")
    for key in ("alora_invocation_tokens", "layer_replication", "target_parameters",
                "trainable_token_indices", "modules_to_save", "lora_bias"):
        if meta.get(key):
            refuse(f"{key} = {meta[key]!r}: more than LoRA matrices on linear layers",
                   f"Train without {key}")
    if meta.get("bias", "none") != "none":
        refuse(f"bias = {meta['bias']!r}: the adapter carries trained biases",
               "Train with bias='none'")
    init = meta.get("init_lora_weights", True)
    if init not in _PLAIN_INITS:
        refuse(f"init_lora_weights = {init!r} rewrote the base weights when training began, "
               "so the adapter fits only that rewritten base",
               "Save it converted to plain LoRA (save_pretrained(..., "
               "path_initial_model_for_weight_conversion=...))")


def _pattern_value(patterns: Mapping[str, object], module: str, default):
    """peft's ``get_pattern_key``: the first pattern that matches the end of the module's
    name at a dot boundary."""
    for pattern, value in patterns.items():
        if re.match(rf"(.*\.)?({pattern})$", module):
            return value
    return default


# safetensors dtype -> (numpy dtype of the stored bits, bits shifted into fp32 or None)
_DTYPES = {"F32": ("<f4", None), "F16": ("<f2", None), "F64": ("<f8", None), "BF16": ("<u2", 16)}


def load_safetensors(path: Path) -> Tuple[Dict[str, "object"], Dict[str, str]]:
    """(name -> fp32 numpy array, the header's ``__metadata__``) of a safetensors file: an
    8-byte little-endian header size, a JSON header (dtype, shape, byte offsets per
    tensor), then the raw data (huggingface/safetensors, "Format").

    Our own reader: ``safetensors``' numpy loader refuses bfloat16 (numpy has no such
    type), a common adapter dtype, and its torch loader needs torch, which preparing the
    built-in models does without. A bfloat16 is the top half of an fp32, so it is widened
    exactly."""

    data = Path(path).read_bytes()
    try:
        (size,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + size])
        meta = header.pop("__metadata__", None) or {}
        tensors = {}
        for name, spec in header.items():
            if spec["dtype"] not in _DTYPES:
                raise ValueError(f"tensor {name} has dtype {spec['dtype']}, not a float")
            stored, shift = _DTYPES[spec["dtype"]]
            begin, end = spec["data_offsets"]
            count = (end - begin) // np.dtype(stored).itemsize
            raw = np.frombuffer(data, dtype=stored, count=count, offset=8 + size + begin)
            value = (raw.astype(np.uint32) << shift).view(np.float32) if shift else raw
            tensors[name] = value.astype(np.float32).reshape(spec["shape"])
    except (ValueError, KeyError, TypeError, struct.error) as e:
        raise ExportError(str(path), f"not a safetensors file of float tensors ({e})",
                          "Restore the weights file its training run wrote") from e
    return tensors, meta


def _natural(name: str) -> list:
    # "layers.10" after "layers.9"
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name)]


# -- merging ---------------------------------------------------------------------------

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
        layer = _layer(model, name, folder)
        a, b = tensors[f"{name}.lora_A"], tensors[f"{name}.lora_B"]  # (r, in), (out, r)
        transposed = type(layer).__name__ == "Conv1D"  # transformers' GPT-2 layer: (in, out)
        shape = (a.shape[1], b.shape[0]) if transposed else (b.shape[0], a.shape[1])
        weight = getattr(layer, "weight", None)
        if weight is None or tuple(weight.shape) != shape:
            raise ExportError(str(folder), f"layer {name} does not have the adapter's shape "
                              f"({b.shape[0]} x {a.shape[1]})",
                              "Merge the adapter into the model it was trained on")
        with torch.no_grad():
            delta = (torch.from_numpy(b) @ torch.from_numpy(a)) * config.scaling_of(name)
            weight.add_((delta.T if transposed else delta).to(weight.dtype))
    return list(config.modules)


def merge_weights(weights: Dict[str, "object"], folder: Path, *, base: str | None = None
                  ) -> List[str]:
    """``merge_adapter`` on numpy weights: ``weights`` maps a parameter name
    ("<module>.weight", (out, in) fp32) to its array, updated in place with the same fp32
    products as the torch merge. Returns the merged module names."""

    config, tensors = read_adapter(folder)
    if base is not None and base != config.base:
        raise ExportError(str(folder), f"the adapter was trained on {config.base}, not {base}",
                          f"Merge it into {config.base}")
    for name in config.modules:
        a, b = tensors[f"{name}.lora_A"], tensors[f"{name}.lora_B"]  # (r, in), (out, r)
        weight = weights.get(f"{name}.weight")
        if weight is None:
            raise ExportError(str(folder), f"the model has no layer {name}",
                              "Merge the adapter into the model it was trained on")
        if weight.shape != (b.shape[0], a.shape[1]):
            raise ExportError(str(folder), f"layer {name} does not have the adapter's shape "
                              f"({b.shape[0]} x {a.shape[1]})",
                              "Merge the adapter into the model it was trained on")
        weight += (b @ a) * np.float32(config.scaling_of(name))
    return list(config.modules)


def _layer(model, name: str, folder: Path):
    """``name`` in ``model``, or in its base model (an adapter trained on ``LlamaModel``
    merged into ``LlamaForCausalLM``)."""
    prefix = getattr(model, "base_model_prefix", "")
    for candidate in (name, f"{prefix}.{name}" if prefix else None):
        if candidate is None:
            continue
        try:
            return model.get_submodule(candidate)
        except AttributeError:
            pass
    raise ExportError(str(folder), f"the model has no layer {name}",
                      "Merge the adapter into the model it was trained on")


def onnx_residuals(folder: Path) -> Dict[str, Tuple["object", "object"]]:
    """The adapter's updates as factors of ONNX MatMul weights: for each module (whose
    exported MatMul weight is input x output), ``(U, V)`` with ``U @ V == s (B A).T``,
    numpy fp32. ``export/q4.py`` takes them off the merged weight to find the base's 4-bit
    grid again, and keeps them as a low-rank side product."""

    config, tensors = read_adapter(folder)
    out = {}
    for name in config.modules:
        a = tensors[f"{name}.lora_A"]  # (r, in)
        b = tensors[f"{name}.lora_B"]  # (out, r)
        out[name] = (np.ascontiguousarray(a.T),
                     np.ascontiguousarray(b.T * config.scaling_of(name)))
    return out
