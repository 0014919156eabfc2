"""The models on this machine, each described from its own files: the built-in ones
(prepared or not) and the exported folders found under a models folder, so the app can
offer them by name instead of asking for a path, and name the model a page uses by what it
is ("SmolLM2-135M-Instruct + BBC news adapter · q4 · built-in") instead of by a cache
folder such as ``smollm2-135m-news-3f2a-q4-d659ec``.

One reading of a folder (``describe``), never guessed from its name:

* ``condense_manifest.json`` (written by ``python -m export``, see ``export/manifest.py``):
  ``task`` says encoder-decoder (``seq2seq``) or decoder-only (``causal-lm``),
  ``quantization`` the precision (null: fp32), ``source`` what it was exported from (a hub
  id, a checkpoint folder or a GGUF file, with any merged adapter), ``architecture`` the
  model class;
* without a manifest, ``config.json``'s ``_name_or_path`` and ``architectures``, the graph
  files for the layout (Optimum's names), and an unknown precision;
* a built-in model (``runtime.builtin``) is recognised by its prepared folder, at any
  precision, and named by its title;
* a decoder-only folder with a summary prompt format (``condense_summary.json``,
  ``summarizer/abstractive/decoder_only.py``) is a summarizer; any other decoder-only
  folder is a generator.

Reading is cheap (two JSON files and a directory listing per folder): the app lists models
on every render of its Settings page. It never raises: a damaged file gives less detail.
Nothing here loads a model.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from .builtin import BUILTIN_MODELS, PRECISIONS, BuiltinModel, is_ready
from .errors import CondenseError

MANIFEST = "condense_manifest.json"  # export/manifest.py MANIFEST_NAME (export is not imported)
SUMMARY_PROMPT = "condense_summary.json"  # summarizer/abstractive/decoder_only.py FORMAT_FILE
CONFIG = "config.json"
# export.quantize.METHODS, read back: the manifest's method -> the name users choose it by
QUANTIZATION_NAMES = {"dynamic-int8": "int8", "weight-only-4bit-block32": "q4"}
FP32, UNKNOWN = "fp32", "unknown"
SUMMARIZER, GENERATOR = "summarizer", "generator"
ENCODER_DECODER, DECODER_ONLY = "encoder-decoder", "decoder-only"
TASKS = {"seq2seq": ENCODER_DECODER, "causal-lm": DECODER_ONLY}  # the manifest's task
BUILT_IN, OWN = "built-in", "your folder"
# The built-in models' roles, by their key in runtime.builtin.BUILTIN_MODELS.
BUILTIN_ROLES = {"default": GENERATOR, "news": GENERATOR, "summary": SUMMARIZER}
MAX_FOLDERS = 200  # a models folder is scanned two levels deep, up to this many models
# A GGUF file's name ends in its quantization ("SmolLM2-135M-Instruct.Q4_1"): the export's
# precision is stated apart, so the tag is dropped from the name.
_GGUF_TAG = re.compile(r"[.-](q\d\w*|iq\d\w*|f16|f32|bf16)$", re.IGNORECASE)
# A built-in model's prepared folder (resolved) -> its key, the model, the folder's precision
Known = Dict[Path, Tuple[str, BuiltinModel, str]]


@dataclass(frozen=True)
class ModelInfo:
    """One model: where it is and what it is. ``title`` is the name a user knows it by
    (a built-in model's title, else its source's name, else the folder's); ``builtin`` is
    its key in ``BUILTIN_MODELS`` (None for a folder of the user's own); ``ready`` is False
    only for a built-in model not prepared yet (then size and architecture are what the
    preparation will give)."""

    folder: Path
    title: str  # "SmolLM2-135M-Instruct + BBC news adapter", "facebook/bart-large-cnn"
    role: str  # SUMMARIZER or GENERATOR
    architecture: str  # ENCODER_DECODER or DECODER_ONLY
    precision: str  # fp32, int8, q4, or UNKNOWN
    size_bytes: int
    model_class: str = ""  # "LlamaForCausalLM"; "" when the folder does not say
    builtin: Optional[str] = None
    ready: bool = True

    @property
    def origin(self) -> str:
        return BUILT_IN if self.builtin is not None else OWN

    def describe(self) -> str:
        """``"summarizer · decoder-only · q4 · 231 MB"`` (``"not prepared"`` for size)."""
        size = human_size(self.size_bytes) if self.ready else "not prepared"
        return f"{self.role} · {self.architecture} · {self.precision} · {size}"

    def label(self) -> str:
        """The model in one line: title, model class (own folders: a built-in model's title
        says it), precision (when known), origin: ``"gpt2 · GPT2LMHeadModel · fp32 · your
        folder"``."""
        parts = [self.title]
        if self.model_class and self.builtin is None:
            parts.append(self.model_class)
        if self.precision != UNKNOWN:
            parts.append(self.precision)
        return " · ".join(parts + [self.origin])


def human_size(n: int) -> str:
    """Bytes in decimal units, as a file manager shows them: ``"231 MB"``, ``"1.2 GB"``."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{n} B"


# -- one folder ------------------------------------------------------------------------
def describe(folder: Path, *, builtins: Optional[Mapping[str, BuiltinModel]] = None
             ) -> Optional[ModelInfo]:
    """What ``folder`` holds, or None when it holds no ONNX graph (not a model folder).
    ``builtins``: the built-in models to recognise it among (default ``BUILTIN_MODELS``)."""
    return _read(Path(folder), _known(BUILTIN_MODELS if builtins is None else builtins))


def _read(folder: Path, known: Known) -> Optional[ModelInfo]:
    try:
        graphs = {p.name for p in folder.glob("*.onnx")}
    except OSError:
        return None
    if not graphs:
        return None
    manifest, config = _read_json(folder / MANIFEST), _read_json(folder / CONFIG)
    # another exporter's folder (no manifest): Optimum's file names tell the layout
    architecture = TASKS.get(str(manifest.get("task")),
                             ENCODER_DECODER if "encoder_model.onnx" in graphs else DECODER_ONLY)
    summarizer = architecture == ENCODER_DECODER or (folder / SUMMARY_PROMPT).is_file()
    role = SUMMARIZER if summarizer else GENERATOR
    precision = _precision(manifest)
    model_class = str(manifest.get("architecture") or _first(config.get("architectures")))
    builtin = known.get(_resolved(folder))
    if builtin is not None:
        key, model, folder_precision = builtin
        return ModelInfo(folder, model.title, BUILTIN_ROLES.get(key, role), architecture,
                         folder_precision if precision == UNKNOWN else precision,
                         _size(folder), model_class, builtin=key)
    title = source_name(str(manifest.get("source") or config.get("_name_or_path") or ""))
    return ModelInfo(folder, title or folder.name, role, architecture, precision,
                     _size(folder), model_class)


def source_name(source: str) -> str:
    """The name a manifest's ``source`` stands for: a hub id as it is, a local checkpoint
    or GGUF file by its last part (a server's folders say nothing to the reader; a GGUF
    file's quantization tag is dropped), and a merged adapter after a ``+``."""
    base, _, adapter = source.partition(" + adapter ")
    name = _local_name(base.strip())
    if adapter.strip():
        name = f"{name} + adapter {_local_name(adapter.strip())}"
    return name


def _local_name(text: str) -> str:
    if not text:
        return ""
    is_path = text.startswith(("/", ".", "~")) or "\\" in text or text.count("/") > 1
    if not is_path:  # a hub id: "facebook/bart-large-cnn"
        return text
    path = Path(text.replace("\\", "/"))
    if path.suffix.lower() == ".gguf":
        return _GGUF_TAG.sub("", path.stem)
    return path.name


def _precision(manifest: dict) -> str:
    if "quantization" not in manifest:
        return UNKNOWN  # no manifest (or an unreadable one): nothing says
    quantization = manifest["quantization"]
    if not quantization:
        return FP32
    method = quantization.get("method") if isinstance(quantization, dict) else None
    return QUANTIZATION_NAMES.get(str(method), str(method)) if method else UNKNOWN


def _known(builtins: Mapping[str, BuiltinModel]) -> Known:
    """Every folder the built-in models are prepared into, one per precision."""
    known: Known = {}
    for key, model in builtins.items():
        for precision in PRECISIONS:
            try:
                known[model.folder(precision).resolve()] = (key, model, precision)
            except (CondenseError, OSError):  # its adapter is missing: no folder is it
                break
    return known


def _resolved(folder: Path) -> Optional[Path]:
    try:
        return folder.resolve()
    except (OSError, RuntimeError):  # a link loop: not a built-in model's folder
        return None


def _size(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:  # removed while we looked, or unreadable: not counted
            pass
    return total


def _first(values) -> str:
    return str(values[0]) if isinstance(values, list) and values else ""


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# -- the catalogue ---------------------------------------------------------------------
def builtin_models() -> List[ModelInfo]:
    """Every built-in model at its shipped precision, prepared or not (a model whose
    adapter is missing from ``assets/`` cannot be prepared and is left out)."""
    out: List[ModelInfo] = []
    for key, model in BUILTIN_MODELS.items():
        try:
            folder = model.folder()
        except CondenseError:
            continue
        info = None
        if is_ready(folder):
            info = _read(folder, {_resolved(folder): (key, model, model.precision)})
        out.append(info or ModelInfo(folder, model.title, BUILTIN_ROLES.get(key, GENERATOR),
                                     DECODER_ONLY, model.precision, 0, builtin=key, ready=False))
    return out


def builtin_ready(key: str) -> bool:
    """Whether the built-in model ``key`` is prepared (file checks only; no size, no
    manifest: cheap enough for every render)."""
    try:
        return is_ready(BUILTIN_MODELS[key].folder())
    except (CondenseError, KeyError):
        return False


def found_models(models_dir: str | Path) -> List[ModelInfo]:
    """The model folders under ``models_dir`` (itself, its subfolders and theirs; hidden
    folders, such as an export still being written, are skipped), by path. A built-in
    model's folder among them (another precision of it, say) is named as built-in."""
    root = Path(models_dir).expanduser()
    if not root.is_dir():
        return []
    candidates = [root]
    for child in _subfolders(root):
        candidates += [child, *_subfolders(child)]
    known = _known(BUILTIN_MODELS)
    out: List[ModelInfo] = []
    for folder in candidates:
        info = _read(folder, known)
        if info is not None:
            out.append(info)
            if len(out) == MAX_FOLDERS:
                break
    return out


def _subfolders(folder: Path) -> List[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def all_models(models_dir: str | Path = "") -> List[ModelInfo]:
    """The built-in models, then the folders under ``models_dir`` (none when it is empty).
    The first entry with a given ``builtin`` key is that built-in model's own listing."""
    found = found_models(models_dir) if str(models_dir).strip() else []
    builtin = builtin_models()
    seen = {_resolved(m.folder) for m in builtin}
    return builtin + [m for m in found if _resolved(m.folder) not in seen]


def by_role(models: List[ModelInfo], role: str) -> Dict[str, ModelInfo]:
    """The ready models of one role, by folder path (as a setting stores it)."""
    return {str(m.folder): m for m in models if m.role == role and m.ready}
